use crate::{Spec, SpecContent, SpecStatus};
use async_trait::async_trait;
use pm_kernel::{ProjectId, Result};
use pm_projects::{Project, RepoFullName};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// Storage of specs, one per project.
pub trait SpecRepository: Send + Sync {
    /// The project's spec, `None` if there is none.
    async fn get(&self, project_id: ProjectId) -> Result<Option<Spec>>;

    /// Replaces the content if the spec is still in `expected` (so an edit cannot
    /// slip in after a concurrent approval). `None` if it was not.
    async fn update_content(
        &self,
        project_id: ProjectId,
        expected: SpecStatus,
        content: &SpecContent,
    ) -> Result<Option<Spec>>;

    /// Moves the spec from `from` to `to` only if it is still in `from` (compare and
    /// set, so two racing transitions cannot both win). `None` if it was not in `from`.
    async fn transition(
        &self,
        project_id: ProjectId,
        from: SpecStatus,
        to: SpecStatus,
    ) -> Result<Option<Spec>>;
}

/// Sets up a project's source repository once its spec is approved.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RepoProvisioner: Send + Sync {
    /// Creates a repository for `project` (which has none yet), links it to the
    /// project and returns its `owner/name`.
    async fn provision(&self, project: &Project) -> Result<RepoFullName>;
}
