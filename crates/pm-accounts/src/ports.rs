use crate::{Email, IssuedToken, TokenHash, User, Workspace, WorkspaceName};
use async_trait::async_trait;
use pm_kernel::{Result, Role, WorkspaceId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a workspace, its first admin and the admin's token in one
    /// transaction. `Error::Conflict` if the workspace name exists.
    async fn create_workspace(
        &self,
        name: &WorkspaceName,
        admin_email: &Email,
        token: &TokenHash,
    ) -> Result<(Workspace, User)>;

    /// Adds a user with its token. `Error::Conflict` if the e-mail is taken in
    /// that workspace.
    async fn create_user(
        &self,
        workspace_id: WorkspaceId,
        email: &Email,
        role: Role,
        token: &TokenHash,
    ) -> Result<User>;

    /// The user (and its workspace) a token hash belongs to.
    async fn find_by_token(&self, token: &TokenHash) -> Result<Option<(User, Workspace)>>;
}

/// Generates and hashes API tokens (random bytes and SHA-256 live in an adapter).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    fn issue(&self) -> IssuedToken;
    fn hash(&self, presented: &str) -> TokenHash;
}
