//! Two-way sync (issue 11, ADR 0024): the fields kept equal on both sides, the
//! project's settings, the three-way merge against the snapshot of each linked
//! issue, the jobs that run it (after a delivery or a task edit, and the periodic
//! reconcile), and the journal of what it decided.

pub mod fields;
pub mod jobs;
pub mod journal;
pub mod merge;
pub mod merger;
pub mod reconcile;
pub mod service;
pub mod settings;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;

pub use fields::{IssueFields, IssueStatus};
pub use jobs::{MergeJobHandler, TwoWaySync};
pub use journal::{
    Conflict, NewConflict, NewSyncEvent, SyncDirectionOfChange, SyncEvent, SyncEventKind,
    SyncField, SyncHealth, SyncJournal,
};
pub use merger::{MergeScope, Merged, TwoWayMerger};
pub use reconcile::{
    DEFAULT_RECONCILE_INTERVAL_SECS, ReconcileJobHandler, ReconcileTickHandler, reconcile_job,
};
pub use service::{ConflictFilter, ProjectSyncHealth, TwoWayService};
pub use settings::{
    ConflictPolicy, SyncDirection, SyncSettings, SyncSettingsPatch, SyncSettingsStore,
};
pub use store::{
    Applied, LinkChange, LinkState, LinkedIssue, MergeApply, MergeStore, TwoWayProject,
};

#[cfg(any(test, feature = "mocks"))]
pub use journal::MockSyncJournal;
#[cfg(any(test, feature = "mocks"))]
pub use settings::MockSyncSettingsStore;
#[cfg(any(test, feature = "mocks"))]
pub use store::MockMergeStore;

use pm_jobs::NewJob;
use pm_kernel::{ProjectId, WorkspaceId};

/// The job that merges a project's dirty issues (marked by deliveries and task
/// edits); payload [`MergePayload`]. One per project at a time; a mark made while
/// it runs makes it run once more (`jobs.rerun`).
pub const MERGE_JOB: &str = "github.merge";
/// The job that reconciles one project's repository; payload [`MergePayload`].
pub const RECONCILE_JOB: &str = "github.reconcile";
/// The periodic job that enqueues a reconcile per two-way project.
pub const RECONCILE_TICK_JOB: &str = "github.reconcile_tick";

/// What the merge and reconcile jobs carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergePayload {
    /// The project.
    pub project_id: uuid::Uuid,
    /// Its workspace (whose GitHub token the job uses).
    pub workspace_id: uuid::Uuid,
}

/// The concurrency key of the project's merge job.
pub fn merge_key(project_id: ProjectId) -> String {
    format!("github:merge:project:{project_id}")
}

/// The concurrency key of the project's reconcile job.
pub fn reconcile_key(project_id: ProjectId) -> String {
    format!("github:reconcile:project:{project_id}")
}

/// The merge job of a project (stores that mark issues dirty enqueue it in the
/// same transaction, with SQL of the same shape).
pub fn merge_job(project_id: ProjectId, workspace_id: WorkspaceId) -> NewJob {
    let payload = MergePayload {
        project_id: project_id.into_uuid(),
        workspace_id: workspace_id.into_uuid(),
    };
    NewJob::new(MERGE_JOB, serde_json::to_value(payload).unwrap_or_default())
        .concurrency_key(merge_key(project_id))
        .project(project_id)
        .workspace(workspace_id)
}
