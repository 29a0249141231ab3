//! `AccountStore` on PostgreSQL.

use crate::schema::{api_tokens, users, workspaces};
use crate::{Database, errors};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use pm_accounts::{AccountStore, Email, TokenHash, User, Workspace, WorkspaceName};
use pm_kernel::{Result, Role, UserId, WorkspaceId};
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

async fn insert_token(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
    token: &TokenHash,
) -> Result<(), diesel::result::Error> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::token_hash.eq(token.0.to_vec()),
            api_tokens::user_id.eq(user_id),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

#[async_trait]
impl AccountStore for PgAccountStore {
    async fn create_workspace(
        &self,
        name: &WorkspaceName,
        admin_email: &Email,
        token: &TokenHash,
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
                    insert_token(conn, admin.id, token).await
                })
                .await
                .map_err(errors::conflict_or_internal(
                    "a workspace with this name already exists",
                ))?;
                Ok((ws.into_domain()?, admin.into_domain()?))
            })
            .await
    }

    async fn create_user(
        &self,
        workspace_id: WorkspaceId,
        email: &Email,
        role: Role,
        token: &TokenHash,
    ) -> Result<User> {
        let user = UserRow::new(workspace_id, email, role);
        self.db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    diesel::insert_into(users::table)
                        .values(&user)
                        .execute(conn)
                        .await?;
                    insert_token(conn, user.id, token).await
                })
                .await
                .map_err(errors::conflict_or_internal(
                    "a user with this e-mail already exists in the workspace",
                ))?;
                user.into_domain()
            })
            .await
    }

    async fn find_by_token(&self, token: &TokenHash) -> Result<Option<(User, Workspace)>> {
        self.db
            .run(async |conn| {
                let row: Option<(UserRow, WorkspaceRow)> = api_tokens::table
                    .inner_join(users::table.inner_join(workspaces::table))
                    .filter(api_tokens::token_hash.eq(token.0.to_vec()))
                    .select((UserRow::as_select(), WorkspaceRow::as_select()))
                    .first(conn)
                    .await
                    .optional()
                    .map_err(errors::internal)?;
                row.map(|(u, w)| Ok((u.into_domain()?, w.into_domain()?)))
                    .transpose()
            })
            .await
    }
}
