//! GitHub webhook deliveries: receiving them (signature, headers, storage once per
//! `X-GitHub-Delivery`) and processing them in a job (`github.delivery`), which only
//! *marks* issues dirty for the merge job. See ADR 0022 and docs/architecture.md,
//! "Webhooks".
//!
//! Ports (all here, so the concept stays in one file):
//! - [`WebhookVerifier`]: the `X-Hub-Signature-256` check (`pm_crypto::HmacWebhookVerifier`);
//! - [`DeliveryStore`]: deliveries, the outbox job, and the settlement of a processed
//!   delivery (`pm_postgres::PgWebhookStore`);
//! - [`DirtyIssues`]: **the seam for the merge job** — the issues a delivery marked,
//!   read in batches and cleared with a compare-and-delete on their generation
//!   (`pm_postgres::PgWebhookStore`).

use async_trait::async_trait;
use pm_kernel::{Error, ProjectId, Result, Timestamp};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

mod envelope;

/// The job kind that processes one stored delivery; payload `{"delivery_id": "…"}`.
pub const DELIVERY_JOB: &str = "github.delivery";

/// The largest body GitHub sends (its documented cap on webhook payloads).
pub const MAX_DELIVERY_BYTES: usize = 25 * 1024 * 1024;

/// `issues` actions that mark the issue dirty. Others (assigned, milestoned, pinned,
/// locked, …) touch nothing pmhub syncs and are recorded as ignored.
pub const ISSUE_ACTIONS: [&str; 8] = [
    "opened",
    "edited",
    "closed",
    "reopened",
    "labeled",
    "unlabeled",
    "deleted",
    "transferred",
];

/// Checks `X-Hub-Signature-256` against the configured secret(s).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WebhookVerifier: Send + Sync {
    /// False when no secret is configured: then every delivery is refused.
    fn is_configured(&self) -> bool;

    /// True when `signature` (the header's value, `sha256=<64 hex digits>`) is the
    /// HMAC-SHA256 of `body` under one of the secrets, compared in constant time.
    fn verify(&self, body: &[u8], signature: &str) -> bool;
}

/// A verified delivery, as it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// `X-GitHub-Delivery`: GitHub's GUID; a redelivery carries the same one.
    pub delivery_id: String,
    /// `X-GitHub-Event`, e.g. `issues`.
    pub event: String,
    /// The payload's `action`, if any.
    pub action: Option<String>,
    /// `repository.id` (immutable on GitHub, survives renames).
    pub repository_id: Option<i64>,
    /// `repository.full_name` as GitHub sent it.
    pub repo_full_name: Option<String>,
    /// The payload, exactly as GitHub sent it: the text of a JSON object (checked by
    /// `receive`, stored as it is and parsed again only by the job that reads it).
    pub payload: String,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDelivery {
    /// What was received.
    pub delivery: NewDelivery,
    /// When it was stored.
    pub received_at: Timestamp,
    /// When its job processed it, if it has.
    pub processed_at: Option<Timestamp>,
    /// What processing decided, once processed.
    pub outcome: Option<DeliveryOutcome>,
}

/// What processing a delivery decided (stored in `github_deliveries.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A `ping` (sent when a hook is created).
    Ping,
    /// No project links the repository: recorded and ignored.
    Unlinked,
    /// An event or action pmhub does not sync: recorded and ignored.
    Ignored,
    /// Issues marked dirty for the merge job.
    MarkedDirty,
    /// `repository.renamed`: the linked projects now name the new `owner/name`.
    RepositoryRenamed,
    /// The payload lacks what its event needs (e.g. `issue.id`): recorded, ignored.
    Malformed,
}

impl DeliveryOutcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Ping => "ping",
            DeliveryOutcome::Unlinked => "unlinked",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::MarkedDirty => "marked_dirty",
            DeliveryOutcome::RepositoryRenamed => "repository_renamed",
            DeliveryOutcome::Malformed => "malformed",
        }
    }

    /// Reads a stored spelling; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ping" => DeliveryOutcome::Ping,
            "unlinked" => DeliveryOutcome::Unlinked,
            "ignored" => DeliveryOutcome::Ignored,
            "marked_dirty" => DeliveryOutcome::MarkedDirty,
            "repository_renamed" => DeliveryOutcome::RepositoryRenamed,
            "malformed" => DeliveryOutcome::Malformed,
            _ => return None,
        })
    }
}

