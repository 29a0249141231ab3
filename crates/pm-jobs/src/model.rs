//! Jobs, their states and the values the queue exchanges with its callers.

use pm_kernel::{Error, ProjectId, Result, Timestamp, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A job's id: a UUID v7, so ordering by id follows creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }
    pub const fn into_uuid(self) -> Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a job is in its life.
///
/// ```text
///  enqueue ─▶ queued ──claim──▶ running ──▶ succeeded
///               ▲  ▲              │ │ │ ├──▶ failed    (permanent error, or the last attempt)
///               │  └── retry ─────┘ │ │ └──▶ canceled  (cancel requested)
///               │  └── released ────┘ │     (shutdown at a safe point: attempt not counted)
///            waiting ◀── park ────────┘     (until `run_at`, e.g. a rate limit: attempt not counted)
/// ```
/// `queued`, `waiting` and `running` are *active*: a concurrency key has at most one
/// active job (a database index enforces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Waiting,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Waiting,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Waiting => "waiting",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    /// Queued, waiting or running: it still holds its concurrency key.
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            JobStatus::Queued | JobStatus::Running | JobStatus::Waiting
        )
    }

    pub const fn is_finished(self) -> bool {
        !self.is_active()
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::invalid("status", format!("unknown job status {s:?}")))
    }
}

/// Why a job failed, for the API and the logs. The message must never carry a
/// secret (tokens are never part of pmhub's error texts; see ADR 0007).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

/// Longest stored error message, in characters.
pub const MAX_ERROR_MESSAGE: usize = 1000;

impl JobError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let message: String = message.into();
        Self {
            code: code.into(),
            message: message.chars().take(MAX_ERROR_MESSAGE).collect(),
        }
    }

    /// A domain error with the same stable code the API gives it.
    pub fn from_error(err: &Error) -> Self {
        Self::new(err.code(), err.to_string())
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    /// Which handler runs it, e.g. `github.import`.
    pub kind: String,
    /// The handler's input. Never a secret: payloads are stored in clear and shown.
    pub payload: Value,
    /// At most one active (queued, waiting or running) job per key.
    pub concurrency_key: Option<String>,
    /// The tenant and project the job works for, if any (the API scopes by them;
    /// deleting the project deletes its jobs).
    pub workspace_id: Option<WorkspaceId>,
    pub project_id: Option<ProjectId>,
    pub status: JobStatus,
    /// Claims so far (each claim, including a take-over after a lost lease, counts;
    /// a park or a release on shutdown gives its attempt back).
    pub attempts: u32,
    pub max_attempts: u32,
    /// Not claimed before this time (for `waiting`: when it resumes).
    pub run_at: Timestamp,
    /// While `running`: the lease's end. A job whose lease ran out is taken over.
    pub lease_until: Option<Timestamp>,
    /// While `running`: which runner holds it (for operators).
    pub worker: Option<String>,
    pub cancel_requested: bool,
    pub last_error: Option<JobError>,
    /// The handler's last checkpoint (kept across retries and parks).
    pub progress: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl Job {
    /// The status to show at `now`: a `running` job whose lease has run out has
    /// nobody working on it, so it shows what will become of it: `queued` (it is
    /// taken over at the next claim), or `failed`/`canceled` if that claim will end
    /// it instead. So a job never shows `running` past its lease.
    pub fn status_at(&self, now: Timestamp) -> JobStatus {
        match (self.status, self.lease_until) {
            (JobStatus::Running, Some(until)) if until < now => {
                if self.cancel_requested {
                    JobStatus::Canceled
                } else if self.attempts >= self.max_attempts {
                    JobStatus::Failed
                } else {
                    JobStatus::Queued
                }
            }
            (status, _) => status,
        }
    }

    /// The job as it should be shown at `now` (see [`Job::status_at`]).
    pub fn observed_at(mut self, now: Timestamp) -> Self {
        let status = self.status_at(now);
        if status != self.status {
            self.status = status;
            self.worker = None;
            if status == JobStatus::Failed && self.last_error.is_none() {
                self.last_error = Some(lease_expired());
            }
        }
        self
    }
}

/// The error recorded when a job's runner stopped renewing its lease on its last
/// attempt (the process died or hung).
pub fn lease_expired() -> JobError {
    JobError::new(
        LEASE_EXPIRED,
        "the runner stopped renewing its lease on the last attempt",
    )
}

pub const LEASE_EXPIRED: &str = "LEASE_EXPIRED";
/// The handler panicked.
pub const HANDLER_PANICKED: &str = "HANDLER_PANICKED";
/// No handler for the job's kind in this runner (never claimed: runners claim only
/// their kinds; this guards a registry changed at runtime).
pub const NO_HANDLER: &str = "NO_HANDLER";

/// Default attempts before a job fails.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// What to enqueue. Build with [`NewJob::new`] and the setters.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: String,
    pub payload: Value,
    pub concurrency_key: Option<String>,
    pub workspace_id: Option<WorkspaceId>,
    pub project_id: Option<ProjectId>,
    pub max_attempts: u32,
    /// `None`: as soon as possible (the database's clock).
    pub run_at: Option<Timestamp>,
}

