//! `SpecRepository` on PostgreSQL.

use crate::Database;
use crate::errors::{self, DbResultExt};
use crate::schema::specs;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use pm_kernel::{ProjectId, Result};
use pm_specs::{Spec, SpecContent, SpecRepository, SpecStatus};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PgSpecRepository {
    db: Database,
}

impl PgSpecRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = specs)]
struct SpecRow {
    project_id: Uuid,
    status: String,
    content: String,
    updated_at: OffsetDateTime,
}

impl SpecRow {
    fn into_domain(self) -> Result<Spec> {
        Ok(Spec {
            project_id: ProjectId::from_uuid(self.project_id),
            status: errors::stored("specs.status", &self.status)?,
            content: SpecContent::from_stored(self.content),
            updated_at: self.updated_at,
        })
    }
}

#[async_trait]
impl SpecRepository for PgSpecRepository {
    async fn get(&self, project_id: ProjectId) -> Result<Option<Spec>> {
        self.db
            .run(async |conn| {
                specs::table
                    .find(project_id.into_uuid())
                    .select(SpecRow::as_select())
                    .first(conn)
                    .await
                    .optional()
                    .or_internal()?
                    .map(SpecRow::into_domain)
                    .transpose()
            })
            .await
    }

    async fn update_content(
        &self,
        project_id: ProjectId,
        expected: SpecStatus,
        content: &SpecContent,
    ) -> Result<Option<Spec>> {
        self.db
            .run(async |conn| {
                diesel::update(
                    specs::table
                        .find(project_id.into_uuid())
                        .filter(specs::status.eq(expected.as_str())),
                )
                .set((
                    specs::content.eq(content.as_str()),
                    specs::updated_at.eq(pm_kernel::now()),
                ))
                .returning(SpecRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?
                .map(SpecRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn transition(
        &self,
        project_id: ProjectId,
        from: SpecStatus,
        to: SpecStatus,
    ) -> Result<Option<Spec>> {
        self.db
            .run(async |conn| {
                // Compare and set: the status filter makes the transition atomic.
                diesel::update(
                    specs::table
                        .find(project_id.into_uuid())
                        .filter(specs::status.eq(from.as_str())),
                )
                .set((
                    specs::status.eq(to.as_str()),
                    specs::updated_at.eq(pm_kernel::now()),
                ))
                .returning(SpecRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?
                .map(SpecRow::into_domain)
                .transpose()
            })
            .await
    }
}
