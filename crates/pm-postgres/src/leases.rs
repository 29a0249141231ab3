//! `ProjectLeases` on PostgreSQL: one row per (project, purpose).

use crate::Database;
use crate::errors::DbResultExt;
use crate::schema::project_leases;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use pm_kernel::{ProjectId, Result};
use pm_projects::{LeasePurpose, ProjectLeases};
use std::time::Duration;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    holder: Uuid,
}

#[derive(Clone, Debug)]
pub struct PgProjectLeases {
    db: Database,
}

impl PgProjectLeases {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ProjectLeases for PgProjectLeases {
    async fn acquire(
        &self,
        project_id: ProjectId,
        purpose: LeasePurpose,
        holder: Uuid,
        ttl: Duration,
    ) -> Result<bool> {
        let now = pm_kernel::now();
        self.db
            .run(async |conn| {
                // One statement decides: insert when free, take over when expired or
                // already ours; otherwise the WHERE leaves the row and nothing returns.
                let taken: Option<Holder> = diesel::sql_query(
                    "INSERT INTO project_leases AS l (project_id, purpose, holder, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (project_id, purpose) DO UPDATE
                SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
              WHERE l.holder = EXCLUDED.holder OR l.expires_at < $5
             RETURNING l.holder",
                )
                .bind::<diesel::sql_types::Uuid, _>(project_id.into_uuid())
                .bind::<diesel::sql_types::Text, _>(purpose.as_str())
                .bind::<diesel::sql_types::Uuid, _>(holder)
                .bind::<diesel::sql_types::Timestamptz, _>(now + ttl)
                .bind::<diesel::sql_types::Timestamptz, _>(now)
                .get_result(conn)
                .await
                .optional()
                .missing_parent("project")?;
                Ok(taken.map(|t| t.holder) == Some(holder))
            })
            .await
    }

    async fn release(
        &self,
        project_id: ProjectId,
        purpose: LeasePurpose,
        holder: Uuid,
    ) -> Result<()> {
        self.db
            .run(async |conn| {
                diesel::delete(
                    project_leases::table
                        .filter(project_leases::project_id.eq(project_id.into_uuid()))
                        .filter(project_leases::purpose.eq(purpose.as_str()))
                        .filter(project_leases::holder.eq(holder)),
                )
                .execute(conn)
                .await
                .or_internal()?;
                Ok(())
            })
            .await
    }
}
