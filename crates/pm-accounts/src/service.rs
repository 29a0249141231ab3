use crate::{
    AccountStore, ApiToken, Email, NewToken, TokenIssuer, TokenLifetime, TokenName, User,
    Workspace, WorkspaceName,
};
use pm_kernel::{Actor, Cursor, Error, Limit, Page, Result, Role, TokenId, UserId};
use secrecy::SecretString;
use std::sync::Arc;

/// The first workspace and admin, with the admin's token (shown once).
#[derive(Debug)]
pub struct Bootstrapped {
    /// The new workspace.
    pub workspace: Workspace,
    /// Its first admin.
    pub admin: User,
    /// The admin's API token, shown once.
    pub token: SecretString,
}

#[derive(Debug)]
/// A user just added, with its first token.
pub struct NewUserWithToken {
    /// The user.
    pub user: User,
    /// The user's API token, shown once.
    pub token: SecretString,
}

/// What a caller asks for when it issues itself a token (unvalidated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// An optional name for the token.
    pub name: Option<String>,
    /// Days until it expires; never when absent.
    pub expires_in_days: Option<i64>,
}

/// A new token: its metadata, and the token itself, shown this once.
#[derive(Debug)]
pub struct CreatedToken {
    /// The token's metadata.
    pub token: ApiToken,
    /// The token itself, shown once.
    pub plaintext: SecretString,
}

#[derive(Clone)]
/// Workspaces, users and tokens: bootstrap, membership and authentication.
pub struct AccountService {
    store: Arc<dyn AccountStore>,
    tokens: Arc<dyn TokenIssuer>,
}

