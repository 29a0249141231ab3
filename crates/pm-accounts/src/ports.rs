use crate::{
    ApiToken, Authenticated, Email, IssuedToken, NewToken, TokenHash, User, Workspace,
    WorkspaceName,
};
use async_trait::async_trait;
use pm_kernel::{Limit, Result, Role, Timestamp, TokenId, UserId, WorkspaceId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// Storage of workspaces, users and API tokens.
pub trait AccountStore: Send + Sync {
    /// Creates a workspace, its first admin and the admin's token in one
    /// transaction. `Error::Conflict` if the workspace name exists.
    async fn create_workspace(
        &self,
        name: &WorkspaceName,
        admin_email: &Email,
        token: &NewToken,
    ) -> Result<(Workspace, User)>;

    /// Adds a user with its token. `Error::Conflict` if the e-mail is taken by a
    /// live (not removed) user of that workspace.
    async fn create_user(
        &self,
        workspace_id: WorkspaceId,
        email: &Email,
        role: Role,
        token: &NewToken,
    ) -> Result<User>;

    /// The user, workspace and token a token hash belongs to, in one indexed
    /// look-up, only if the token is live at `now`: not revoked, not expired, and
    /// its user not removed. Anything else is `None`, whatever the reason.
    async fn find_by_token(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Authenticated>>;

    /// Records a use of the token: sets `last_used_at` to the database's time,
    /// only if it is unset or older than a minute (so concurrent requests write
    /// at most once).
    async fn touch_token(&self, id: TokenId) -> Result<()>;

    /// Live users of the workspace ordered by id (creation order), starting after
    /// `after` if given, at most `limit + 1` rows.
    async fn list_users(
        &self,
        workspace_id: WorkspaceId,
        after: Option<UserId>,
        limit: Limit,
    ) -> Result<Vec<User>>;

    /// Removes `user_id` from the workspace (soft delete: the row stays with
    /// `deleted_at`) and revokes all its tokens, in one transaction that holds the
    /// workspace's lock while it calls [`crate::RemovalCheck::decide`] and fails
    /// with its error.
    async fn remove_user(
        &self,
        workspace_id: WorkspaceId,
        actor: UserId,
        user_id: UserId,
    ) -> Result<()>;

    /// Stores a new token for the user.
    async fn create_token(&self, user_id: UserId, token: &NewToken) -> Result<ApiToken>;

    /// The user's tokens that are not revoked (expired ones included), ordered by
    /// id (creation order), starting after `after`, at most `limit + 1` rows.
    async fn list_tokens(
        &self,
        user_id: UserId,
        after: Option<TokenId>,
        limit: Limit,
    ) -> Result<Vec<ApiToken>>;

    /// Revokes one of the user's tokens. `false` if the user has no such token
    /// that is not revoked yet.
    async fn revoke_token(&self, user_id: UserId, id: TokenId) -> Result<bool>;
}

/// Generates and hashes API tokens (random bytes and SHA-256 live in an adapter).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A fresh random token and its hash.
    fn issue(&self) -> IssuedToken;
    /// The hash of a token a client presented.
    fn hash(&self, presented: &str) -> TokenHash;
}
