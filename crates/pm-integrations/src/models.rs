//! Integration entities and the shapes exchanged with the ports.

use pm_kernel::{ProjectId, SyncRunId, Timestamp, WorkspaceId};
use pm_projects::RepoFullName;
use pm_tasks::{ExternalLink, NewTask, Task};
use std::fmt;

/// The GitHub account a token belongs to (`GET /user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubUser {
    /// GitHub's id.
    pub id: i64,
    /// The login.
    pub login: String,
}

/// A repository as pmhub uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubRepo {
    /// GitHub's id.
    pub id: i64,
    /// `owner/name`.
    pub full_name: String,
    /// Whether it is private.
    pub private: bool,
    /// GitHub's web URL.
    pub html_url: String,
    /// The default branch, if it has one.
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// An issue's state on GitHub.
pub enum IssueState {
    /// Open.
    Open,
    /// Closed (see `state_reason`).
    Closed,
}

/// An issue (never a pull request: the adapter filters those out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubIssue {
    /// GitHub's immutable issue id; survives repository renames and transfers of
    /// the number space, unlike `number`.
    pub id: i64,
    /// The number in its repository (`#N`).
    pub number: i64,
    /// The title.
    pub title: String,
    /// The body (markdown), if any.
    pub body: Option<String>,
    /// Open or closed.
    pub state: IssueState,
    /// `completed`, `not_planned`, `reopened` or absent.
    pub state_reason: Option<String>,
    /// Label names.
    pub labels: Vec<String>,
    /// GitHub's web URL.
    pub html_url: String,
    /// When it last changed on GitHub (`updated_at`); the reconcile's watermark.
    pub updated_at: Option<Timestamp>,
    /// The repository it is in now (`owner/name`, from `repository_url`): differs
    /// from the one asked for when the issue was transferred (GitHub redirects).
    pub repo_full_name: Option<String>,
}

/// Where to read issues: the first page of a repository, or a `rel="next"` link
/// exactly as GitHub sent it (never built by hand: GitHub changes its shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuePageRequest {
    /// The first page of a repository.
    First {
        /// A repository's first page.
        repo: RepoFullName,
    },
    /// The first page of a repository's issues changed since `since`, least
    /// recently updated first (`sort=updated&direction=asc&since=…`): the reconcile.
    UpdatedSince {
        /// The repository.
        repo: RepoFullName,
        /// GitHub's `since` (ISO 8601); issues updated at or after it.
        since: Timestamp,
    },
    /// The page a `next` link names.
    Next {
        /// A `rel="next"` URL as GitHub sent it.
        url: String,
    },
}

/// One page of `GET /repos/{owner}/{repo}/issues?state=all&per_page=100`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuePage {
    /// The issues of the page.
    pub issues: Vec<GithubIssue>,
    /// Items of the page that were pull requests and were left out.
    pub pull_requests_skipped: u32,
    /// The `rel="next"` URL, if there is a next page.
    pub next: Option<String>,
    /// GitHub answered `304 Not Modified` (the page is the cached one): nothing
    /// changed since the last time this page was read.
    pub not_modified: bool,
}

/// Changes to an issue (`PATCH /repos/{owner}/{repo}/issues/{number}`); `None`
/// leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuePatch {
    /// A new title.
    pub title: Option<String>,
    /// A new body.
    pub body: Option<String>,
    /// Open or close it.
    pub state: Option<IssueState>,
    /// With `state: closed`: `completed` or `not_planned`.
    pub state_reason: Option<String>,
    /// New labels (replacing all).
    pub labels: Option<Vec<String>>,
}

impl IssuePatch {
    /// True when the patch changes nothing (no request is sent).
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.body.is_none()
            && self.state.is_none()
            && self.state_reason.is_none()
            && self.labels.is_none()
    }
}

/// What `GET /repos/{owner}/{repo}/issues/{number}` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueRead {
    /// The issue (followed through a redirect if it was transferred: compare its
    /// `repo_full_name`), with the ETag to send next time.
    Found {
        /// The issue (boxed: the other answers carry nothing).
        issue: Box<GithubIssue>,
        /// GitHub's `ETag`.
        etag: Option<String>,
    },
    /// `304`: unchanged since the ETag that was sent.
    NotModified,
    /// `410 Gone`: the issue was deleted.
    Deleted,
    /// `404`: not visible to the token (deleted with its repository, or access lost).
    Missing,
}

/// A repository webhook to create (`POST /repos/{owner}/{repo}/hooks`).
#[derive(Clone)]
pub struct NewHook {
    /// Where GitHub sends deliveries: `{server.public_url}/api/v1/webhooks/github`.
    pub url: String,
    /// The secret GitHub signs deliveries with.
    pub secret: secrecy::SecretString,
    /// The events, e.g. `issues` and `repository`.
    pub events: Vec<String>,
}

impl fmt::Debug for NewHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewHook")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// What creating a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookRegistration {
    /// Created, with GitHub's hook id.
    Created {
        /// The hook's id.
        id: i64,
    },
    /// A hook with this URL exists already (GitHub's 422 "Hook already exists").
    AlreadyExists,
}