/// One issue of one project to be merged again.
#[derive(Debug, Clone, PartialEq)]
pub struct DirtyMark {
    /// The project the issue belongs to (through its linked repository).
    pub project_id: ProjectId,
    /// GitHub's immutable issue id (`issue.id`, the dedup key's id).
    pub github_issue_id: i64,
    /// The issue's number in its repository.
    pub issue_number: i64,
    /// The repository the delivery came from (`owner/name`).
    pub repo_full_name: String,
    /// `{event}.{action}`, e.g. `issues.closed`: for the journal only; the merge
    /// re-reads the issue and never trusts the payload.
    pub reason: String,
}

/// A repository rename to follow: projects linked to `from` (case-insensitively)
/// are relinked to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoRename {
    /// The old `owner/name`.
    pub from: String,
    /// The new `owner/name`.
    pub to: String,
}

/// Everything processing a delivery writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettlement {
    /// What processing decided.
    pub outcome: DeliveryOutcome,
    /// Issues to mark dirty.
    pub dirty: Vec<DirtyMark>,
    /// A rename to follow, for `repository.renamed`.
    pub rename: Option<RepoRename>,
}

/// A dirty issue as the merge job reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct DirtyIssue {
    /// The project the issue belongs to.
    pub project_id: ProjectId,
    /// GitHub's immutable issue id.
    pub github_issue_id: i64,
    /// The issue's number in its repository.
    pub issue_number: i64,
    /// The repository (`owner/name`).
    pub repo_full_name: String,
    /// The last delivery's `{event}.{action}`.
    pub reason: String,
    /// The last delivery that marked it.
    pub delivery_id: String,
    /// Incremented by every mark; [`DirtyIssues::clear`] deletes only the
    /// generation the merge read, so a mark that arrives during a merge survives it.
    pub generation: i64,
    /// When the last mark was made.
    pub marked_at: Timestamp,
}

/// Storage of deliveries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores the delivery and enqueues its [`DELIVERY_JOB`] in one transaction
    /// (`INSERT … ON CONFLICT (delivery_id) DO NOTHING`). Returns false, having
    /// written nothing, when the delivery id is stored already (a redelivery).
    /// Errors: `Unavailable` (database), `Internal`.
    async fn record(&self, delivery: &NewDelivery) -> Result<bool>;

    /// A stored delivery. Errors: `Unavailable`, `Internal`.
    async fn get(&self, delivery_id: &str) -> Result<Option<StoredDelivery>>;

    /// Projects whose `github_repo` equals `repo_full_name` case-insensitively
    /// (GitHub's names are). Errors: `Unavailable`, `Internal`.
    async fn linked_projects(&self, repo_full_name: &str) -> Result<Vec<ProjectId>>;

    /// In one transaction: upserts the marks (generation + 1 when already dirty),
    /// applies the rename, and sets `processed_at` and `outcome` — only if the
    /// delivery is not processed yet. Returns false (nothing written) when it was.
    /// Errors: `NotFound("delivery")`, `Unavailable`, `Internal`.
    async fn settle(&self, delivery_id: &str, settlement: &DeliverySettlement) -> Result<bool>;
}

/// The merge job's input: issues marked dirty by deliveries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DirtyIssues: Send + Sync {
    /// Up to `limit` dirty issues of a project, oldest mark first.
    /// Errors: `Unavailable`, `Internal`.
    async fn list(&self, project: ProjectId, limit: u32) -> Result<Vec<DirtyIssue>>;

    /// Clears an issue the merge has handled, only if its generation is still the
    /// one read. Returns false when it was marked again meanwhile (merge it again)
    /// or is gone. Errors: `Unavailable`, `Internal`.
    async fn clear(
        &self,
        project: ProjectId,
        github_issue_id: i64,
        generation: i64,
    ) -> Result<bool>;
}

