use crate::{NewTask, Task, TaskFilter, TaskPatch};
use async_trait::async_trait;
use pm_kernel::{Limit, ProjectId, Result, WorkspaceId};
use pm_projects::Slug;

/// Task storage. Callers have already checked that the project belongs to the
/// caller's workspace, so methods take a `ProjectId` — except the listing, which
/// resolves the project itself (the read path's hot request, in one step).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Stores the task under the project's next number. Numbers are 1, 2, 3… with
    /// no gaps or repeats, also under concurrent creates.
    async fn create(&self, project_id: ProjectId, task: &NewTask) -> Result<Task>;

    /// The task with this number, `None` if there is none.
    async fn get(&self, project_id: ProjectId, number: i64) -> Result<Option<Task>>;

    /// The tasks of the project `slug` of `workspace_id`, by ascending number
    /// after `after_number`, at most `limit + 1` rows (the extra row tells the
    /// caller a next page exists), with their external links. `None` when the
    /// workspace has no such project: another workspace's project must look
    /// exactly like a missing one. `Some(vec![])` is a project with no matching
    /// task.
    async fn list_in_project(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        filter: TaskFilter,
        after_number: Option<i64>,
        limit: Limit,
    ) -> Result<Option<Vec<Task>>>;

    /// Applies the patch; `None` if there is no such task.
    async fn update(
        &self,
        project_id: ProjectId,
        number: i64,
        patch: &TaskPatch,
    ) -> Result<Option<Task>>;

    /// Deletes the task; false if there was none.
    async fn delete(&self, project_id: ProjectId, number: i64) -> Result<bool>;
}
