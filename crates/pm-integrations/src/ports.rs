//! The ports of the integration. Each documents the errors it may return.

use crate::{
    GithubCredential, GithubIssue, GithubRepo, GithubUser, HookRegistration, IssueImport,
    IssuePage, IssuePageRequest, IssuePatch, IssueRead, NewHook, NewIssue, NewRepoOptions,
    PageImported, PushBacklog, SealedSecret, StartedRun, SyncCounts, SyncKind, SyncRun, SyncStatus,
};
use async_trait::async_trait;
use pm_jobs::NewJob;
use pm_kernel::{GithubError, Limit, ProjectId, Result, SyncRunId, TaskId, Timestamp, WorkspaceId};
use pm_projects::RepoFullName;
use pm_tasks::ExternalLink;
use secrecy::SecretString;

/// GitHub's REST API. Every method fails only with a [`GithubError`]: 401 →
/// `Unauthorized`, 403 → `Forbidden` (or `RateLimited` when GitHub says so), 404 →
/// `NotFound`, 5xx/time-outs/connection errors → `Unavailable` after bounded retries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GithubApi: Send + Sync {
    /// The host the adapter talks to (e.g. `github.com`); scopes dedup keys so two
    /// GitHub installations cannot collide.
    fn host(&self) -> String;

    /// `GET /user`: verifies a token and tells whose it is.
    async fn current_user(&self, token: &SecretString) -> Result<GithubUser, GithubError>;

    /// `GET /user/repos`, every page.
    async fn list_repos(&self, token: &SecretString) -> Result<Vec<GithubRepo>, GithubError>;

    /// `GET /repos/{owner}/{repo}`.
    async fn get_repo(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
    ) -> Result<GithubRepo, GithubError>;

    /// One page of issues (`state=all`, `per_page=100`), pull requests left out.
    async fn list_issues(
        &self,
        token: &SecretString,
        page: &IssuePageRequest,
    ) -> Result<IssuePage, GithubError>;

    /// `POST /repos/{owner}/{repo}/issues`.
    async fn create_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        issue: &NewIssue,
    ) -> Result<GithubIssue, GithubError>;

    /// `GET /repos/{owner}/{repo}/issues/{number}`, conditional on `etag` when
    /// given. A transferred issue is followed (GitHub answers `301`); a deleted one
    /// is [`IssueRead::Deleted`], an invisible one [`IssueRead::Missing`] — neither is
    /// an error. A pull request is `Missing` (pmhub never syncs them).
    async fn get_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        etag: Option<String>,
    ) -> Result<IssueRead, GithubError>;

    /// `PATCH /repos/{owner}/{repo}/issues/{number}` with the fields the patch sets;
    /// returns the issue as GitHub stored it. Content-creating: callers pace it.
    async fn update_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        patch: &IssuePatch,
    ) -> Result<GithubIssue, GithubError>;

    /// `POST /repos/{owner}/{repo}/hooks` (`content_type: json`). Needs admin rights
    /// on the repository: without them GitHub answers 403/404 (`Forbidden`/`NotFound`).
    async fn create_hook(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        hook: &NewHook,
    ) -> Result<HookRegistration, GithubError>;

    /// `POST /orgs/{org}/repos` with `private: true`. When the name exists, retries
    /// once as `{name}-{nanoid(4)}`; a second clash is `RepoNameTaken`.
    async fn create_org_repo(
        &self,
        token: &SecretString,
        org: &str,
        name: &str,
        options: &NewRepoOptions,
    ) -> Result<GithubRepo, GithubError>;
}

/// Encrypts secrets at rest. `context` is bound into the ciphertext (AEAD
/// associated data): opening with a different context fails.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretCipher: Send + Sync {
    /// Encrypts `secret`, binding `context` into the ciphertext.
    fn seal(&self, secret: &SecretString, context: &[u8]) -> Result<SealedSecret>;

    /// Fails with `Error::Internal` on a wrong or missing key, a tampered
    /// ciphertext or a different context, never with the plaintext in the message.
    fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<SecretString>;

    /// The id of the key new secrets are sealed with.
    fn current_key_id(&self) -> String;
}

/// Storage of workspaces' GitHub credentials (already sealed).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores the workspace's credential, replacing any previous one.
    async fn put(&self, credential: &GithubCredential) -> Result<()>;

    /// The workspace's credential, if it has one.
    async fn get(&self, workspace_id: WorkspaceId) -> Result<Option<GithubCredential>>;

    /// False when the workspace had no credential.
    async fn delete(&self, workspace_id: WorkspaceId) -> Result<bool>;

    /// Every stored credential, for key rotation.
    async fn all(&self) -> Result<Vec<GithubCredential>>;

    /// Replaces a credential's ciphertext if it is still sealed under `expected_key_id`
    /// (so a concurrent reconnect is not overwritten). True when replaced.
    async fn reseal(
        &self,
        credential_id: uuid::Uuid,
        expected_key_id: &str,
        sealed: &SealedSecret,
    ) -> Result<bool>;
}

