//! The sync journal: every decision a merge, import or push made, per run and per
//! task, and the conflicts (both values and the policy's choice). Written by the
//! stores in the same transaction as the change it describes ([`NewSyncEvent`]),
//! read here for `…/sync-runs/{id}/events`, `…/tasks/{number}/sync-events`,
//! `…/github/conflicts` and `…/github/health`.

use crate::two_way::{ConflictPolicy, IssueFields};
use async_trait::async_trait;
use pm_kernel::{Limit, ProjectId, Result, SyncRunId, TaskId, Timestamp};
use serde_json::Value;

pm_kernel::string_enum!(
    /// What a journal entry records.
    SyncEventKind, "kind", {
        /// A task was created from an issue, or an issue from a task.
        Created => "created",
        /// A field was written on one side (`direction`), from → to.
        Updated => "updated",
        /// A delivery of pmhub's own change came back equal to the snapshot.
        EchoIgnored => "echo_ignored",
        /// Both sides changed a field to different values; the policy chose.
        Conflict => "conflict",
        /// Nothing was done, for a reason (`detail`), e.g. an `import_only` project.
        Skipped => "skipped",
        /// The merge of this item failed (`detail` is the error code).
        Failed => "failed",
        /// The task was deleted: its link went, the issue stays on GitHub.
        LinkRemoved => "link_removed",
        /// The issue was deleted on GitHub: the task stays, its link is marked.
        LinkDeleted => "link_deleted",
        /// The issue moved to a repository the project does not link.
        LinkTransferred => "link_transferred",
    }
);

pm_kernel::string_enum!(
    /// Which side a change was written to.
    SyncDirectionOfChange, "direction", {
        /// GitHub's value was applied to the task.
        ToPmhub => "to_pmhub",
        /// The task's value was sent to GitHub.
        ToGithub => "to_github",
    }
);

pm_kernel::string_enum!(
    /// A synced field.
    SyncField, "field", {
        /// The title.
        Title => "title",
        /// The body / description.
        Body => "body",
        /// Open/closed and why, or the task status.
        Status => "status",
        /// The labels.
        Labels => "labels",
    }
);

impl SyncField {
    /// Every synced field, in the order the merge looks at them.
    pub const ALL: [SyncField; 4] = [
        SyncField::Title,
        SyncField::Body,
        SyncField::Status,
        SyncField::Labels,
    ];

    /// The field's value in `fields`, as JSON (a string, or a sorted array of labels).
    pub fn value_in(self, fields: &IssueFields) -> Value {
        match self {
            SyncField::Title => Value::from(fields.title.as_str()),
            SyncField::Body => Value::from(fields.body.as_str()),
            SyncField::Status => Value::from(fields.status.as_str()),
            SyncField::Labels => Value::from(fields.labels.iter().cloned().collect::<Vec<_>>()),
        }
    }
}

/// A journal entry to write, in the transaction of the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSyncEvent {
    /// The run it belongs to (imports, pushes, reconciles; `None` for a merge
    /// caused by a delivery or a task edit).
    pub run_id: Option<SyncRunId>,
    /// The task, if any.
    pub task_id: Option<TaskId>,
    /// The task's number, if any (kept when the task is deleted).
    pub task_number: Option<i64>,
    /// The issue's number, if any.
    pub issue_number: Option<i64>,
    /// What happened.
    pub kind: SyncEventKind,
    /// For `updated` and `conflict`: the side written.
    pub direction: Option<SyncDirectionOfChange>,
    /// For `updated` and `conflict`: the field.
    pub field: Option<SyncField>,
    /// The value before.
    pub from_value: Option<Value>,
    /// The value after.
    pub to_value: Option<Value>,
    /// A skip's reason, a failure's error code, or what caused the merge
    /// (`issues.closed`, `task.edited`, `reconcile`, `sync`).
    pub detail: Option<String>,
}

impl NewSyncEvent {
    /// An event of `kind` with nothing else set.
    pub fn new(kind: SyncEventKind) -> Self {
        Self {
            run_id: None,
            task_id: None,
            task_number: None,
            issue_number: None,
            kind,
            direction: None,
            field: None,
            from_value: None,
            to_value: None,
            detail: None,
        }
    }
}

/// A stored journal entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncEvent {
    /// The id (UUIDv7: ordered by time).
    pub id: uuid::Uuid,
    /// What was recorded.
    pub event: NewSyncEvent,
    /// When.
    pub created_at: Timestamp,
}

/// A conflict to record: both sides changed `field` to different values.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict {
    /// The run, if the merge ran in one.
    pub run_id: Option<SyncRunId>,
    /// The task.
    pub task_id: TaskId,
    /// The task's number.
    pub task_number: i64,
    /// The issue's number.
    pub issue_number: i64,
    /// The field.
    pub field: SyncField,
    /// The value both sides started from (the snapshot's), if known.
    pub base_value: Option<Value>,
    /// The task's value.
    pub pmhub_value: Value,
    /// GitHub's value.
    pub github_value: Value,
    /// The policy that chose (the winner follows from it).
    pub policy: ConflictPolicy,
}

/// A stored conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The id.
    pub id: uuid::Uuid,
    /// What was recorded.
    pub conflict: NewConflict,
    /// When it was found.
    pub detected_at: Timestamp,
    /// When a person acknowledged it (`None`: open).
    pub acknowledged_at: Option<Timestamp>,
}

/// The health of a project's sync (`GET …/github/health`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncHealth {
    /// The last delivery received for the project's repository.
    pub last_delivery_at: Option<Timestamp>,
    /// When the last reconcile of the project finished.
    pub last_reconcile_at: Option<Timestamp>,
    /// The project's sync jobs queued, running or waiting.
    pub pending_jobs: u32,
    /// The project's sync jobs that failed for good (kept until cleaned).
    pub failed_jobs: u32,
    /// Conflicts not yet acknowledged.
    pub open_conflicts: u32,
    /// The last error: a failed run's or a failed journal entry's code.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<Timestamp>,
}

/// Reads of the journal (writes go with the changes, through the stores).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncJournal: Send + Sync {
    /// A run's events, oldest first, after `after` if given, at most `limit + 1`.
    async fn run_events(
        &self,
        project_id: ProjectId,
        run_id: SyncRunId,
        after: Option<uuid::Uuid>,
        limit: Limit,
    ) -> Result<Vec<SyncEvent>>;

    /// A task's events (by number: they outlive the task), newest first, before
    /// `before` if given, at most `limit + 1`.
    async fn task_events(
        &self,
        project_id: ProjectId,
        task_number: i64,
        before: Option<uuid::Uuid>,
        limit: Limit,
    ) -> Result<Vec<SyncEvent>>;

    /// The project's conflicts, newest first (only open ones if `open_only`), before
    /// `before` if given, at most `limit + 1`.
    async fn conflicts(
        &self,
        project_id: ProjectId,
        open_only: bool,
        before: Option<uuid::Uuid>,
        limit: Limit,
    ) -> Result<Vec<Conflict>>;

    /// Marks a conflict acknowledged; false if the project has no such conflict.
    async fn acknowledge_conflict(&self, project_id: ProjectId, id: uuid::Uuid) -> Result<bool>;

    /// The health view.
    async fn health(&self, project_id: ProjectId) -> Result<SyncHealth>;
}
