//! Repositories: listing what the token can see, linking one to a project by hand,
//! and creating one when a project's spec is approved; both register the
//! repository's webhook when pmhub can ([`hooks`]).

pub mod hooks;

use crate::tokens::TokenSource;
use crate::{GithubApi, GithubRepo, NewRepoOptions};
use async_trait::async_trait;
use pm_kernel::{Actor, ConflictReason, Error, Result};
use pm_projects::{Project, ProjectRepository, RepoFullName, Slug, project_of};
use pm_specs::RepoProvisioner;
use std::sync::Arc;

pub use hooks::{HookConfig, ManualReason, WebhookOutcome};

/// A repository linked to a project, and what happened to its webhook.
#[derive(Debug, Clone)]
pub struct LinkedRepo {
    /// The project, with its new repository.
    pub project: Project,
    /// The webhook's registration (it never undoes the link).
    pub webhook: WebhookOutcome,
}

#[derive(Clone)]
/// Listing the repositories a token sees, and linking one to a project.
pub struct RepoService {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    hooks: HookConfig,
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
            hooks: HookConfig::default(),
        }
    }

    /// Registers the webhook of each repository it links, as `hooks` allows.
    #[must_use]
    pub fn with_hooks(mut self, hooks: HookConfig) -> Self {
        self.hooks = hooks;
        self
    }

    /// Every repository the workspace's token can access.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<GithubRepo>> {
        let token = self.tokens.token_for(actor.workspace_id).await?;
        Ok(self.github.list_repos(&token).await?)
    }

    /// Links `repo` to the project after checking GitHub shows it to the token.
    /// Admins only. Stores GitHub's spelling of the name. Then registers the
    /// repository's webhook (when configured); that step's failure is reported in
    /// [`LinkedRepo::webhook`] and never undoes the link.
    pub async fn link(
        &self,
        actor: &Actor,
        slug: &Slug,
        repo: &RepoFullName,
    ) -> Result<LinkedRepo> {
        actor.require_admin()?;
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let token = self.tokens.token_for(actor.workspace_id).await?;
        let found = self.github.get_repo(&token, repo).await?;
        let canonical = RepoFullName::parse(&found.full_name).unwrap_or_else(|_| repo.clone());
        let project = self
            .projects
            .set_github_repo(actor.workspace_id, project.id, Some(canonical.clone()))
            .await?
            .ok_or(Error::NotFound("project"))?;
        let webhook = self
            .hooks
            .register(self.github.as_ref(), &token, &canonical)
            .await;
        Ok(LinkedRepo { project, webhook })
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
    hooks: HookConfig,
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
            hooks: HookConfig::default(),
        }
    }

    /// Registers the webhook of each repository it creates, as `hooks` allows.
    #[must_use]
    pub fn with_hooks(mut self, hooks: HookConfig) -> Self {
        self.hooks = hooks;
        self
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
        // Logged by `register`; a failure never undoes the approval.
        let webhook = self
            .hooks
            .register(self.github.as_ref(), &token, &full_name)
            .await;
        tracing::debug!(slug = %project.slug, webhook = %webhook.message(), "webhook of the created repository");
        Ok(full_name)
    }
}

#[cfg(test)]
mod tests;
