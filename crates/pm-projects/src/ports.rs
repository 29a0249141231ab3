//! What the project service needs from storage. Every method is scoped by workspace:
//! a project of another workspace is indistinguishable from a missing one.

use crate::{NewProject, Project, ProjectPatch, RepoFullName, Slug};
use async_trait::async_trait;
use pm_kernel::{Actor, Error, Limit, ProjectId, Result, WorkspaceId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Stores a new project together with its spec in `draft`, atomically.
    /// Fails with `Error::Conflict` if the slug is taken.
    async fn create(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        project: &NewProject,
    ) -> Result<Project>;

    async fn get(&self, workspace_id: WorkspaceId, slug: &Slug) -> Result<Option<Project>>;

    /// Projects ordered by id (creation order), starting after `after` if given,
    /// at most `limit + 1` rows (the extra row tells the caller a next page exists).
    async fn list(
        &self,
        workspace_id: WorkspaceId,
        after: Option<ProjectId>,
        limit: Limit,
    ) -> Result<Vec<Project>>;

    /// Applies the patch; `None` if there is no such project.
    async fn update(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        patch: &ProjectPatch,
    ) -> Result<Option<Project>>;

    /// Deletes the project with its spec, tasks and links; false if there was none.
    async fn delete(&self, workspace_id: WorkspaceId, slug: &Slug) -> Result<bool>;

    /// Sets or clears the linked repository; `None` if there is no such project.
    async fn set_github_repo(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        repo: Option<RepoFullName>,
    ) -> Result<Option<Project>>;
}

/// The actor's project with this slug, or `NotFound` — also when the project
/// belongs to another workspace, which must look exactly like a missing one.
pub async fn project_of(
    repo: &dyn ProjectRepository,
    actor: &Actor,
    slug: &Slug,
) -> Result<Project> {
    repo.get(actor.workspace_id, slug)
        .await?
        .ok_or(Error::NotFound("project"))
}
