//! `AccountStore` on PostgreSQL.

use crate::Database;
use crate::errors::{self, DbResultExt};
use crate::schema::{api_tokens, users, workspaces};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use pm_accounts::{
    AccountStore, ApiToken, Authenticated, Email, NewToken, RemovalCheck, TokenHash, TokenName,
    TokenUse, User, Workspace, WorkspaceName,
};
use pm_kernel::{
    ConflictReason, Error, Limit, Result, Role, Timestamp, TokenId, UserId, WorkspaceId,
};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PgAccountStore {
    db: Database,
}

impl PgAccountStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = workspaces)]
struct WorkspaceRow {
    id: Uuid,
    name: String,
    created_at: OffsetDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
struct UserRow {
    id: Uuid,
    workspace_id: Uuid,
    email: String,
    role: String,
    created_at: OffsetDateTime,
}

impl WorkspaceRow {
    fn into_domain(self) -> Result<Workspace> {
        errors::from_stored(self.validate())
    }

    fn validate(self) -> Result<Workspace> {
        Ok(Workspace {
            id: WorkspaceId::from_uuid(self.id),
            name: WorkspaceName::new(&self.name)?,
            created_at: self.created_at,
        })
    }
}

impl UserRow {
    fn new(workspace_id: WorkspaceId, email: &Email, role: Role) -> Self {
        Self {
            id: UserId::new().into_uuid(),
            workspace_id: workspace_id.into_uuid(),
            email: email.as_str().to_string(),
            role: role.as_str().to_string(),
            created_at: pm_kernel::now(),
        }
    }

    fn into_domain(self) -> Result<User> {
        errors::from_stored(self.validate())
    }

    fn validate(self) -> Result<User> {
        Ok(User {
            id: UserId::from_uuid(self.id),
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            email: Email::new(&self.email)?,
            role: errors::stored("users.role", &self.role)?,
            created_at: self.created_at,
        })
    }
}

/// A token's metadata: never its hash.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    hint: Option<String>,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
}

impl TokenRow {
    fn new(user_id: Uuid, token: &NewToken) -> Self {
        Self {
            id: TokenId::new().into_uuid(),
            user_id,
            name: token.name.as_ref().map(|n| n.as_str().to_string()),
            hint: Some(token.hint.clone()),
            created_at: pm_kernel::now(),
            last_used_at: None,
            expires_at: token.expires_at,
        }
    }

    fn into_domain(self) -> Result<ApiToken> {
        errors::from_stored(self.validate())
    }

    fn validate(self) -> Result<ApiToken> {
        Ok(ApiToken {
            id: TokenId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            name: self.name.as_deref().map(TokenName::new).transpose()?,
            hint: self.hint,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
        })
    }
}

/// What authentication reads of the token row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct TokenUseRow {
    id: Uuid,
    last_used_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
}

async fn insert_token(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
    token: &NewToken,
) -> Result<TokenRow, diesel::result::Error> {
    let row = TokenRow::new(user_id, token);
    diesel::insert_into(api_tokens::table)
        .values((&row, api_tokens::token_hash.eq(token.hash.0.to_vec())))
        .execute(conn)
        .await?;
    Ok(row)
}

/// A transaction's failure: the database's, or a rule's decided inside it.
enum TxError {
    Db(diesel::result::Error),
    Domain(Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Domain(e)
    }
}

/// Live users only: a removed user is `deleted_at IS NOT NULL`.
fn live_users() -> diesel::dsl::IsNull<users::deleted_at> {
    users::deleted_at.is_null()
}