/// The headers of a delivery that matter, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryHeaders<'a> {
    /// `X-GitHub-Event`.
    pub event: Option<&'a str>,
    /// `X-GitHub-Delivery`.
    pub delivery_id: Option<&'a str>,
    /// `X-Hub-Signature-256`.
    pub signature: Option<&'a str>,
}

/// Why a delivery was refused. Nothing is stored for any of them.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No `github.webhook_secret` is configured: unsigned deliveries are never
    /// accepted, so every delivery is refused.
    #[error("webhook deliveries are refused: no webhook secret is configured")]
    NotConfigured,
    /// `X-Hub-Signature-256` is missing, malformed, or matches no secret.
    #[error("the X-Hub-Signature-256 signature is missing or does not match")]
    BadSignature,
    /// A required header is missing or unusable.
    #[error("{0}")]
    BadHeader(String),
    /// The body is not a JSON object (e.g. the hook sends form-encoded payloads).
    #[error("{0}")]
    BadPayload(String),
    #[error(transparent)]
    /// A storage failure (database).
    Store(#[from] Error),
}

/// What [`WebhookService::receive`] did with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `X-GitHub-Delivery`.
    pub delivery_id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// False for a redelivery of a stored delivery (nothing written).
    pub stored: bool,
}

/// Receives and processes webhook deliveries.
#[derive(Clone)]
pub struct WebhookService {
    verifier: Arc<dyn WebhookVerifier>,
    store: Arc<dyn DeliveryStore>,
}

impl WebhookService {
    /// The service over a verifier and a store.
    pub fn new(verifier: Arc<dyn WebhookVerifier>, store: Arc<dyn DeliveryStore>) -> Self {
        Self { verifier, store }
    }

    /// False when no webhook secret is configured (every delivery is refused).
    pub fn is_configured(&self) -> bool {
        self.verifier.is_configured()
    }

    /// Verifies and stores a delivery (once per delivery id), handing it to a job.
    /// The order of checks: a secret is configured, the signature matches, then the
    /// headers and the body are read — so an unsigned request learns nothing else.
    pub async fn receive(
        &self,
        headers: DeliveryHeaders<'_>,
        body: &[u8],
    ) -> std::result::Result<Received, WebhookError> {
        if !self.verifier.is_configured() {
            return Err(WebhookError::NotConfigured);
        }
        let signature = headers.signature.ok_or(WebhookError::BadSignature)?;
        if !self.verifier.verify(body, signature) {
            return Err(WebhookError::BadSignature);
        }
        let event = header_value(headers.event, "X-GitHub-Event", 100)?;
        let delivery_id = header_value(headers.delivery_id, "X-GitHub-Delivery", 200)?;
        // Only what is stored beside the payload is read, borrowed from the body; the
        // payload itself is stored as received (no `Value` tree built, none serialised).
        let not_json = || {
            WebhookError::BadPayload(
                "the body is not JSON: set the webhook's content type to application/json"
                    .to_string(),
            )
        };
        let text = std::str::from_utf8(body).map_err(|_| not_json())?;
        let envelope = envelope::parse(text)
            .map_err(|_| not_json())?
            .ok_or_else(|| {
                WebhookError::BadPayload("the body must be a JSON object".to_string())
            })?;
        let delivery = NewDelivery {
            action: envelope.action.map(Cow::into_owned),
            repository_id: envelope.repository_id,
            repo_full_name: envelope.repo_full_name.map(Cow::into_owned),
            delivery_id: delivery_id.to_string(),
            event: event.to_string(),
            payload: text.to_string(),
        };
        let stored = self.store.record(&delivery).await?;
        Ok(Received {
            delivery_id: delivery.delivery_id,
            event: delivery.event,
            stored,
        })
    }

