//! Integration entities and the shapes exchanged with the ports.

use pm_kernel::{ProjectId, SyncRunId, Timestamp, WorkspaceId};
use pm_projects::RepoFullName;
use pm_tasks::{ExternalLink, NewTask, Task};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The GitHub account a token belongs to (`GET /user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubUser {
    pub id: i64,
    pub login: String,
}

/// A repository as pmhub uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GithubRepo {
    pub id: i64,
    pub full_name: String,
    pub private: bool,
    pub html_url: String,
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    Open,
    Closed,
}

/// An issue (never a pull request: the adapter filters those out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubIssue {
    /// GitHub's immutable issue id; survives repository renames and transfers of
    /// the number space, unlike `number`.
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub body: Option<String>,
    pub state: IssueState,
    /// `completed`, `not_planned`, `reopened` or absent.
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub html_url: String,
}

/// Where to read issues: the first page of a repository, or a `rel="next"` link
/// exactly as GitHub sent it (never built by hand: GitHub changes its shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuePageRequest {
    First { repo: RepoFullName },
    Next { url: String },
}

/// One page of `GET /repos/{owner}/{repo}/issues?state=all&per_page=100`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuePage {
    pub issues: Vec<GithubIssue>,
    /// Items of the page that were pull requests and were left out.
    pub pull_requests_skipped: u32,
    /// The `rel="next"` URL, if there is a next page.
    pub next: Option<String>,
}

/// An issue to create (`POST /repos/{owner}/{repo}/issues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

/// Options for `POST /orgs/{org}/repos`. pmhub always creates private repositories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRepoOptions {
    pub description: Option<String>,
}

/// A secret encrypted at rest: which key sealed it, the nonce and the ciphertext
/// (with its authentication tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// A workspace's stored GitHub connection. The token itself is only ever held
/// sealed; `token_hint` is its last four characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubCredential {
    /// Row id; part of the encryption's associated data, so a ciphertext copied
    /// to another row does not decrypt.
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub account_login: String,
    pub token_hint: String,
    pub sealed: SealedSecret,
    pub connected_at: Timestamp,
}

/// What kind of run a sync run record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    Import,
    Push,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Waiting for a worker (also between retries and after a shutdown).
    Queued,
    Running,
    /// Parked until `resumes_at` (a GitHub rate limit); continues by itself.
    Waiting,
    Succeeded,
    Failed,
    Canceled,
}

impl SyncStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Queued => "queued",
            SyncStatus::Running => "running",
            SyncStatus::Waiting => "waiting",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Failed => "failed",
            SyncStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            SyncStatus::Queued,
            SyncStatus::Running,
            SyncStatus::Waiting,
            SyncStatus::Succeeded,
            SyncStatus::Failed,
            SyncStatus::Canceled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }

    /// Succeeded, failed or canceled: nothing more happens to the run.
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            SyncStatus::Succeeded | SyncStatus::Failed | SyncStatus::Canceled
        )
    }
}

/// The counts a run accumulates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncCounts {
    pub created: u32,
    pub skipped: u32,
    pub pull_requests_ignored: u32,
    pub total_seen: u32,
}

/// A recorded import or push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub project_id: ProjectId,
    pub kind: SyncKind,
    pub repo: String,
    pub status: SyncStatus,
    pub counts: SyncCounts,
    /// The error code of a failed run, e.g. `GITHUB_RATE_LIMITED`.
    pub error_code: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// The job that carries the run (runs started through the API); `None` for a
    /// run made in-process (the direct path).
    pub job_id: Option<uuid::Uuid>,
    pub progress: RunProgress,
    /// While `waiting`: when the run continues by itself.
    pub resumes_at: Option<Timestamp>,
    /// How many times a worker took the run up (from its job; 0 without one).
    pub attempts: u32,
}

/// A run asked for: the new one, or the active one it joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedRun {
    pub run: SyncRun,
    pub joined: bool,
}

/// How far a run got: stored as it goes, in the same transaction as the work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunProgress {
    /// Issue pages stored (an import).
    pub pages: u32,
    /// The `rel="next"` link after the last stored page: a resumed import
    /// continues there instead of at page 1.
    pub next_page: Option<String>,
    /// Tasks still to push (a push; `None` until it has read its backlog).
    pub tasks_remaining: Option<u32>,
}

/// One issue ready to become a task: the task, its link, and the key that makes
/// the import idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueImport {
    /// `github:{host}:issue:{issue id}` — unique per project, enforced by the database.
    pub dedup_key: String,
    pub link: ExternalLink,
    pub task: NewTask,
    /// The task a push created this issue for, read from the hidden marker in its
    /// body. If that task is in the project and has no issue yet, the import links
    /// it instead of creating a new task (the push died before linking it).
    pub pushed_for: Option<pm_kernel::TaskId>,
}

/// What storing one page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageImported {
    pub created: u32,
    pub skipped: u32,
}

/// A task waiting to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCandidate {
    pub task: Task,
    /// An earlier push recorded that it was about to create this task's issue and
    /// never confirmed it: the issue may exist.
    pub intent_pending: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushBacklog {
    pub unlinked: Vec<PushCandidate>,
    pub linked: u32,
}

/// A run still `running` this long after it started belongs to a process that
/// died; the next run of the project marks it failed (`INTERRUPTED`).
pub const STALE_RUN_AFTER: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// The error code of a run whose process died before finishing it.
pub const INTERRUPTED: &str = "INTERRUPTED";