/// Storage of imports and pushes: sync runs and the atomic per-page import.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Records a new run as `running`.
    async fn start_run(
        &self,
        project_id: ProjectId,
        kind: SyncKind,
        repo: &str,
    ) -> Result<SyncRunId>;

    /// Marks the project's runs still `running` that started before
    /// `started_before` as failed with `error_code` (their process died); returns
    /// how many there were.
    async fn fail_stale_runs(
        &self,
        project_id: ProjectId,
        started_before: Timestamp,
        error_code: String,
    ) -> Result<u64>;

    /// Stores one page in one transaction, with a constant number of statements:
    /// issues whose dedup key is already linked in the project are skipped (their
    /// link's reference and URL are refreshed, e.g. after a rename); the others
    /// become tasks with the project's next numbers, each with its link. Counts are
    /// added to the run in the same transaction. A unique index on
    /// (project, provider, dedup key) makes concurrent imports safe.
    async fn import_page(
        &self,
        project_id: ProjectId,
        run_id: SyncRunId,
        issues: &[IssueImport],
        extra: SyncCounts,
    ) -> Result<PageImported>;

    /// Records a run of the project to be carried out by `job`, in one
    /// transaction with the job (an outbox): both or neither. When an active job
    /// has the same concurrency key, nothing is written and the run of that job is
    /// returned with `joined: true`.
    async fn enqueue_run(
        &self,
        run_id: SyncRunId,
        project_id: ProjectId,
        kind: SyncKind,
        repo: &str,
        job: NewJob,
    ) -> Result<StartedRun>;

    /// [`SyncStore::import_page`], and in the same transaction the run's position:
    /// one more page stored, and `next_page` (the link to continue at, `None`
    /// after the last page). A resumed import continues exactly there.
    async fn store_page(
        &self,
        project_id: ProjectId,
        run_id: SyncRunId,
        issues: &[IssueImport],
        extra: SyncCounts,
        next_page: Option<String>,
    ) -> Result<PageImported>;

    /// Sets a run's non-final state (`queued`, `running`, `waiting`), with when it
    /// resumes (waiting) and the error that sent it back, if any.
    async fn set_run_state(
        &self,
        run_id: SyncRunId,
        status: SyncStatus,
        resumes_at: Option<Timestamp>,
        error_code: Option<String>,
    ) -> Result<()>;

    /// A push's live counts and the tasks it still has to push.
    async fn set_push_progress(
        &self,
        run_id: SyncRunId,
        counts: SyncCounts,
        tasks_remaining: u32,
    ) -> Result<()>;

    /// Marks the run finished with its final status and, if failed, its error code.
    async fn finish_run(
        &self,
        run_id: SyncRunId,
        status: SyncStatus,
        counts: Option<SyncCounts>,
        error_code: Option<String>,
    ) -> Result<()>;

    /// One run by id, `None` if there is none. Part of the port for readers of a
    /// single run (the coming `GET /sync-runs/{id}` and background jobs); the
    /// services here list runs instead.
    async fn get_run(&self, run_id: SyncRunId) -> Result<Option<SyncRun>>;

    /// Newest first, after `before` if given, at most `limit + 1`.
    async fn list_runs(
        &self,
        project_id: ProjectId,
        before: Option<SyncRunId>,
        limit: Limit,
    ) -> Result<Vec<SyncRun>>;
}

/// Storage for pushes: the backlog of unlinked tasks and the intents that make a
/// push safe to repeat after a crash. (Only one push runs per project at a time;
/// that is the `Push` lease of `pm_projects::ProjectLeases`, held through a
/// `LeaseGuard`, not this port.)
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PushStore: Send + Sync {
    /// The project's tasks without a GitHub link (by number, with whether an
    /// intent is pending for each) and how many tasks are linked already.
    async fn backlog(&self, project_id: ProjectId) -> Result<PushBacklog>;

    /// Records, before the issue is created, that this run is about to create one.
    async fn record_intent(
        &self,
        project_id: ProjectId,
        task_id: TaskId,
        run_id: SyncRunId,
    ) -> Result<()>;

    /// Forgets an intent whose issue was certainly not created.
    async fn clear_intent(&self, task_id: TaskId) -> Result<()>;

    /// Links the task to its issue and clears its intent, in one transaction.
    /// `snapshot` is the pushed issue's fields (`IssueFields::of_issue`), stored
    /// as the link's snapshot. False when the task was linked already (the link is
    /// left as it was).
    async fn link_pushed(
        &self,
        project_id: ProjectId,
        task_id: TaskId,
        dedup_key: String,
        link: ExternalLink,
        snapshot: crate::two_way::IssueFields,
    ) -> Result<bool>;
}

/// Spaces out content-creating calls (GitHub's secondary limits: about 80 a
/// minute, at least a second apart).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Pacer: Send + Sync {
    /// Returns when the next create may be sent.
    async fn before_create(&self);
}
