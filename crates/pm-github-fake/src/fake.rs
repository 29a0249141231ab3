//! [`FakeGithub`], the cheap-to-clone handle tests seed and inspect, and [`Running`], a started
//! server.

use std::{io, net::SocketAddr, ops::Range, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::ServerHandle, middleware::from_fn, web};
use parking_lot::{Mutex, MutexGuard};
use tokio::task::JoinHandle;

use crate::{
    admin,
    faults::FaultSettings,
    gate,
    model::{
        FakeError, GenerateIssues, Issue, IssueEdit, IssuePatches, NewIssue, PatchCounts, Repo,
        RequestRecord, Seed, StateReason, Stats,
    },
    routes,
    state::State,
    webhooks::{self, Delivery, DeliveryFaults, NewHook},
};
use time::OffsetDateTime;

/// The fake GitHub: shared state behind a mutex. Clones share the same world, so a test can keep
/// one to seed and inspect while the server serves another.
#[derive(Clone, Default)]
pub struct FakeGithub {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeGithub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGithub").finish_non_exhaustive()
    }
}

impl FakeGithub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the world. Handlers hold it for one request's work only, never across an await.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    // ----- seeding ------------------------------------------------------------------------

    /// Registers `token` for user `login` (created on first use; a user may have several
    /// tokens) and returns the user's id.
    pub fn add_user(&self, token: &str, login: &str) -> Result<u64, FakeError> {
        self.lock().add_user(token, login)
    }

    /// Creates an organization (or returns the existing one's id).
    pub fn add_org(&self, login: &str) -> Result<u64, FakeError> {
        self.lock().add_org(login)
    }

    /// Makes `user` a member of `org`: the user then sees the organization's repositories in
    /// `GET /user/repos` and may create repositories in it.
    pub fn add_org_member(&self, org: &str, user: &str) -> Result<(), FakeError> {
        self.lock().add_org_member(org, user)
    }

    /// Creates repository `owner/name` (owner: a user or an organization); returns its id.
    pub fn add_repo(&self, owner: &str, name: &str, private: bool) -> Result<u64, FakeError> {
        self.lock().create_repo(owner, name, private, None)
    }

    /// Generates a batch of issues (see [`GenerateIssues`] for the mix); returns the numbers
    /// created.
    pub fn add_issues(
        &self,
        full_name: &str,
        opts: &GenerateIssues,
    ) -> Result<Range<u64>, FakeError> {
        self.lock().generate_issues(full_name, opts)
    }

    /// Creates one issue (or pull request) and returns it.
    pub fn add_issue(&self, full_name: &str, issue: NewIssue) -> Result<Issue, FakeError> {
        self.lock().add_issue(full_name, issue)
    }

    /// Renames `owner/name` to `owner/new_name`. Issue ids stay; the old name answers `301`
    /// (`307` for writes) to `/repositories/{id}…`, like GitHub.
    pub fn rename_repo(&self, full_name: &str, new_name: &str) -> Result<Repo, FakeError> {
        self.lock().rename_repo(full_name, new_name)
    }

    pub fn close_issue(
        &self,
        full_name: &str,
        number: u64,
        reason: StateReason,
    ) -> Result<Issue, FakeError> {
        self.lock()
            .set_issue_state_by_name(full_name, number, Some(reason))
    }

    pub fn reopen_issue(&self, full_name: &str, number: u64) -> Result<Issue, FakeError> {
        self.lock().set_issue_state_by_name(full_name, number, None)
    }

    /// Edits title, body and/or labels (as the repository's owner or first member); hooks get
    /// `edited` / `labeled` / `unlabeled` deliveries.
    pub fn edit_issue(
        &self,
        full_name: &str,
        number: u64,
        edit: IssueEdit,
    ) -> Result<Issue, FakeError> {
        self.lock().edit_issue_by_name(full_name, number, edit)
    }

    /// Deletes an issue (GitHub offers this only through GraphQL and the UI): gone from
    /// listings, `GET` answers `410`, hooks get `issues.deleted`.
    pub fn delete_issue(&self, full_name: &str, number: u64) -> Result<(), FakeError> {
        self.lock().delete_issue(full_name, number)
    }

    /// Transfers an issue to repository `target` (same owner or not) and returns it as it is
    /// there (new id and number). The old number answers `301` to the new one; hooks of the
    /// old repository get `issues.transferred`, hooks of the new one `issues.opened`.
    pub fn transfer_issue(
        &self,
        full_name: &str,
        number: u64,
        target: &str,
    ) -> Result<Issue, FakeError> {
        self.lock().transfer_issue(full_name, number, target)
    }

    // ----- webhooks -----------------------------------------------------------------------

    /// Adds a hook (as `POST /repos/{o}/{r}/hooks` would, without the permission checks) and
    /// queues its `ping`; returns the hook id. A URL already hooked → [`FakeError::NameTaken`].
    pub fn add_hook(&self, full_name: &str, hook: NewHook) -> Result<u64, FakeError> {
        self.lock().add_hook(full_name, hook)
    }

    /// Every delivery attempt recorded, oldest first (the last 20,000 are kept).
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().webhooks.records()
    }

    pub fn delivery(&self, id: u64) -> Option<Delivery> {
        self.lock().webhooks.record(id).cloned()
    }

    /// Queues a redelivery of record `id` (same `X-GitHub-Delivery`, same body,
    /// `redelivery: true`); returns the new record's id.
    pub fn redeliver(&self, id: u64) -> Option<u64> {
        self.lock().webhooks.redeliver(id)
    }

    /// Merges `faults` into the delivery faults in force.
    pub fn set_delivery_faults(&self, faults: DeliveryFaults) {
        self.lock().webhooks.apply_faults(faults);
    }

    /// Removes every delivery fault; held deliveries are released (reordered).
    pub fn clear_delivery_faults(&self) {
        self.lock().webhooks.clear_faults();
    }

    pub fn delivery_faults(&self) -> DeliveryFaults {
        self.lock().webhooks.faults()
    }

    /// Waits until no delivery is queued or in flight (held ones excepted), polling every
    /// 10 ms; `false` on timeout. Needs a started server (its task sends).
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.lock().webhooks.idle() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // ----- request counting ---------------------------------------------------------------

    /// Logged API requests with `method` (any if `None`), a path starting with `path_prefix`
    /// (any if `None`) and arriving at or after `since` (any if `None`).
    pub fn requests_matching(
        &self,
        method: Option<&str>,
        path_prefix: Option<&str>,
        since: Option<OffsetDateTime>,
    ) -> Vec<RequestRecord> {
        self.lock()
            .requests()
            .into_iter()
            .filter(|r| method.is_none_or(|m| r.method.eq_ignore_ascii_case(m)))
            .filter(|r| path_prefix.is_none_or(|p| r.path.starts_with(p)))
            .filter(|r| since.is_none_or(|t| r.at >= t))
            .collect()
    }

    /// `PATCH` requests for one issue since `since`, whichever path form was used
    /// (`/repos/{o}/{r}/issues/{n}` case-insensitively, or `/repositories/{id}/issues/{n}`).
    pub fn issue_patch_count(
        &self,
        full_name: &str,
        number: u64,
        since: Option<OffsetDateTime>,
    ) -> Result<u64, FakeError> {
        let st = self.lock();
        let id = st.repo_id_of(full_name)?;
        let by_name = format!("/repos/{full_name}/issues/{number}").to_ascii_lowercase();
        let by_id = format!("/repositories/{id}/issues/{number}");
        Ok(st
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && since.is_none_or(|t| r.at >= t))
            .filter(|r| {
                let p = r.path.trim_end_matches('/');
                p.eq_ignore_ascii_case(&by_name) || p == by_id
            })
            .count() as u64)
    }

    /// Every `PATCH` of an issue since `since` (all logged ones if `None`): the total and
    /// the count per issue.
    pub fn patch_counts(&self, since: Option<OffsetDateTime>) -> PatchCounts {
        let st = self.lock();
        let mut per_issue: std::collections::BTreeMap<(String, u64), u64> = Default::default();
        for r in st.requests() {
            if r.method != "PATCH" || since.is_some_and(|t| r.at < t) {
                continue;
            }
            if let Some(key) = st.issue_of_path(&r.path) {
                *per_issue.entry(key).or_default() += 1;
            }
        }
        PatchCounts {
            total: per_issue.values().sum(),
            issues: per_issue
                .into_iter()
                .map(|((repo, number), count)| IssuePatches {
                    repo,
                    number,
                    count,
                })
                .collect(),
        }
    }

    /// Applies a seed document (the binary's `--seed-file`).
    pub fn apply_seed(&self, seed: &Seed) -> Result<(), FakeError> {
        let mut st = self.lock();
        for u in &seed.users {
            st.add_user(&u.token, &u.login)?;
        }
        for o in &seed.orgs {
            st.add_org(&o.login)?;
            for m in &o.members {
                st.add_org_member(&o.login, m)?;
            }
        }
        for r in &seed.repos {
            st.create_repo(&r.owner, &r.name, r.private, r.description.clone())?;
            if let Some(gen_opts) = &r.issues {
                st.generate_issues(&format!("{}/{}", r.owner, r.name), gen_opts)?;
            }
        }
        Ok(())
    }

    /// Forgets all users, repositories, issues, faults and logs. Ids keep counting up, so
    /// nothing handed out before a reset is ever reused.
    pub fn reset(&self) {
        self.lock().reset();
    }

    // ----- inspection ---------------------------------------------------------------------

    /// Number of GitHub API requests served (admin requests excluded).
    pub fn request_count(&self) -> u64 {
        self.lock().stats().requests
    }

    /// The API requests served, oldest first (the last 50,000 are kept).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests()
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats()
    }

    /// The repository's issues in number order, or `None` if there is no such repository
    /// (after a rename, only the new name answers).
    pub fn issues_of(&self, full_name: &str) -> Option<Vec<Issue>> {
        self.lock().issues_of(full_name)
    }

    pub fn repo(&self, full_name: &str) -> Option<Repo> {
        self.lock().repo_by_full(full_name)
    }

    // ----- faults -------------------------------------------------------------------------

    /// Merges `faults` into the faults in force (fields left `None` are unchanged).
    pub fn set_faults(&self, faults: FaultSettings) {
        self.lock().faults.apply(faults);
    }

    /// Removes every fault, including revoked tokens and rate limits currently in force.
    pub fn clear_faults(&self) {
        self.lock().faults = Default::default();
    }

    pub fn faults(&self) -> FaultSettings {
        self.lock().faults.settings()
    }

    /// The next `count` repository creations in `org` answer GitHub's "name already exists"
    /// 422, whatever the name.
    pub fn reject_next_creates(&self, org: &str, count: u64) -> Result<(), FakeError> {
        self.lock().reject_next_creates(org, count)
    }

    /// Shorthand for a [`FaultSettings::revoke_token`] fault.
    pub fn revoke_token(&self, token: &str) {
        self.set_faults(FaultSettings {
            revoke_token: Some(token.to_owned()),
            ..FaultSettings::default()
        });
    }

    // ----- serving ------------------------------------------------------------------------

    /// Serves the fake on `addr` (e.g. `"127.0.0.1:0"` for a random port) until
    /// [`Running::stop`] or drop. Must be called inside a Tokio runtime.
    pub async fn start(self, addr: &str) -> io::Result<Running> {
        let fake = self.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(fake.clone()))
                .wrap(from_fn(gate::gate))
                .service(admin::scope())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        // Two cores on the target machines; one worker could starve under `latency_ms`.
        .workers(2)
        // The embedding program (a test, the binary) owns signal handling and shutdown.
        .disable_signals()
        .shutdown_timeout(1)
        .bind(addr)?;
        let bound = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| io::Error::other("server bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        let base_url = format!("http://{}", display_addr(bound));
        let dispatcher = {
            let mut st = self.lock();
            st.webhooks.api_base = base_url.clone();
            if st.webhooks.dispatcher_running {
                None
            } else {
                st.webhooks.dispatcher_running = true;
                Some(tokio::spawn(webhooks::dispatch(self.clone())))
            }
        };
        Ok(Running {
            base_url,
            addr: bound,
            handle,
            task: Some(task),
            dispatcher,
            fake: self,
        })
    }
}

/// A listener on 0.0.0.0 is reached through loopback; print that instead of the wildcard.
fn display_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

/// A started fake. Stops the server when dropped; prefer [`Running::stop`] to wait for it.
pub struct Running {
    /// E.g. `http://127.0.0.1:41234`, no trailing slash: the GitHub API base URL to configure.
    pub base_url: String,
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: Option<JoinHandle<io::Result<()>>>,
    /// The webhook dispatcher, if this server started it.
    dispatcher: Option<JoinHandle<()>>,
    fake: FakeGithub,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The served world, for seeding and inspection while it runs.
    pub fn fake(&self) -> &FakeGithub {
        &self.fake
    }

    /// Stops accepting, finishes in-flight requests (up to 1 s), and waits for the server.
    pub async fn stop(mut self) {
        self.stop_dispatcher();
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            // Bounded: the server task ends right after stop() completes.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Running {
    fn stop_dispatcher(&mut self) {
        if let Some(d) = self.dispatcher.take() {
            d.abort();
            self.fake.lock().webhooks.dispatcher_running = false;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_dispatcher();
        if self.task.is_some() {
            // Sends the stop command right away; the returned future only waits for completion.
            drop(self.handle.stop(false));
        }
    }
}
