//! The merge's storage port: the linked issue with its snapshot, and the atomic
//! application of what a merge decided.

use crate::SyncCounts;
use crate::two_way::{IssueFields, NewConflict, NewSyncEvent};
use async_trait::async_trait;
use pm_kernel::{ProjectId, Result, SyncRunId, TaskId, Timestamp, WorkspaceId};
use pm_tasks::{Task, TaskPatch, TaskStatus};

pm_kernel::string_enum!(
    /// Whether a link still points at a live issue.
    LinkState, "link_state", {
        /// The issue exists and is merged.
        Active => "active",
        /// The issue was deleted on GitHub; the task is kept and no longer merged.
        Deleted => "deleted",
        /// The issue moved to a repository the project does not link.
        Transferred => "transferred",
    }
);

/// A task linked to a GitHub issue, as the merge reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedIssue {
    /// The task, as stored now (its `updated_at` fences the merge's write).
    pub task: Task,
    /// The open status the task had before it was last closed.
    pub reopen_status: Option<TaskStatus>,
    /// The link's row id.
    pub link_id: uuid::Uuid,
    /// GitHub's immutable issue id.
    pub github_issue_id: i64,
    /// The repository the link names (`owner/name`).
    pub repo_full_name: String,
    /// The issue's number there.
    pub issue_number: i64,
    /// The fields as last synced; `None` for a link made before two-way sync.
    pub snapshot: Option<IssueFields>,
    /// The issue's ETag when the snapshot was taken (a conditional re-read).
    pub etag: Option<String>,
    /// Active, deleted or transferred.
    pub state: LinkState,
}

/// What happens to the link itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    /// Nothing.
    Keep,
    /// The issue was deleted: the link is marked `deleted`.
    Deleted,
    /// The issue moved out of the linked repository: the link is marked `transferred`.
    Transferred,
    /// The issue moved within what the project links (e.g. a rename): the link now
    /// names it there.
    Moved {
        /// `owner/name#N`.
        reference: String,
        /// The issue's web URL.
        url: String,
        /// The number there.
        issue_number: i64,
    },
}

/// What one merge of one linked issue writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeApply {
    /// The project.
    pub project_id: ProjectId,
    /// The link.
    pub link_id: uuid::Uuid,
    /// The task.
    pub task_id: TaskId,
    /// The task's `updated_at` as the merge read it: when the task changed since,
    /// nothing is written and the result is [`Applied::Stale`] (merge it again).
    pub expected_updated_at: Timestamp,
    /// GitHub's changes to the task (empty: none). Applied without marking the
    /// issue dirty again, and keeping `reopen_status` as a task update does.
    pub task_patch: TaskPatch,
    /// The new snapshot (`None`: keep the stored one).
    pub snapshot: Option<IssueFields>,
    /// The ETag to store with it.
    pub etag: Option<String>,
    /// What happens to the link.
    pub link: LinkChange,
    /// The journal entries of this merge.
    pub events: Vec<NewSyncEvent>,
    /// The conflicts found.
    pub conflicts: Vec<NewConflict>,
}

/// The result of [`MergeStore::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written.
    Done,
    /// The task changed after the merge read it; nothing was written.
    Stale,
}

/// A project that syncs both ways, for the reconcile tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoWayProject {
    /// The project.
    pub project_id: ProjectId,
    /// Its workspace (whose token is used).
    pub workspace_id: WorkspaceId,
    /// Its slug.
    pub slug: String,
    /// Its repository, `owner/name`.
    pub repo_full_name: String,
}

/// Storage for the merge.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MergeStore: Send + Sync {
    /// The task linked to the issue in the project, with the link, if any.
    async fn linked_issue(
        &self,
        project_id: ProjectId,
        github_issue_id: i64,
    ) -> Result<Option<LinkedIssue>>;

    /// Those of `github_issue_ids` that are linked in the project (a page of a
    /// reconcile or a sync), in one statement.
    async fn linked_issues(
        &self,
        project_id: ProjectId,
        github_issue_ids: &[i64],
    ) -> Result<Vec<LinkedIssue>>;

    /// Writes what the merge decided, all or nothing (see [`MergeApply`]).
    async fn apply(&self, apply: &MergeApply) -> Result<Applied>;

    /// Writes journal entries that go with no other change (a skip, a failure).
    async fn record_events(&self, project_id: ProjectId, events: &[NewSyncEvent]) -> Result<()>;

    /// Adds to a run's counts.
    async fn add_counts(&self, run_id: SyncRunId, counts: SyncCounts) -> Result<()>;

    /// Where the project's last reconcile stopped (`None`: never reconciled).
    async fn reconcile_watermark(&self, project_id: ProjectId) -> Result<Option<Timestamp>>;

    /// Moves the watermark (only ever forward).
    async fn set_reconcile_watermark(
        &self,
        project_id: ProjectId,
        repo_full_name: &str,
        watermark: Timestamp,
    ) -> Result<()>;

    /// Every project with a repository that syncs both ways.
    async fn two_way_projects(&self) -> Result<Vec<TwoWayProject>>;

    /// One project with its slug and repository, whatever its direction (the merge
    /// and reconcile jobs' payloads name only the project); `None` when the project
    /// is gone or has no repository.
    async fn project(&self, project_id: ProjectId) -> Result<Option<TwoWayProject>>;
}
