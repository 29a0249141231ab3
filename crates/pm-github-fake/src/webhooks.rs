//! Webhooks: repository hooks, the deliveries GitHub would send for every change, the
//! background task that POSTs them, and the faults tests inject into them.
//!
//! Every change (through the API, the control API or the library) that a hook subscribes to
//! becomes one queued delivery per hook, with its own `X-GitHub-Delivery` GUID. A single
//! dispatcher task (started with the server) sends the queue in order, one at a time, signing
//! each body with the hook's secret, and records the outcome. Faults act at the moment a
//! delivery leaves the queue: drop, duplicate, hold a batch and release it reordered, delay.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use ring::hmac;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::{FakeGithub, state::RepoId, util::encode_segment};

/// Deliveries waiting to be sent; beyond this, new ones are recorded as failed ("queue full")
/// instead of growing memory without bound.
pub(crate) const MAX_QUEUED: usize = 10_000;
/// Delivery records kept for inspection and redelivery (oldest forgotten first).
const MAX_RECORDS: usize = 20_000;
/// GitHub gives a receiver 10 s to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_HOOK_ID: u64 = 500_000_001;
const FIRST_DELIVERY_ID: u64 = 90_000_000_001;
pub(crate) const USER_AGENT: &str = "GitHub-Hookshot/fake";

/// The outcome of a hook's most recent delivery, as in the hook object's `last_response`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastResponse {
    pub code: Option<u16>,
    pub status: &'static str,
    pub message: Option<String>,
}

/// A repository hook. The secret never leaves the fake except as the HMAC key.
#[derive(Clone)]
pub(crate) struct HookRec {
    pub id: u64,
    pub repo: RepoId,
    pub active: bool,
    pub events: Vec<String>,
    pub url: String,
    pub content_type: String,
    pub insecure_ssl: String,
    pub secret: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_response: LastResponse,
}

impl std::fmt::Debug for HookRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookRec")
            .field("id", &self.id)
            .field("repo", &self.repo)
            .field("active", &self.active)
            .field("events", &self.events)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "********"))
            .finish_non_exhaustive()
    }
}

