//! Repositories: listing what the token can see, linking one to a project by hand,
//! and creating one when a project's spec is approved.

use crate::tokens::TokenSource;
use crate::{GithubApi, GithubRepo, NewRepoOptions};
use async_trait::async_trait;
use pm_kernel::{Actor, ConflictReason, Error, Result};
use pm_projects::{Project, ProjectRepository, RepoFullName, Slug, project_of};
use pm_specs::RepoProvisioner;
use std::sync::Arc;

#[derive(Clone)]
/// Listing the repositories a token sees, and linking one to a project.
pub struct RepoService {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
}

impl RepoService {
    /// Wires the service to its ports.
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        github: Arc<dyn GithubApi>,
        tokens: TokenSource,
    ) -> Self {
        Self {
            projects,
            github,
            tokens,
        }
    }

    /// Every repository the workspace's token can access.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<GithubRepo>> {
        let token = self.tokens.token_for(actor.workspace_id).await?;
        Ok(self.github.list_repos(&token).await?)
    }

    /// Links `repo` to the project after checking GitHub shows it to the token.
    /// Admins only. Stores GitHub's spelling of the name.
    pub async fn link(&self, actor: &Actor, slug: &Slug, repo: &RepoFullName) -> Result<Project> {
        actor.require_admin()?;
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let token = self.tokens.token_for(actor.workspace_id).await?;
        let found = self.github.get_repo(&token, repo).await?;
        let canonical = RepoFullName::parse(&found.full_name).unwrap_or_else(|_| repo.clone());
        self.projects
            .set_github_repo(actor.workspace_id, project.id, Some(canonical))
            .await?
            .ok_or(Error::NotFound("project"))
    }
}

/// Creates a private repository named after the project under the configured org
/// and links it. The name-clash retry lives in the GitHub adapter.
#[derive(Clone)]
pub struct GithubRepoProvisioner {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    org: String,
}

impl GithubRepoProvisioner {
    /// Creates repositories in `org` with the workspace's token.
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        github: Arc<dyn GithubApi>,
        tokens: TokenSource,
        org: impl Into<String>,
    ) -> Self {
        Self {
            projects,
            github,
            tokens,
            org: org.into(),
        }
    }
}

#[async_trait]
impl RepoProvisioner for GithubRepoProvisioner {
    async fn provision(&self, project: &Project) -> Result<RepoFullName> {
        let token = self.tokens.token_for(project.workspace_id).await?;
        let options = NewRepoOptions {
            description: Some(project.name.to_string()),
        };
        let created = self
            .github
            .create_org_repo(&token, &self.org, project.slug.as_str(), &options)
            .await?;
        let full_name = RepoFullName::parse(&created.full_name).map_err(|_| {
            Error::internal(format!(
                "GitHub returned an unexpected repository name {:?}",
                created.full_name
            ))
        })?;
        // Never overwrite a repository linked meanwhile (by hand, say).
        if self
            .projects
            .set_github_repo_if_unset(project.workspace_id, project.id, full_name.clone())
            .await?
            .is_none()
        {
            tracing::warn!(
                slug = %project.slug,
                created = %full_name,
                "the project got a repository while this one was being created; the new repository is not linked and can be deleted"
            );
            return Err(Error::conflict(
                ConflictReason::RepoAlreadyLinked,
                format!(
                    "the project got a repository meanwhile; {full_name} was created but not linked"
                ),
            ));
        }
        Ok(full_name)
    }
}

#[cfg(test)]
mod tests;