    /// Processes a stored delivery (the [`DELIVERY_JOB`]): decides its outcome and
    /// settles it. A delivery processed already keeps its outcome and nothing is
    /// written again, so a job that runs twice is harmless.
    /// Errors: `NotFound("delivery")`, `Unavailable`, `Internal`.
    pub async fn process(&self, delivery_id: &str) -> Result<DeliveryOutcome> {
        let stored = self
            .store
            .get(delivery_id)
            .await?
            .ok_or(Error::NotFound("delivery"))?;
        if let (Some(_), Some(outcome)) = (stored.processed_at, stored.outcome) {
            return Ok(outcome);
        }
        let settlement = self.decide(&stored.delivery).await?;
        let outcome = settlement.outcome;
        if !self.store.settle(delivery_id, &settlement).await? {
            // Settled meanwhile by another attempt: its outcome stands.
            if let Some(outcome) = self.store.get(delivery_id).await?.and_then(|d| d.outcome) {
                return Ok(outcome);
            }
        }
        Ok(outcome)
    }

    async fn decide(&self, d: &NewDelivery) -> Result<DeliverySettlement> {
        let settle = |outcome| DeliverySettlement {
            outcome,
            dirty: Vec::new(),
            rename: None,
        };
        let action = d.action.as_deref().unwrap_or("");
        // The stored text of a JSON object, parsed only for the events that read it.
        let payload = || serde_json::from_str::<Value>(&d.payload).unwrap_or(Value::Null);
        match (d.event.as_str(), action) {
            ("ping", _) => Ok(settle(DeliveryOutcome::Ping)),
            ("issues", a) if ISSUE_ACTIONS.contains(&a) => {
                let Some(repo) = d.repo_full_name.as_deref() else {
                    return Ok(settle(DeliveryOutcome::Malformed));
                };
                let projects = self.store.linked_projects(repo).await?;
                if projects.is_empty() {
                    return Ok(settle(DeliveryOutcome::Unlinked));
                }
                let payload = payload();
                let (Some(id), Some(number)) = (
                    payload.pointer("/issue/id").and_then(Value::as_i64),
                    payload.pointer("/issue/number").and_then(Value::as_i64),
                ) else {
                    return Ok(settle(DeliveryOutcome::Malformed));
                };
                let dirty = projects
                    .into_iter()
                    .map(|project_id| DirtyMark {
                        project_id,
                        github_issue_id: id,
                        issue_number: number,
                        repo_full_name: repo.to_string(),
                        reason: format!("issues.{a}"),
                    })
                    .collect();
                Ok(DeliverySettlement {
                    outcome: DeliveryOutcome::MarkedDirty,
                    dirty,
                    rename: None,
                })
            }
            ("repository", "renamed") => {
                let payload = payload();
                let (Some(to), Some(owner), Some(old_name)) = (
                    payload
                        .pointer("/repository/full_name")
                        .and_then(Value::as_str),
                    payload
                        .pointer("/repository/owner/login")
                        .and_then(Value::as_str),
                    payload
                        .pointer("/changes/repository/name/from")
                        .and_then(Value::as_str),
                ) else {
                    return Ok(settle(DeliveryOutcome::Malformed));
                };
                let from = format!("{owner}/{old_name}");
                if self.store.linked_projects(&from).await?.is_empty() {
                    return Ok(settle(DeliveryOutcome::Unlinked));
                }
                Ok(DeliverySettlement {
                    outcome: DeliveryOutcome::RepositoryRenamed,
                    dirty: Vec::new(),
                    rename: Some(RepoRename {
                        from,
                        to: to.to_string(),
                    }),
                })
            }
            _ => Ok(settle(DeliveryOutcome::Ignored)),
        }
    }
}

/// A required header: present, 1..=`max` visible ASCII characters.
fn header_value<'a>(
    value: Option<&'a str>,
    name: &str,
    max: usize,
) -> std::result::Result<&'a str, WebhookError> {
    let value = value.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(WebhookError::BadHeader(format!(
            "the {name} header is missing"
        )));
    }
    if value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(WebhookError::BadHeader(format!(
            "the {name} header must be 1 to {max} visible ASCII characters"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
