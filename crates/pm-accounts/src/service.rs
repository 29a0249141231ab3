use crate::{AccountStore, Email, TokenIssuer, User, Workspace, WorkspaceName};
use pm_kernel::{Actor, Error, Result, Role};
use secrecy::SecretString;
use std::sync::Arc;

/// The first workspace and admin, with the admin's token (shown once).
#[derive(Debug)]
pub struct Bootstrapped {
    pub workspace: Workspace,
    pub admin: User,
    pub token: SecretString,
}

#[derive(Debug)]
pub struct NewUserWithToken {
    pub user: User,
    pub token: SecretString,
}

#[derive(Clone)]
pub struct AccountService {
    store: Arc<dyn AccountStore>,
    tokens: Arc<dyn TokenIssuer>,
}

impl AccountService {
    pub fn new(store: Arc<dyn AccountStore>, tokens: Arc<dyn TokenIssuer>) -> Self {
        Self { store, tokens }
    }

    /// Creates a workspace with its first admin. Fails with `Conflict` when the
    /// workspace exists.
    pub async fn bootstrap(&self, workspace: &str, email: &str) -> Result<Bootstrapped> {
        let (name, email) = validate_pair(WorkspaceName::new(workspace), Email::new(email))?;
        let token = self.tokens.issue();
        let (workspace, admin) = self
            .store
            .create_workspace(&name, &email, &token.hash)
            .await?;
        Ok(Bootstrapped {
            workspace,
            admin,
            token: token.plaintext,
        })
    }

    /// Adds a user to the admin's workspace and returns its token once.
    pub async fn add_user(
        &self,
        actor: &Actor,
        email: Email,
        role: Role,
    ) -> Result<NewUserWithToken> {
        actor.require_admin()?;
        let token = self.tokens.issue();
        let user = self
            .store
            .create_user(actor.workspace_id, &email, role, &token.hash)
            .await?;
        Ok(NewUserWithToken {
            user,
            token: token.plaintext,
        })
    }

    /// Resolves a presented bearer token to its user. Any failure is
    /// `Unauthenticated`: a caller learns nothing about which part was wrong.
    pub async fn authenticate(&self, presented: &str) -> Result<(Actor, User, Workspace)> {
        if presented.is_empty() || presented.len() > 512 {
            return Err(Error::Unauthenticated);
        }
        let hash = self.tokens.hash(presented);
        let (user, workspace) = self
            .store
            .find_by_token(&hash)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let actor = Actor {
            user_id: user.id,
            workspace_id: workspace.id,
            role: user.role,
        };
        Ok((actor, user, workspace))
    }
}

fn validate_pair<A, B>(a: Result<A>, b: Result<B>) -> Result<(A, B)> {
    let mut v = pm_kernel::Validator::new();
    let a = v.check(a);
    let b = v.check(b);
    v.finish()?;
    match (a, b) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::internal("validator passed with a missing value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IssuedToken, MockAccountStore, MockTokenIssuer, TokenHash};
    use mockall::predicate::*;
    use pm_kernel::{UserId, WorkspaceId};
    use secrecy::ExposeSecret;

    fn issuer() -> MockTokenIssuer {
        let mut tokens = MockTokenIssuer::new();
        tokens.expect_issue().returning(|| IssuedToken {
            plaintext: SecretString::from("pmh_secret"),
            hash: TokenHash([7; 32]),
        });
        tokens
            .expect_hash()
            .returning(|t| TokenHash(if t == "pmh_secret" { [7; 32] } else { [0; 32] }));
        tokens
    }

    fn user(workspace_id: WorkspaceId, role: Role) -> User {
        User {
            id: UserId::new(),
            workspace_id,
            email: Email::new("ada@example.com").unwrap(),
            role,
            created_at: pm_kernel::now(),
        }
    }

    fn workspace() -> Workspace {
        Workspace {
            id: WorkspaceId::new(),
            name: WorkspaceName::new("acme").unwrap(),
            created_at: pm_kernel::now(),
        }
    }

    #[tokio::test]
    async fn bootstrap_stores_only_the_hash_and_returns_the_plaintext() {
        let mut store = MockAccountStore::new();
        store
            .expect_create_workspace()
            .with(always(), always(), eq(TokenHash([7; 32])))
            .times(1)
            .returning(|name, _, _| {
                let mut ws = workspace();
                ws.name = name.clone();
                let admin = user(ws.id, Role::Admin);
                Ok((ws, admin))
            });
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let out = service.bootstrap("acme", "ada@example.com").await.unwrap();
        assert_eq!(out.token.expose_secret(), "pmh_secret");
        assert_eq!(out.admin.role, Role::Admin);
    }

    #[tokio::test]
    async fn bootstrap_reports_every_bad_field_and_writes_nothing() {
        let mut store = MockAccountStore::new();
        store.expect_create_workspace().never();
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        match service.bootstrap("", "nope").await.unwrap_err() {
            Error::Validation(errors) => assert_eq!(errors.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn only_admins_add_users() {
        let mut store = MockAccountStore::new();
        store.expect_create_user().never();
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let member = Actor {
            user_id: UserId::new(),
            workspace_id: WorkspaceId::new(),
            role: Role::Member,
        };
        let err = service
            .add_user(&member, Email::new("b@example.com").unwrap(), Role::Member)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden));
    }

    #[tokio::test]
    async fn authenticate_resolves_known_tokens_only() {
        let ws = workspace();
        let u = user(ws.id, Role::Member);
        let mut store = MockAccountStore::new();
        store.expect_find_by_token().returning(move |hash| {
            Ok((hash == &TokenHash([7; 32])).then(|| (u.clone(), ws.clone())))
        });
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let (actor, _, _) = service.authenticate("pmh_secret").await.unwrap();
        assert_eq!(actor.role, Role::Member);
        assert!(matches!(
            service.authenticate("wrong").await.unwrap_err(),
            Error::Unauthenticated
        ));
        assert!(matches!(
            service.authenticate("").await.unwrap_err(),
            Error::Unauthenticated
        ));
    }
}