impl NewJob {
    /// A job of `kind` (1–100 characters of `a-z 0-9 . _ : -`).
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            id: JobId::new(),
            kind: kind.into(),
            payload,
            concurrency_key: None,
            workspace_id: None,
            project_id: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: None,
        }
    }

    /// At most one active job per key: enqueuing while one is queued, waiting or
    /// running returns that one ("joins it").
    pub fn concurrency_key(mut self, key: impl Into<String>) -> Self {
        self.concurrency_key = Some(key.into());
        self
    }

    pub fn workspace(mut self, workspace_id: WorkspaceId) -> Self {
        self.workspace_id = Some(workspace_id);
        self
    }

    pub fn project(mut self, project_id: ProjectId) -> Self {
        self.project_id = Some(project_id);
        self
    }

    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    pub fn run_at(mut self, at: Timestamp) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Checks the kind, the key and the attempts.
    pub fn validate(&self) -> Result<()> {
        let mut v = pm_kernel::Validator::new();
        let kind_ok = (1..=100).contains(&self.kind.len())
            && self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".:_-".contains(&b));
        if !kind_ok {
            v.check::<()>(Err(Error::invalid(
                "kind",
                "1–100 characters of a-z 0-9 . _ : -",
            )));
        }
        if let Some(key) = &self.concurrency_key
            && !(1..=200).contains(&key.chars().count())
        {
            v.check::<()>(Err(Error::invalid("concurrency_key", "1–200 characters")));
        }
        if !(1..=100).contains(&self.max_attempts) {
            v.check::<()>(Err(Error::invalid("max_attempts", "between 1 and 100")));
        }
        v.finish()
    }
}

/// The answer to an enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub job: Job,
    /// True when an active job with the same concurrency key already existed; `job`
    /// is that job and nothing was inserted.
    pub joined: bool,
}

/// A claim's fencing token: every write of a running job names it, so a runner
/// whose lease was taken over can no longer change the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub job_id: JobId,
    pub token: Uuid,
}

/// A claimed job and the lease it runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub job: Job,
    pub lease: Lease,
}

/// What a heartbeat (or a checkpoint) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Renewed.
    Held,
    /// Renewed, and someone asked to cancel the job: stop at the next safe point.
    CancelRequested,
    /// The job is no longer ours (taken over after the lease ran out, or deleted).
    Lost,
}

/// How a running job ends this attempt; written only while the lease is held.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Succeeded,
    /// Back to `queued` until `run_at`; the attempt counts.
    Retry {
        run_at: Timestamp,
        error: JobError,
    },
    /// `waiting` until `resumes_at`; the attempt is given back.
    Waiting {
        resumes_at: Timestamp,
        reason: Option<JobError>,
    },
    Failed {
        error: JobError,
    },
    Canceled,
    /// Back to `queued` at once (shutdown at a safe point); the attempt is given back.
    Released,
}