impl AccountService {
    /// Wires the service to its ports.
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
            .create_workspace(&name, &email, &NewToken::of(&token))
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
            .create_user(actor.workspace_id, &email, role, &NewToken::of(&token))
            .await?;
        Ok(NewUserWithToken {
            user,
            token: token.plaintext,
        })
    }

    /// The workspace's live users, oldest first (admins only).
    pub async fn list_users(
        &self,
        actor: &Actor,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<User>> {
        actor.require_admin()?;
        let after = cursor
            .map(|c| c.parse_key::<uuid::Uuid>().map(UserId::from_uuid))
            .transpose()?;
        let rows = self
            .store
            .list_users(actor.workspace_id, after, limit)
            .await?;
        Ok(Page::from_rows(rows, limit, |u| u.id.to_string()))
    }

    /// Removes a user of the admin's workspace and revokes all its tokens. An
    /// admin may remove itself, unless it is the last admin (`Conflict`, checked
    /// by the store under the workspace's lock, see [`crate::RemovalCheck`]).
    /// A user of another workspace is `NotFound`.
    pub async fn remove_user(&self, actor: &Actor, user_id: UserId) -> Result<()> {
        actor.require_admin()?;
        self.store
            .remove_user(actor.workspace_id, actor.user_id, user_id)
            .await
    }

    /// Issues the caller a new token, shown once.
    pub async fn issue_token(&self, actor: &Actor, request: TokenRequest) -> Result<CreatedToken> {
        let mut v = pm_kernel::Validator::new();
        let name = match request.name.as_deref() {
            Some(n) => v.check(TokenName::new(n)),
            None => None,
        };
        let lifetime = v.check(TokenLifetime::days(request.expires_in_days));
        v.finish()?;
        let lifetime = lifetime.ok_or_else(|| Error::internal("validated lifetime missing"))?;
        let issued = self.tokens.issue();
        let new = NewToken {
            name,
            expires_at: lifetime.expires_at(pm_kernel::now()),
            ..NewToken::of(&issued)
        };
        let token = self.store.create_token(actor.user_id, &new).await?;
        Ok(CreatedToken {
            token,
            plaintext: issued.plaintext,
        })
    }

    /// The caller's tokens that are not revoked, oldest first.
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<ApiToken>> {
        let after = cursor
            .map(|c| c.parse_key::<uuid::Uuid>().map(TokenId::from_uuid))
            .transpose()?;
        let rows = self.store.list_tokens(actor.user_id, after, limit).await?;
        Ok(Page::from_rows(rows, limit, |t| t.id.to_string()))
    }

    /// Revokes one of the caller's tokens (the one in use included). Another
    /// user's token, or one already revoked, is `NotFound`.
    pub async fn revoke_token(&self, actor: &Actor, id: TokenId) -> Result<()> {
        if self.store.revoke_token(actor.user_id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("token"))
        }
    }

    /// Resolves a presented bearer token to its user. Any failure is
    /// `Unauthenticated`: a caller learns nothing about which part was wrong.
    pub async fn authenticate(&self, presented: &str) -> Result<(Actor, User, Workspace)> {
        if presented.is_empty() || presented.len() > 512 {
            return Err(Error::Unauthenticated);
        }
        let hash = self.tokens.hash(presented);
        let now = pm_kernel::now();
        let found = self
            .store
            .find_by_token(&hash, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        // The store filters expired tokens already; this keeps the rule here.
        if found.token.is_expired(now) {
            return Err(Error::Unauthenticated);
        }
        // A hot token costs the look-up alone: its use is recorded at most once
        // a minute. Failing to record it does not fail the request.
        if found.token.needs_touch(now)
            && let Err(err) = self.store.touch_token(found.token.id).await
        {
            tracing::warn!(token_id = %found.token.id, error = %err, "could not record the token's use");
        }
        let (user, workspace) = (found.user, found.workspace);
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
    use crate::{
        Authenticated, IssuedToken, MockAccountStore, MockTokenIssuer, RemovalCheck, TokenHash,
        TokenUse,
    };
    use mockall::predicate::*;
    use pm_kernel::{ConflictReason, Timestamp, WorkspaceId};
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
            .withf(|_, _, token| {
                token.hash == TokenHash([7; 32])
                    && token.hint == "cret"
                    && token.expires_at.is_none()
            })
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
        let member = member_actor();
        let err = service
            .add_user(&member, Email::new("b@example.com").unwrap(), Role::Member)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden));
    }

    fn member_actor() -> Actor {
        Actor {
            user_id: UserId::new(),
            workspace_id: WorkspaceId::new(),
            role: Role::Member,
        }
    }

    fn admin_actor() -> Actor {
        Actor {
            role: Role::Admin,
            ..member_actor()
        }
    }

    fn found(last_used_at: Option<Timestamp>, expires_at: Option<Timestamp>) -> Authenticated {
        let ws = workspace();
        Authenticated {
            user: user(ws.id, Role::Member),
            workspace: ws,
            token: TokenUse {
                id: TokenId::new(),
                last_used_at,
                expires_at,
            },
        }
    }

    fn api_token(user_id: UserId, new: &NewToken) -> ApiToken {
        ApiToken {
            id: TokenId::new(),
            user_id,
            name: new.name.clone(),
            hint: Some(new.hint.clone()),
            created_at: pm_kernel::now(),
            last_used_at: None,
            expires_at: new.expires_at,
        }
    }

    #[tokio::test]
    async fn authenticate_resolves_known_tokens_only() {
        let hit = found(Some(pm_kernel::now()), None);
        let mut store = MockAccountStore::new();
        store
            .expect_find_by_token()
            .returning(move |hash, _| Ok((hash == &TokenHash([7; 32])).then(|| hit.clone())));
        store.expect_touch_token().never();
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

    #[tokio::test]
    async fn authenticate_asks_the_store_for_live_tokens_at_the_current_time() {
        let before = pm_kernel::now();
        let mut store = MockAccountStore::new();
        store
            .expect_find_by_token()
            .withf(move |_, now| *now >= before && *now <= pm_kernel::now())
            .times(1)
            .returning(|_, _| Ok(None));
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        assert!(matches!(
            service.authenticate("pmh_secret").await.unwrap_err(),
            Error::Unauthenticated
        ));
    }

    #[tokio::test]
    async fn an_expired_token_is_refused_even_if_the_store_returns_it() {
        let hit = found(None, Some(pm_kernel::now() - time::Duration::seconds(1)));
        let mut store = MockAccountStore::new();
        store
            .expect_find_by_token()
            .returning(move |_, _| Ok(Some(hit.clone())));
        store.expect_touch_token().never();
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        assert!(matches!(
            service.authenticate("pmh_secret").await.unwrap_err(),
            Error::Unauthenticated
        ));
    }

    #[tokio::test]
    async fn a_use_is_recorded_only_when_the_last_is_over_a_minute_old() {
        for (last_used_at, touches) in [
            (None, 1),
            (Some(pm_kernel::now() - time::Duration::seconds(61)), 1),
            (Some(pm_kernel::now() - time::Duration::seconds(30)), 0),
        ] {
            let hit = found(last_used_at, None);
            let id = hit.token.id;
            let mut store = MockAccountStore::new();
            store
                .expect_find_by_token()
                .returning(move |_, _| Ok(Some(hit.clone())));
            store
                .expect_touch_token()
                .with(eq(id))
                .times(touches)
                .returning(|_| Ok(()));
            let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
            service.authenticate("pmh_secret").await.unwrap();
        }
    }

    #[tokio::test]
    async fn failing_to_record_a_use_does_not_fail_authentication() {
        let hit = found(None, None);
        let mut store = MockAccountStore::new();
        store
            .expect_find_by_token()
            .returning(move |_, _| Ok(Some(hit.clone())));
        store
            .expect_touch_token()
            .times(1)
            .returning(|_| Err(Error::internal("db down")));
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        assert!(service.authenticate("pmh_secret").await.is_ok());
    }

    #[tokio::test]
    async fn members_cannot_list_or_remove_users() {
        let mut store = MockAccountStore::new();
        store.expect_list_users().never();
        store.expect_remove_user().never();
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let member = member_actor();
        assert!(matches!(
            service
                .list_users(&member, None, Limit::default())
                .await
                .unwrap_err(),
            Error::Forbidden
        ));
        assert!(matches!(
            service
                .remove_user(&member, UserId::new())
                .await
                .unwrap_err(),
            Error::Forbidden
        ));
    }

    #[tokio::test]
    async fn users_are_listed_in_the_admins_workspace_with_a_cursor() {
        let admin = admin_actor();
        let after = UserId::new();
        let mut store = MockAccountStore::new();
        store
            .expect_list_users()
            .with(eq(admin.workspace_id), eq(Some(after)), always())
            .times(1)
            .returning(move |ws, _, _| Ok(vec![user(ws, Role::Admin), user(ws, Role::Member)]));
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let cursor = Cursor::from_key(after.to_string());
        let page = service
            .list_users(&admin, Some(&cursor), Limit::new(Some(1)).unwrap())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(page.next_cursor.is_some());
        assert!(
            service
                .list_users(&admin, Some(&Cursor::from_key("nope")), Limit::default())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn removal_is_scoped_to_the_workspace_and_names_the_actor() {
        let admin = admin_actor();
        let target = UserId::new();
        let mut store = MockAccountStore::new();
        store
            .expect_remove_user()
            .with(eq(admin.workspace_id), eq(admin.user_id), eq(target))
            .times(1)
            .returning(|_, _, _| {
                Err(Error::conflict(
                    ConflictReason::LastAdmin,
                    RemovalCheck::LAST_ADMIN,
                ))
            });
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        assert!(matches!(
            service.remove_user(&admin, target).await.unwrap_err(),
            Error::Conflict { .. }
        ));
    }

    #[tokio::test]
    async fn issued_tokens_store_hash_hint_name_and_expiry_only() {
        let actor = member_actor();
        let mut store = MockAccountStore::new();
        let before = pm_kernel::now();
        store
            .expect_create_token()
            .withf(move |user_id, new| {
                let expiry = new.expires_at.unwrap();
                *user_id == actor.user_id
                    && new.hash == TokenHash([7; 32])
                    && new.hint == "cret"
                    && new.name.as_ref().map(TokenName::as_str) == Some("CI")
                    && expiry >= before + time::Duration::days(30)
                    && expiry <= pm_kernel::now() + time::Duration::days(30)
            })
            .times(1)
            .returning(|user_id, new| Ok(api_token(user_id, new)));
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let created = service
            .issue_token(
                &actor,
                TokenRequest {
                    name: Some(" CI ".into()),
                    expires_in_days: Some(30),
                },
            )
            .await
            .unwrap();
        assert_eq!(created.plaintext.expose_secret(), "pmh_secret");
        assert_eq!(created.token.hint.as_deref(), Some("cret"));
        assert!(!format!("{created:?}").contains("pmh_secret"));
    }

    #[tokio::test]
    async fn a_token_without_lifetime_never_expires() {
        let mut store = MockAccountStore::new();
        store
            .expect_create_token()
            .withf(|_, new| new.expires_at.is_none() && new.name.is_none())
            .times(1)
            .returning(|user_id, new| Ok(api_token(user_id, new)));
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        service
            .issue_token(&member_actor(), TokenRequest::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn bad_token_requests_report_every_field_and_write_nothing() {
        let mut store = MockAccountStore::new();
        store.expect_create_token().never();
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        for (days, name, fields) in [
            (Some(0), None, 1),
            (Some(3651), Some(String::new()), 2),
            (None, Some("x".repeat(101)), 1),
        ] {
            let request = TokenRequest {
                name,
                expires_in_days: days,
            };
            match service
                .issue_token(&member_actor(), request)
                .await
                .unwrap_err()
            {
                Error::Validation(errors) => assert_eq!(errors.len(), fields, "{errors:?}"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn tokens_are_listed_and_revoked_for_their_owner_only() {
        let actor = member_actor();
        let mine = TokenId::new();
        let mut store = MockAccountStore::new();
        store
            .expect_list_tokens()
            .with(eq(actor.user_id), eq(None), always())
            .times(1)
            .returning(|_, _, _| Ok(vec![]));
        store
            .expect_revoke_token()
            .with(eq(actor.user_id), always())
            .returning(move |_, id| Ok(id == mine));
        let service = AccountService::new(Arc::new(store), Arc::new(issuer()));
        let page = service
            .list_tokens(&actor, None, Limit::default())
            .await
            .unwrap();
        assert!(page.items.is_empty() && page.next_cursor.is_none());
        service.revoke_token(&actor, mine).await.unwrap();
        assert!(matches!(
            service
                .revoke_token(&actor, TokenId::new())
                .await
                .unwrap_err(),
            Error::NotFound("token")
        ));
    }
}
