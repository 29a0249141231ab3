//! What the project service needs from storage. Every method is scoped by workspace:
//! a project of another workspace is indistinguishable from a missing one.

use crate::{NewProject, Project, ProjectPatch, RepoFullName, Slug};
use async_trait::async_trait;
use pm_kernel::{Actor, Error, Limit, ProjectId, Result, WorkspaceId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// Storage of a workspace's projects.
pub trait ProjectRepository: Send + Sync {
    /// Stores a new project together with its spec in `draft`, atomically.
    /// Fails with `Error::Conflict` for [`ConflictReason::SlugTaken`](pm_kernel::ConflictReason::SlugTaken)
    /// if the slug is taken.
    async fn create(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        project: &NewProject,
    ) -> Result<Project>;

    /// The workspace's project with this slug, `None` if there is none.
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

    /// Links `repo` only if the project has no repository yet (so an automatic
    /// link never overwrites one set meanwhile); `None` if it had one or there is
    /// no such project.
    async fn set_github_repo_if_unset(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        repo: RepoFullName,
    ) -> Result<Option<Project>>;

    /// Sets or clears the linked repository; `None` if there is no such project.
    async fn set_github_repo(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        repo: Option<RepoFullName>,
    ) -> Result<Option<Project>>;
}

pm_kernel::string_enum!(
    /// What a project lease is for; each purpose is leased independently.
    LeasePurpose, "purpose", {
        /// Pushing the project's tasks to GitHub.
        Push => "push",
        /// Creating the project's repository when its spec is approved.
        Provision => "provision",
    }
);

/// Exclusive, expiring claims on a project for long-running work. A holder
/// renews its lease as it goes (calling `acquire` again) and releases it when
/// done; the lease of a holder that died expires on its own.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectLeases: Send + Sync {
    /// Takes the lease for `ttl`, or extends it: true when it was free, expired,
    /// or already `holder`'s.
    async fn acquire(
        &self,
        project_id: ProjectId,
        purpose: LeasePurpose,
        holder: uuid::Uuid,
        ttl: std::time::Duration,
    ) -> Result<bool>;

    /// Gives the lease up, if `holder` still holds it.
    async fn release(
        &self,
        project_id: ProjectId,
        purpose: LeasePurpose,
        holder: uuid::Uuid,
    ) -> Result<()>;
}

/// One holder's claim on a project lease: the whole acquire → renew → release
/// sequence of [`ProjectLeases`] in one place, so each kind of long-running work
/// (a push, an approval's provisioning) holds its lease the same way.
///
/// The guard makes up its own holder id. Releasing is explicit (there is no
/// async drop): call [`LeaseGuard::release`] when the work is done, whatever its
/// outcome. A guard that is never released (the process died) expires after its
/// `ttl` on its own.
pub struct LeaseGuard<'a> {
    leases: &'a dyn ProjectLeases,
    project_id: ProjectId,
    purpose: LeasePurpose,
    holder: uuid::Uuid,
    ttl: std::time::Duration,
}

impl<'a> LeaseGuard<'a> {
    /// Takes the project's lease for `purpose` for `ttl`. `None` when another
    /// holder has it and it has not expired.
    pub async fn acquire(
        leases: &'a dyn ProjectLeases,
        project_id: ProjectId,
        purpose: LeasePurpose,
        ttl: std::time::Duration,
    ) -> Result<Option<Self>> {
        let guard = Self {
            leases,
            project_id,
            purpose,
            holder: uuid::Uuid::now_v7(),
            ttl,
        };
        Ok(guard.renew().await?.then_some(guard))
    }

    /// [`LeaseGuard::acquire`] for a given, stable holder: the same work taken up
    /// again (a job resumed after its process died) gets the lease back at once,
    /// without waiting for the dead holder's lease to expire.
    pub async fn acquire_as(
        leases: &'a dyn ProjectLeases,
        project_id: ProjectId,
        purpose: LeasePurpose,
        holder: uuid::Uuid,
        ttl: std::time::Duration,
    ) -> Result<Option<Self>> {
        let guard = Self {
            leases,
            project_id,
            purpose,
            holder,
            ttl,
        };
        Ok(guard.renew().await?.then_some(guard))
    }

    /// Extends the lease by its `ttl` from now. False when another holder took it
    /// over meanwhile (this one was slower than `ttl`): the work must stop.
    pub async fn renew(&self) -> Result<bool> {
        self.leases
            .acquire(self.project_id, self.purpose, self.holder, self.ttl)
            .await
    }

    /// Gives the lease up (only if this guard still holds it). A failure here is
    /// worth a warning, not an error: the lease expires by itself.
    pub async fn release(self) -> Result<()> {
        self.leases
            .release(self.project_id, self.purpose, self.holder)
            .await
    }

    /// What the lease is for.
    pub const fn purpose(&self) -> LeasePurpose {
        self.purpose
    }
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