#[async_trait]
impl AccountStore for PgAccountStore {
    async fn create_workspace(
        &self,
        name: &WorkspaceName,
        admin_email: &Email,
        token: &NewToken,
    ) -> Result<(Workspace, User)> {
        let ws = WorkspaceRow {
            id: WorkspaceId::new().into_uuid(),
            name: name.as_str().to_string(),
            created_at: pm_kernel::now(),
        };
        let admin = UserRow::new(WorkspaceId::from_uuid(ws.id), admin_email, Role::Admin);
        self.db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    diesel::insert_into(workspaces::table)
                        .values(&ws)
                        .execute(conn)
                        .await?;
                    diesel::insert_into(users::table)
                        .values(&admin)
                        .execute(conn)
                        .await?;
                    insert_token(conn, admin.id, token).await.map(|_| ())
                })
                .await
                .conflict_on(
                    "workspaces_name_key",
                    ConflictReason::WorkspaceNameTaken,
                    "a workspace with this name already exists",
                )?;
                Ok((ws.into_domain()?, admin.into_domain()?))
            })
            .await
    }

    async fn create_user(
        &self,
        workspace_id: WorkspaceId,
        email: &Email,
        role: Role,
        token: &NewToken,
    ) -> Result<User> {
        let user = UserRow::new(workspace_id, email, role);
        self.db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    diesel::insert_into(users::table)
                        .values(&user)
                        .execute(conn)
                        .await?;
                    insert_token(conn, user.id, token).await.map(|_| ())
                })
                .await
                .conflict_on(
                    "users_workspace_id_email_live_idx",
                    ConflictReason::EmailTaken,
                    "a user with this e-mail already exists in the workspace",
                )?;
                user.into_domain()
            })
            .await
    }

    async fn find_by_token(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Authenticated>> {
        self.db
            .run(async |conn| {
                // One statement, by the primary key: the lifecycle rules are conditions
                // of the same look-up.
                let row: Option<(UserRow, WorkspaceRow, TokenUseRow)> = api_tokens::table
                    .inner_join(users::table.inner_join(workspaces::table))
                    .filter(api_tokens::token_hash.eq(token.0.to_vec()))
                    .filter(api_tokens::revoked_at.is_null())
                    .filter(
                        api_tokens::expires_at
                            .is_null()
                            .or(api_tokens::expires_at.gt(now)),
                    )
                    .filter(live_users())
                    .select((
                        UserRow::as_select(),
                        WorkspaceRow::as_select(),
                        TokenUseRow::as_select(),
                    ))
                    .first(conn)
                    .await
                    .optional()
                    .or_internal()?;
                row.map(|(u, w, t)| {
                    Ok(Authenticated {
                        user: u.into_domain()?,
                        workspace: w.into_domain()?,
                        token: TokenUse {
                            id: TokenId::from_uuid(t.id),
                            last_used_at: t.last_used_at,
                            expires_at: t.expires_at,
                        },
                    })
                })
                .transpose()
            })
            .await
    }

    async fn touch_token(&self, id: TokenId) -> Result<()> {
        self.db
            .run(async |conn| {
                diesel::sql_query(
                    "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 \
                 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                )
                .bind::<diesel::sql_types::Uuid, _>(id.into_uuid())
                .execute(conn)
                .await
                .map(|_| ())
                .or_internal()
            })
            .await
    }

    async fn list_users(
        &self,
        workspace_id: WorkspaceId,
        after: Option<UserId>,
        limit: Limit,
    ) -> Result<Vec<User>> {
        self.db
            .run(async |conn| {
                let mut query = users::table
                    .filter(users::workspace_id.eq(workspace_id.into_uuid()))
                    .filter(live_users())
                    .select(UserRow::as_select())
                    .order(users::id.asc())
                    .limit(i64::from(limit.get()) + 1)
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter(users::id.gt(after.into_uuid()));
                }
                query
                    .load(conn)
                    .await
                    .or_internal()?
                    .into_iter()
                    .map(UserRow::into_domain)
                    .collect()
            })
            .await
    }

    async fn remove_user(
        &self,
        workspace_id: WorkspaceId,
        actor: UserId,
        user_id: UserId,
    ) -> Result<()> {
        let (ws, actor, target) = (
            workspace_id.into_uuid(),
            actor.into_uuid(),
            user_id.into_uuid(),
        );
        self.db
            .run(async |conn| {
                conn.transaction::<_, TxError, _>(async |conn| {
                    // Removals in one workspace take turns on the workspace's row. NO KEY
                    // UPDATE does not block inserts that reference the workspace.
                    let locked: Option<Uuid> = workspaces::table
                        .filter(workspaces::id.eq(ws))
                        .select(workspaces::id)
                        .for_no_key_update()
                        .first(conn)
                        .await
                        .optional()?;
                    if locked.is_none() {
                        return Err(Error::NotFound("user").into());
                    }
                    // Read after the lock: each statement sees what earlier removals
                    // committed, so two admins removing each other cannot both pass.
                    let rows: Vec<(Uuid, String)> = users::table
                        .filter(users::workspace_id.eq(ws))
                        .filter(live_users())
                        .filter(
                            users::role
                                .eq(Role::Admin.as_str())
                                .or(users::id.eq(target)),
                        )
                        .select((users::id, users::role))
                        .load(conn)
                        .await?;
                    let admin = Role::Admin.as_str();
                    let check = RemovalCheck {
                        actor_is_admin: rows.iter().any(|(id, role)| *id == actor && role == admin),
                        target_role: rows
                            .iter()
                            .find(|(id, _)| *id == target)
                            .map(|(_, role)| errors::stored("users.role", role))
                            .transpose()
                            .map_err(TxError::Domain)?,
                        live_admins: rows.iter().filter(|(_, role)| role == admin).count(),
                    };
                    check.decide().map_err(TxError::Domain)?;
                    let now = pm_kernel::now();
                    diesel::update(users::table.filter(users::id.eq(target)))
                        .set(users::deleted_at.eq(now))
                        .execute(conn)
                        .await?;
                    diesel::update(
                        api_tokens::table
                            .filter(api_tokens::user_id.eq(target))
                            .filter(api_tokens::revoked_at.is_null()),
                    )
                    .set(api_tokens::revoked_at.eq(now))
                    .execute(conn)
                    .await?;
                    Ok(())
                })
                .await
                .or_else(|e| match e {
                    TxError::Domain(e) => Err(e),
                    TxError::Db(e) => Err(e).or_internal(),
                })
            })
            .await
    }

    async fn create_token(&self, user_id: UserId, token: &NewToken) -> Result<ApiToken> {
        self.db
            .run(async |conn| {
                insert_token(conn, user_id.into_uuid(), token)
                    .await
                    .or_internal()?
                    .into_domain()
            })
            .await
    }

    async fn list_tokens(
        &self,
        user_id: UserId,
        after: Option<TokenId>,
        limit: Limit,
    ) -> Result<Vec<ApiToken>> {
        self.db
            .run(async |conn| {
                let mut query = api_tokens::table
                    .filter(api_tokens::user_id.eq(user_id.into_uuid()))
                    .filter(api_tokens::revoked_at.is_null())
                    .select(TokenRow::as_select())
                    .order(api_tokens::id.asc())
                    .limit(i64::from(limit.get()) + 1)
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter(api_tokens::id.gt(after.into_uuid()));
                }
                query
                    .load(conn)
                    .await
                    .or_internal()?
                    .into_iter()
                    .map(TokenRow::into_domain)
                    .collect()
            })
            .await
    }

    async fn revoke_token(&self, user_id: UserId, id: TokenId) -> Result<bool> {
        self.db
            .run(async |conn| {
                diesel::update(
                    api_tokens::table
                        .filter(api_tokens::id.eq(id.into_uuid()))
                        .filter(api_tokens::user_id.eq(user_id.into_uuid()))
                        .filter(api_tokens::revoked_at.is_null()),
                )
                .set(api_tokens::revoked_at.eq(pm_kernel::now()))
                .execute(conn)
                .await
                .map(|n| n > 0)
                .or_internal()
            })
            .await
    }
}
