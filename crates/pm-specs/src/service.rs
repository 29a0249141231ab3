//! The spec workflow.

use crate::{RepoProvisioner, Spec, SpecContent, SpecRepository, SpecStatus};
use pm_kernel::{Actor, ConflictReason, Error, Result};
use pm_projects::{
    LeaseGuard, LeasePurpose, Project, ProjectLeases, ProjectRepository, Slug, project_of,
};
use std::sync::Arc;
use std::time::Duration;

/// What happened to the project's repository when its spec was approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryOutcome {
    /// A repository was created and linked to the project.
    Created {
        /// The repository, `owner/name`.
        full_name: String,
    },
    /// The project already had a repository; nothing was called.
    AlreadySet {
        /// The repository, `owner/name`.
        full_name: String,
    },
    /// Creating it failed; the approval stands and an admin can link one by hand.
    Failed {
        /// The stable code of the failure.
        error_code: String,
    },
}

/// The result of an approval: the spec (now in review) and the repository outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The spec, now in review.
    pub spec: Spec,
    /// What happened to the repository.
    pub repository: RepositoryOutcome,
}

/// How long an approval may take to create the repository before another
/// approval may try (the GitHub call itself times out well before).
const PROVISION_LEASE: Duration = Duration::from_secs(120);

#[derive(Clone)]
/// The spec workflow, with repository creation on approval.
pub struct SpecService {
    projects: Arc<dyn ProjectRepository>,
    specs: Arc<dyn SpecRepository>,
    provisioner: Arc<dyn RepoProvisioner>,
    leases: Arc<dyn ProjectLeases>,
}

impl SpecService {
    /// Wires the service to its ports.
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        specs: Arc<dyn SpecRepository>,
        provisioner: Arc<dyn RepoProvisioner>,
        leases: Arc<dyn ProjectLeases>,
    ) -> Self {
        Self {
            projects,
            specs,
            provisioner,
            leases,
        }
    }

    async fn project(&self, actor: &Actor, slug: &Slug) -> Result<Project> {
        project_of(self.projects.as_ref(), actor, slug).await
    }

    async fn spec_of(&self, project: &Project) -> Result<Spec> {
        self.specs
            .get(project.id)
            .await?
            .ok_or(Error::NotFound("spec"))
    }

    /// The project's spec.
    pub async fn get(&self, actor: &Actor, slug: &Slug) -> Result<Spec> {
        let project = self.project(actor, slug).await?;
        self.spec_of(&project).await
    }

    /// Replaces the content. An approved spec (in `review`) is locked: changing it
    /// would silently change what was approved.
    pub async fn edit(&self, actor: &Actor, slug: &Slug, content: SpecContent) -> Result<Spec> {
        let project = self.project(actor, slug).await?;
        let spec = self.spec_of(&project).await?;
        if spec.status == SpecStatus::Review {
            return Err(Error::conflict(
                ConflictReason::SpecStatus,
                "the spec is approved (in review) and can no longer be edited",
            ));
        }
        self.specs
            .update_content(project.id, spec.status, &content)
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    ConflictReason::SpecStatus,
                    "the spec changed meanwhile; read it and try again",
                )
            })
    }

    /// `draft` → `interviewing`.
    pub async fn submit(&self, actor: &Actor, slug: &Slug) -> Result<Spec> {
        let project = self.project(actor, slug).await?;
        self.transition(&project, SpecStatus::Draft, SpecStatus::Interviewing)
            .await
    }

    /// `interviewing` → `review`, admins only; idempotent when already in `review`.
    /// Then, if the project has no repository, asks the provisioner for one. A
    /// provisioning failure is logged and reported, never undoes the approval.
    pub async fn approve(&self, actor: &Actor, slug: &Slug) -> Result<Approval> {
        actor.require_admin()?;
        let project = self.project(actor, slug).await?;
        let current = self.spec_of(&project).await?;
        let spec = if current.status == SpecStatus::Review {
            current
        } else {
            match self
                .specs
                .transition(project.id, SpecStatus::Interviewing, SpecStatus::Review)
                .await?
            {
                Some(spec) => spec,
                // Lost a race: if another approval won it, this one is a repeat.
                None => {
                    let now = self.spec_of(&project).await?;
                    if now.status != SpecStatus::Review {
                        return Err(illegal(
                            now.status,
                            SpecStatus::Interviewing,
                            SpecStatus::Review,
                        ));
                    }
                    now
                }
            }
        };
        let repository = self.provision_repository(&project, &spec).await;
        Ok(Approval { spec, repository })
    }

    /// Creates the project's repository unless it has one. Two approvals at once
    /// (a double click) must not create two repositories: the provisioning lease
    /// lets one through, and the project is read again once it is held.
    async fn provision_repository(&self, project: &Project, spec: &Spec) -> RepositoryOutcome {
        if let Some(repo) = &project.github_repo {
            return RepositoryOutcome::AlreadySet {
                full_name: repo.to_string(),
            };
        }
        let lease = match LeaseGuard::acquire(
            self.leases.as_ref(),
            project.id,
            LeasePurpose::Provision,
            PROVISION_LEASE,
        )
        .await
        {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                let busy = Error::conflict(
                    ConflictReason::LeaseHeld,
                    "another approval is creating this project's repository",
                );
                return failed(project, spec, &busy);
            }
            Err(err) => return failed(project, spec, &err),
        };
        let outcome = match self.projects.get(project.workspace_id, &project.slug).await {
            Ok(Some(current)) if current.github_repo.is_some() => RepositoryOutcome::AlreadySet {
                full_name: current
                    .github_repo
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            },
            Ok(_) => match self.provisioner.provision(project).await {
                Ok(full_name) => {
                    tracing::info!(
                        slug = %project.slug,
                        repository = %full_name,
                        "created the project's repository on approval"
                    );
                    RepositoryOutcome::Created {
                        full_name: full_name.to_string(),
                    }
                }
                Err(err) => failed(project, spec, &err),
            },
            Err(err) => failed(project, spec, &err),
        };
        if let Err(err) = lease.release().await {
            tracing::warn!(slug = %project.slug, error = %err, "could not release the provisioning lease; it expires by itself");
        }
        outcome
    }

    async fn transition(
        &self,
        project: &Project,
        from: SpecStatus,
        to: SpecStatus,
    ) -> Result<Spec> {
        if let Some(spec) = self.specs.transition(project.id, from, to).await? {
            return Ok(spec);
        }
        let actual = self.spec_of(project).await?.status;
        Err(illegal(actual, from, to))
    }
}

fn illegal(actual: SpecStatus, from: SpecStatus, to: SpecStatus) -> Error {
    Error::conflict(
        ConflictReason::SpecStatus,
        format!("the spec is in `{actual}`; only a spec in `{from}` can move to `{to}`"),
    )
}

/// Logs a failed repository creation as one structured event and reports it.
/// `status` is GitHub's HTTP status (absent when GitHub gave no answer, or the error
/// is not GitHub's); `spec_status` is the spec's. The error's Display never holds a
/// token: GitHub errors carry only GitHub's message and our own text.
fn failed(project: &Project, spec: &Spec, err: &Error) -> RepositoryOutcome {
    let http_status = match err {
        Error::Github(g) => g.status(),
        _ => None,
    };
    tracing::warn!(
        slug = %project.slug,
        status = http_status,
        spec_status = %spec.status,
        github_error = err.code(),
        detail = %err,
        "spec approved but the repository could not be created"
    );
    RepositoryOutcome::Failed {
        error_code: err.code().to_string(),
    }
}

#[cfg(test)]
mod tests;