/// An issue to create (`POST /repos/{owner}/{repo}/issues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssue {
    /// The title.
    pub title: String,
    /// The body (markdown).
    pub body: String,
    /// Label names.
    pub labels: Vec<String>,
}

/// Options for `POST /orgs/{org}/repos`. pmhub always creates private repositories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRepoOptions {
    /// The repository description.
    pub description: Option<String>,
}

/// A secret encrypted at rest: which key sealed it, the nonce and the ciphertext
/// (with its authentication tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The id of the key that sealed it.
    pub key_id: String,
    /// The AEAD nonce.
    pub nonce: Vec<u8>,
    /// The ciphertext with its authentication tag.
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
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The GitHub login the token belongs to.
    pub account_login: String,
    /// The token's last four characters.
    pub token_hint: String,
    /// The token, sealed.
    pub sealed: SealedSecret,
    /// When the workspace connected.
    pub connected_at: Timestamp,
}

pm_kernel::string_enum!(
    /// What kind of run a sync run record describes.
    SyncKind, "kind", {
        /// Issues read into tasks.
        Import => "import",
        /// Tasks written out as issues.
        Push => "push",
        /// A periodic two-way reconcile: issues changed since the watermark merged,
        /// new ones imported (recorded only when GitHub had something to show).
        Reconcile => "reconcile",
    }
);

pm_kernel::string_enum!(
    /// Where a sync run stands.
    SyncStatus, "status", {
        /// Waiting for a worker (also between retries and after a shutdown).
        Queued => "queued",
        /// A worker is on it (or its process died; its job's lease tells).
        Running => "running",
        /// Parked until `resumes_at` (a GitHub rate limit); continues by itself.
        Waiting => "waiting",
        /// Finished without error.
        Succeeded => "succeeded",
        /// Stopped on an error; `error_code` says which.
        Failed => "failed",
        /// Canceled (`DELETE …/sync-runs/{id}`).
        Canceled => "canceled",
    }
);

impl SyncStatus {
    /// Succeeded, failed or canceled: nothing more happens to the run.
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            SyncStatus::Succeeded | SyncStatus::Failed | SyncStatus::Canceled
        )
    }
}

/// The counts a run accumulates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Tasks or issues created.
    pub created: u32,
    /// Items already linked: `updated + unchanged` in a two-way project (kept for
    /// older clients), every linked item in an `import_only` one.
    pub skipped: u32,
    /// Linked items the merge changed (on either side).
    pub updated: u32,
    /// Linked items already equal on both sides.
    pub unchanged: u32,
    /// Fields changed on both sides to different values (the policy chose).
    pub conflicts: u32,
    /// Pull requests left out of the issue pages.
    pub pull_requests_ignored: u32,
    /// Everything the run saw.
    pub total_seen: u32,
}

/// A recorded import or push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    /// The id.
    pub id: SyncRunId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// Import or push.
    pub kind: SyncKind,
    /// The repository, `owner/name`.
    pub repo: String,
    /// Running, succeeded or failed.
    pub status: SyncStatus,
    /// What it counted.
    pub counts: SyncCounts,
    /// The error code of a failed run, e.g. `GITHUB_RATE_LIMITED`.
    pub error_code: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished, if it did.
    pub finished_at: Option<Timestamp>,
    /// The job that carries the run (runs started through the API); `None` for a
    /// run made in-process (the direct path).
    pub job_id: Option<uuid::Uuid>,
    /// How far the run got (pages stored, tasks still to push).
    pub progress: RunProgress,
    /// While `waiting`: when the run continues by itself.
    pub resumes_at: Option<Timestamp>,
    /// How many times a worker took the run up (from its job; 0 without one).
    pub attempts: u32,
}

/// A run asked for: the new one, or the active one it joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedRun {
    /// The run, as stored.
    pub run: SyncRun,
    /// True when an active run of the same kind was returned instead of a new one.
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
    /// The task's link to the issue.
    pub link: ExternalLink,
    /// The task the issue becomes.
    pub task: NewTask,
    /// The task a push created this issue for, read from the hidden marker in its
    /// body. If that task is in the project and has no issue yet, the import links
    /// it instead of creating a new task (the push died before linking it).
    pub pushed_for: Option<pm_kernel::TaskId>,
    /// The issue's synced fields, stored as the new link's snapshot (the base of
    /// the two-way merge); a link that exists already keeps its own.
    pub snapshot: crate::two_way::IssueFields,
}

/// What storing one page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageImported {
    /// Tasks created.
    pub created: u32,
    /// Issues already linked (their links refreshed).
    pub skipped: u32,
}

/// A task waiting to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCandidate {
    /// The task.
    pub task: Task,
    /// An earlier push recorded that it was about to create this task's issue and
    /// never confirmed it: the issue may exist.
    pub intent_pending: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// A project's tasks still to push.
pub struct PushBacklog {
    /// Tasks without a GitHub issue, by number.
    pub unlinked: Vec<PushCandidate>,
    /// How many tasks are linked already.
    pub linked: u32,
}

/// A run still `running` this long after it started belongs to a process that
/// died; the next run of the project marks it failed (`INTERRUPTED`).
pub const STALE_RUN_AFTER: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// The error code of a run whose process died before finishing it.
pub const INTERRUPTED: &str = "INTERRUPTED";