impl HookRec {
    pub(crate) fn subscribes(&self, event: &str) -> bool {
        self.active && self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// A hook added through [`FakeGithub::add_hook`] or `POST /_fake/repos/{o}/{r}/hooks`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    pub url: String,
    /// HMAC key for `X-Hub-Signature-256`; none → unsigned deliveries, as on GitHub.
    #[serde(default)]
    pub secret: Option<String>,
    /// Events to subscribe to (`issues`, `repository`, `*`); empty means `*`.
    #[serde(default)]
    pub events: Vec<String>,
    /// `json` (default) or `form`.
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl std::fmt::Debug for NewHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewHook")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "********"))
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl NewHook {
    /// A JSON hook for all events.
    pub fn new(url: impl Into<String>, secret: Option<&str>) -> Self {
        Self {
            url: url.into(),
            secret: secret.map(str::to_owned),
            ..Self::default()
        }
    }

    pub fn events<I, S>(mut self, events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events = events.into_iter().map(Into::into).collect();
        self
    }
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for the dispatcher (or for the server to start).
    Queued,
    /// Held back by the `reorder_batch` fault until the batch is full.
    Held,
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver answered non-2xx, could not be reached, or the hook was gone.
    Failed,
    /// Discarded by the `drop_next` / `drop_all` fault; nothing was sent.
    Dropped,
}

/// One delivery attempt, as listed by `GET /_fake/deliveries` and [`FakeGithub::deliveries`].
/// A duplicated delivery appears twice (the copy has `duplicate: true`); a redelivery is a new
/// record with the same `guid` and body and `redelivery: true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Record id (what `POST /_fake/deliveries/{id}/redeliver` takes).
    pub id: u64,
    /// The `X-GitHub-Delivery` header.
    pub guid: String,
    pub hook_id: u64,
    pub repository_id: u64,
    /// The `X-GitHub-Event` header: `issues`, `repository`, `ping`.
    pub event: String,
    /// The payload's `action` (`None` for `ping`).
    pub action: Option<String>,
    pub url: String,
    pub redelivery: bool,
    pub duplicate: bool,
    pub status: DeliveryStatus,
    pub status_code: Option<u16>,
    /// Time from sending the request to receiving the response status.
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// The JSON payload exactly as signed and sent (for `content_type: form`, the JSON inside
    /// the `payload=` form field).
    pub body: String,
}

impl Delivery {
    /// The payload parsed.
    pub fn payload(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// How a held batch is released.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReorderMode {
    #[default]
    Reverse,
    Shuffle,
}

/// Delivery faults (`POST /_fake/deliveries/faults`, [`FakeGithub::set_delivery_faults`]).
/// Setting merges: fields left `None` keep their current value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFaults {
    /// Drop the next N deliveries (recorded as `dropped`, nothing sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_next: Option<u64>,
    /// Drop every delivery until set to `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_all: Option<bool>,
    /// Send every delivery twice, with the same `X-GitHub-Delivery` and body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
    /// Hold deliveries until K are waiting, then send the K reordered (see `reorder`). 0 or 1
    /// turns it off and releases what is held (reordered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder_batch: Option<u64>,
    /// `reverse` (default) or `shuffle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<ReorderMode>,
    /// Wait this many milliseconds before sending each delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct FaultState {
    drop_next: u64,
    drop_all: bool,
    duplicate: bool,
    reorder_batch: u64,
    reorder: ReorderMode,
    delay_ms: u64,
}

/// A delivery waiting in the queue.
#[derive(Debug, Clone)]
struct Job {
    record: u64,
    hook_id: u64,
}

/// What the dispatcher does next, decided under the lock.
pub(crate) struct Outgoing {
    record: u64,
    guid: String,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    copies: u8,
    delay_ms: u64,
}

#[derive(Debug)]
pub(crate) struct WebhookState {
    pub hooks: BTreeMap<u64, HookRec>,
    next_hook: u64,
    next_record: u64,
    queue: VecDeque<Job>,
    held: Vec<Job>,
    ready: VecDeque<Job>,
    /// Deliveries the dispatcher took and has not finished (all copies of a duplicated
    /// one): not idle until they are recorded.
    in_flight: usize,
    records: VecDeque<Delivery>,
    faults: FaultState,
    shuffle_seed: u64,
    /// Wakes the dispatcher; kept across resets (the running task holds a clone).
    pub wake: Arc<Notify>,
    /// Base URL for API URLs inside payloads; set to the server's address on start.
    pub api_base: String,
    pub dispatcher_running: bool,
}

impl Default for WebhookState {
    fn default() -> Self {
        Self {
            hooks: BTreeMap::new(),
            next_hook: FIRST_HOOK_ID,
            next_record: FIRST_DELIVERY_ID,
            queue: VecDeque::new(),
            held: Vec::new(),
            ready: VecDeque::new(),
            in_flight: 0,
            records: VecDeque::new(),
            faults: FaultState::default(),
            shuffle_seed: 0x9E37_79B9_7F4A_7C15,
            wake: Arc::new(Notify::new()),
            api_base: "https://api.github.com".to_owned(),
            dispatcher_running: false,
        }
    }
}

fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body), GitHub's `X-Hub-Signature-256`.
pub fn signature_256(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!("sha256={}", hex(hmac::sign(&key, body).as_ref()))
}