impl Settlement {
    /// The status the job has after this settlement.
    pub fn status(&self) -> JobStatus {
        match self {
            Settlement::Succeeded => JobStatus::Succeeded,
            Settlement::Retry { .. } | Settlement::Released => JobStatus::Queued,
            Settlement::Waiting { .. } => JobStatus::Waiting,
            Settlement::Failed { .. } => JobStatus::Failed,
            Settlement::Canceled => JobStatus::Canceled,
        }
    }
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued or waiting: now `canceled`.
    Canceled,
    /// It is running: its handler is told at the next heartbeat and stops at a safe point.
    Requested,
    /// It had already finished; nothing changed.
    AlreadyFinished,
}

/// Which jobs to list (newest first). Every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    pub workspace_id: Option<WorkspaceId>,
    pub project_id: Option<ProjectId>,
    pub kind: Option<String>,
    pub concurrency_key: Option<String>,
    pub status: Option<JobStatus>,
    /// 1..=200; `None` means 50.
    pub limit: Option<u32>,
}

impl JobFilter {
    pub fn for_project(project_id: ProjectId) -> Self {
        Self {
            project_id: Some(project_id),
            ..Self::default()
        }
    }

    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::Duration;

    fn running_job(attempts: u32, max: u32, lease_left_secs: i64) -> Job {
        let now = pm_kernel::now();
        Job {
            id: JobId::new(),
            kind: "test".into(),
            payload: json!({}),
            concurrency_key: None,
            workspace_id: None,
            project_id: None,
            status: JobStatus::Running,
            attempts,
            max_attempts: max,
            run_at: now,
            lease_until: Some(now + Duration::seconds(lease_left_secs)),
            worker: Some("w".into()),
            cancel_requested: false,
            last_error: None,
            progress: None,
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
        }
    }

    #[test]
    fn a_running_job_never_shows_running_past_its_lease() {
        let now = pm_kernel::now();
        assert_eq!(running_job(1, 3, 10).status_at(now), JobStatus::Running);
        assert_eq!(running_job(1, 3, -1).status_at(now), JobStatus::Queued);
        let last = running_job(3, 3, -1).observed_at(now);
        assert_eq!(last.status, JobStatus::Failed);
        assert_eq!(last.last_error.unwrap().code, LEASE_EXPIRED);
        let mut canceled = running_job(1, 3, -1);
        canceled.cancel_requested = true;
        assert_eq!(canceled.status_at(now), JobStatus::Canceled);
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_refused() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("done".parse::<JobStatus>().is_err());
        assert!(JobStatus::Waiting.is_active());
        assert!(JobStatus::Canceled.is_finished());
    }

    #[test]
    fn new_jobs_are_validated() {
        assert!(NewJob::new("github.import", json!({})).validate().is_ok());
        assert!(NewJob::new("", json!({})).validate().is_err());
        assert!(NewJob::new("Has Space", json!({})).validate().is_err());
        assert!(
            NewJob::new("ok", json!({}))
                .concurrency_key("")
                .validate()
                .is_err()
        );
        assert!(
            NewJob::new("ok", json!({}))
                .max_attempts(0)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn error_messages_are_capped_and_codes_follow_the_api() {
        let long = JobError::new("X", "a".repeat(5000));
        assert_eq!(long.message.chars().count(), MAX_ERROR_MESSAGE);
        let gh = JobError::from_error(&Error::Github(pm_kernel::GithubError::RateLimited {
            retry_after_secs: 3,
        }));
        assert_eq!(gh.code, "GITHUB_RATE_LIMITED");
        assert_eq!(
            JobError::from_error(&Error::NotFound("project")).code,
            "NOT_FOUND"
        );
    }
}