/// `sha1=<hex>`, the legacy `X-Hub-Signature` GitHub still sends alongside.
fn signature_1(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    format!("sha1={}", hex(hmac::sign(&key, body).as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl WebhookState {
    /// Forgets hooks, queue, records and faults; keeps id counters, the wake handle and the
    /// payload base URL.
    pub(crate) fn reset(&mut self) {
        *self = Self {
            next_hook: self.next_hook,
            next_record: self.next_record,
            wake: self.wake.clone(),
            api_base: std::mem::take(&mut self.api_base),
            dispatcher_running: self.dispatcher_running,
            ..Self::default()
        };
    }

    pub(crate) fn next_hook_id(&mut self) -> u64 {
        let id = self.next_hook;
        self.next_hook += 1;
        id
    }

    /// Whether any hook of the repository would receive `event` (so payloads are only built
    /// when someone listens).
    pub(crate) fn wants(&self, repo: RepoId, event: &str) -> bool {
        self.hooks
            .values()
            .any(|h| h.repo == repo && h.subscribes(event))
    }

    pub(crate) fn hooks_of(&self, repo: RepoId) -> impl Iterator<Item = &HookRec> {
        self.hooks.values().filter(move |h| h.repo == repo)
    }

    /// Queues one delivery of `body` per subscribed hook of `repo`.
    pub(crate) fn enqueue(&mut self, repo: RepoId, event: &str, action: Option<&str>, body: &str) {
        let targets: Vec<u64> = self
            .hooks_of(repo)
            .filter(|h| h.subscribes(event))
            .map(|h| h.id)
            .collect();
        for hook in targets {
            self.enqueue_to(hook, event, action, body, new_guid(), false);
        }
    }

    /// Queues one delivery to one hook (pings, redeliveries).
    pub(crate) fn enqueue_to(
        &mut self,
        hook_id: u64,
        event: &str,
        action: Option<&str>,
        body: &str,
        guid: String,
        redelivery: bool,
    ) -> Option<u64> {
        let (repo, url) = {
            let hook = self.hooks.get(&hook_id)?;
            (hook.repo, hook.url.clone())
        };
        let id = self.next_record;
        self.next_record += 1;
        let full = self.queue.len() >= MAX_QUEUED;
        self.push_record(Delivery {
            id,
            guid,
            hook_id,
            repository_id: repo,
            event: event.to_owned(),
            action: action.map(str::to_owned),
            url,
            redelivery,
            duplicate: false,
            status: if full {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::Queued
            },
            status_code: None,
            duration_ms: None,
            error: full.then(|| "delivery queue full".to_owned()),
            queued_at: OffsetDateTime::now_utc(),
            delivered_at: None,
            body: body.to_owned(),
        });
        if !full {
            self.queue.push_back(Job {
                record: id,
                hook_id,
            });
            self.wake.notify_one();
        }
        Some(id)
    }

    fn push_record(&mut self, d: Delivery) {
        if self.records.len() >= MAX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(d);
    }

    fn record_mut(&mut self, id: u64) -> Option<&mut Delivery> {
        // Records are appended in id order.
        let idx = self.records.binary_search_by_key(&id, |d| d.id).ok()?;
        self.records.get_mut(idx)
    }

    pub(crate) fn record(&self, id: u64) -> Option<&Delivery> {
        let idx = self.records.binary_search_by_key(&id, |d| d.id).ok()?;
        self.records.get(idx)
    }

    pub(crate) fn records(&self) -> Vec<Delivery> {
        self.records.iter().cloned().collect()
    }

    /// Queues a redelivery of record `id`: same GUID, same body, `redelivery: true`.
    pub(crate) fn redeliver(&mut self, id: u64) -> Option<u64> {
        let d = self.record(id)?.clone();
        self.enqueue_to(
            d.hook_id,
            &d.event,
            d.action.as_deref(),
            &d.body,
            d.guid,
            true,
        )
    }

    // ----- faults ---------------------------------------------------------------------------

    pub(crate) fn apply_faults(&mut self, f: DeliveryFaults) {
        if let Some(n) = f.drop_next {
            self.faults.drop_next = n;
        }
        if let Some(b) = f.drop_all {
            self.faults.drop_all = b;
        }
        if let Some(b) = f.duplicate {
            self.faults.duplicate = b;
        }
        if let Some(mode) = f.reorder {
            self.faults.reorder = mode;
        }
        if let Some(ms) = f.delay_ms {
            self.faults.delay_ms = ms;
        }
        if let Some(k) = f.reorder_batch {
            self.faults.reorder_batch = k;
            // Off (0/1) releases what is held; a smaller batch may already be full.
            if k <= 1 || self.held.len() as u64 >= k {
                self.release_held();
            }
        }
        self.wake.notify_one();
    }

    pub(crate) fn clear_faults(&mut self) {
        self.faults = FaultState::default();
        self.release_held();
        self.wake.notify_one();
    }

    pub(crate) fn faults(&self) -> DeliveryFaults {
        let f = &self.faults;
        DeliveryFaults {
            drop_next: (f.drop_next > 0).then_some(f.drop_next),
            drop_all: f.drop_all.then_some(true),
            duplicate: f.duplicate.then_some(true),
            reorder_batch: (f.reorder_batch > 1).then_some(f.reorder_batch),
            reorder: (f.reorder_batch > 1).then_some(f.reorder),
            delay_ms: (f.delay_ms > 0).then_some(f.delay_ms),
        }
    }

    /// Moves the held batch to the front of what is sent next, reversed or shuffled.
    fn release_held(&mut self) {
        let mut batch = std::mem::take(&mut self.held);
        match self.faults.reorder {
            ReorderMode::Reverse => batch.reverse(),
            ReorderMode::Shuffle => {
                // Fisher-Yates with a xorshift generator: no cryptographic need here. A
                // shuffle that happens to keep the order is re-rolled (batches of 2+).
                let original: Vec<u64> = batch.iter().map(|j| j.record).collect();
                loop {
                    for i in (1..batch.len()).rev() {
                        let mut x = self.shuffle_seed;
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        self.shuffle_seed = x;
                        let j = usize::try_from(x % (i as u64 + 1)).unwrap_or(0);
                        batch.swap(i, j);
                    }
                    if batch.len() < 2
                        || batch.iter().map(|j| j.record).ne(original.iter().copied())
                    {
                        break;
                    }
                }
            }
        }
        for job in batch.into_iter().rev() {
            if let Some(r) = self.record_mut(job.record) {
                r.status = DeliveryStatus::Queued;
            }
            self.ready.push_front(job);
        }
    }

    /// The next delivery to send, with faults applied; `None` when there is nothing to send
    /// now (the queue is empty or the rest is held).
    pub(crate) fn next_send(&mut self) -> Option<Outgoing> {
        loop {
            let job = match self.ready.pop_front() {
                Some(job) => job,
                None => {
                    let job = self.queue.pop_front()?;
                    if self.faults.reorder_batch > 1 {
                        if let Some(r) = self.record_mut(job.record) {
                            r.status = DeliveryStatus::Held;
                        }
                        self.held.push(job);
                        if self.held.len() as u64 >= self.faults.reorder_batch {
                            self.release_held();
                        }
                        continue;
                    }
                    job
                }
            };
            if self.faults.drop_all || self.faults.drop_next > 0 {
                self.faults.drop_next = self.faults.drop_next.saturating_sub(1);
                if let Some(r) = self.record_mut(job.record) {
                    r.status = DeliveryStatus::Dropped;
                }
                continue;
            }
            let Some(hook) = self.hooks.get(&job.hook_id).cloned() else {
                self.fail(job.record, "hook no longer exists");
                continue;
            };
            let Some(rec) = self.record(job.record).cloned() else {
                continue;
            };
            self.in_flight += 1;
            return Some(prepare(&hook, &rec, &self.faults));
        }
    }

    fn fail(&mut self, record: u64, error: &str) {
        if let Some(r) = self.record_mut(record) {
            r.status = DeliveryStatus::Failed;
            r.error = Some(error.to_owned());
        }
    }

    /// Records the outcome of one attempt; `copy` attempts get their own record.
    fn finish(&mut self, record: u64, copy: bool, outcome: &Outcome) {
        let id = if copy {
            let Some(mut dup) = self.record(record).cloned() else {
                return;
            };
            dup.id = self.next_record;
            self.next_record += 1;
            dup.duplicate = true;
            let id = dup.id;
            self.push_record(dup);
            id
        } else {
            record
        };
        let Some(r) = self.record_mut(id) else { return };
        r.delivered_at = Some(OffsetDateTime::now_utc());
        r.duration_ms = Some(outcome.duration_ms);
        match &outcome.result {
            Ok(code) => {
                r.status_code = Some(*code);
                r.status = if (200..300).contains(code) {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Failed
                };
                r.error = None;
            }
            Err(e) => {
                r.status = DeliveryStatus::Failed;
                r.error = Some(e.clone());
            }
        }
        let hook_id = r.hook_id;
        if let Some(h) = self.hooks.get_mut(&hook_id) {
            h.last_response = match &outcome.result {
                Ok(code) if (200..300).contains(code) => LastResponse {
                    code: Some(*code),
                    status: "active",
                    message: Some("OK".to_owned()),
                },
                Ok(code) => LastResponse {
                    code: Some(*code),
                    status: "active",
                    message: Some(format!("Invalid HTTP Response: {code}")),
                },
                Err(e) => LastResponse {
                    code: None,
                    status: "misconfigured",
                    message: Some(e.clone()),
                },
            };
        }
    }

    /// Nothing left to send now: no record is still `queued` (held ones wait for their batch).
    pub(crate) fn idle(&self) -> bool {
        self.queue.is_empty()
            && self.ready.is_empty()
            && self.in_flight == 0
            && !self
                .records
                .iter()
                .any(|d| d.status == DeliveryStatus::Queued)
    }
}

fn prepare(hook: &HookRec, rec: &Delivery, faults: &FaultState) -> Outgoing {
    let form = hook.content_type == "form";
    let body: Vec<u8> = if form {
        format!("payload={}", encode_segment(&rec.body)).into_bytes()
    } else {
        rec.body.clone().into_bytes()
    };
    let mut headers: Vec<(&'static str, String)> = vec![
        ("user-agent", USER_AGENT.to_owned()),
        (
            "content-type",
            if form {
                "application/x-www-form-urlencoded".to_owned()
            } else {
                "application/json".to_owned()
            },
        ),
        ("x-github-delivery", rec.guid.clone()),
        ("x-github-event", rec.event.clone()),
        ("x-github-hook-id", hook.id.to_string()),
        (
            "x-github-hook-installation-target-type",
            "repository".to_owned(),
        ),
        (
            "x-github-hook-installation-target-id",
            hook.repo.to_string(),
        ),
    ];
    if let Some(secret) = hook.secret.as_deref().filter(|s| !s.is_empty()) {
        headers.push(("x-hub-signature", signature_1(secret.as_bytes(), &body)));
        headers.push((
            "x-hub-signature-256",
            signature_256(secret.as_bytes(), &body),
        ));
    }
    Outgoing {
        record: rec.id,
        guid: rec.guid.clone(),
        url: hook.url.clone(),
        headers,
        body,
        copies: if faults.duplicate { 2 } else { 1 },
        delay_ms: faults.delay_ms,
    }
}

struct Outcome {
    duration_ms: u64,
    result: Result<u16, String>,
}

async fn send_once(client: &reqwest::Client, s: &Outgoing) -> Outcome {
    let mut req = client.post(&s.url).body(s.body.clone());
    for (name, value) in &s.headers {
        req = req.header(*name, value);
    }
    let started = Instant::now();
    let result = match req.send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            // Read (and discard) the body so the connection can be reused.
            let _ = resp.bytes().await;
            Ok(code)
        }
        Err(e) => Err(describe(&e)),
    };
    Outcome {
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        result,
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "failed to connect".to_owned()
    } else {
        "request failed".to_owned()
    }
}

/// The dispatcher: sends queued deliveries in order until aborted.
pub(crate) async fn dispatch(fake: FakeGithub) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook dispatcher cannot build its HTTP client");
            return;
        }
    };
    let wake = fake.lock().webhooks.wake.clone();
    loop {
        let next = fake.lock().webhooks.next_send();
        let Some(send) = next else {
            wake.notified().await;
            continue;
        };
        if send.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(send.delay_ms)).await;
        }
        for copy in 0..send.copies {
            let outcome = send_once(&client, &send).await;
            tracing::debug!(guid = %send.guid, url = %send.url, result = ?outcome.result, "webhook delivery");
            fake.lock().webhooks.finish(send.record, copy > 0, &outcome);
        }
        let mut state = fake.lock();
        state.webhooks.in_flight = state.webhooks.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_githubs_documented_vector() {
        assert_eq!(
            signature_256(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn hook_debug_hides_the_secret() {
        let h = HookRec {
            id: 1,
            repo: 2,
            active: true,
            events: vec!["issues".into()],
            url: "http://x".into(),
            content_type: "json".into(),
            insecure_ssl: "0".into(),
            secret: Some("s3cr3t-value".into()),
            created_at: 0,
            updated_at: 0,
            last_response: LastResponse::default(),
        };
        let dbg = format!("{h:?}");
        assert!(!dbg.contains("s3cr3t-value"), "{dbg}");
        assert!(dbg.contains("********"));
    }
}
