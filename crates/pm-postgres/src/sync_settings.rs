//! `SyncSettingsStore` on PostgreSQL (`github_sync_settings`; migration
//! `2026-12-01-100001_two_way_sync`). No row means the defaults.

use crate::errors::DbResultExt;
use crate::{Database, errors};
use async_trait::async_trait;
use diesel::prelude::QueryableByName;
use diesel::sql_types::{Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use pm_integrations::two_way::{
    ConflictPolicy, SyncDirection, SyncSettings, SyncSettingsPatch, SyncSettingsStore,
};
use pm_kernel::{ProjectId, Result};

#[derive(Clone, Debug)]
pub struct PgSyncSettings {
    db: Database,
}

impl PgSyncSettings {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(QueryableByName)]
struct SettingsRow {
    #[diesel(sql_type = Text)]
    direction: String,
    #[diesel(sql_type = Text)]
    conflict_policy: String,
    #[diesel(sql_type = Bool)]
    push_new_tasks: bool,
}

impl SettingsRow {
    fn into_domain(self) -> Result<SyncSettings> {
        Ok(SyncSettings {
            direction: errors::stored("github_sync_settings.direction", &self.direction)?,
            conflict_policy: errors::stored(
                "github_sync_settings.conflict_policy",
                &self.conflict_policy,
            )?,
            push_new_tasks: self.push_new_tasks,
        })
    }
}

#[async_trait]
impl SyncSettingsStore for PgSyncSettings {
    async fn get(&self, project_id: ProjectId) -> Result<SyncSettings> {
        let row = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT direction, conflict_policy, push_new_tasks
                       FROM github_sync_settings WHERE project_id = $1",
                )
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .get_result::<SettingsRow>(conn)
                .await
                .optional_row(SettingsRow::into_domain)
            })
            .await?;
        Ok(row.unwrap_or_default())
    }

    async fn update(
        &self,
        project_id: ProjectId,
        patch: &SyncSettingsPatch,
    ) -> Result<SyncSettings> {
        let defaults = SyncSettings::default();
        let direction = patch.direction.map(SyncDirection::as_str);
        let policy = patch.conflict_policy.map(ConflictPolicy::as_str);
        let push = patch.push_new_tasks;
        // One statement: the row is created from the defaults with the patch
        // applied, or the patch is applied to the row there is.
        self.db
            .run(async |conn| {
                diesel::sql_query(
                    "INSERT INTO github_sync_settings
                         (project_id, direction, conflict_policy, push_new_tasks)
                     VALUES ($1, coalesce($2, $5), coalesce($3, $6), coalesce($4, $7))
                     ON CONFLICT (project_id) DO UPDATE SET
                         direction = coalesce($2, github_sync_settings.direction),
                         conflict_policy = coalesce($3, github_sync_settings.conflict_policy),
                         push_new_tasks = coalesce($4, github_sync_settings.push_new_tasks),
                         updated_at = now()
                     RETURNING direction, conflict_policy, push_new_tasks",
                )
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<Nullable<Text>, _>(direction)
                .bind::<Nullable<Text>, _>(policy)
                .bind::<Nullable<Bool>, _>(push)
                .bind::<Text, _>(defaults.direction.as_str())
                .bind::<Text, _>(defaults.conflict_policy.as_str())
                .bind::<Bool, _>(defaults.push_new_tasks)
                .get_result::<SettingsRow>(conn)
                .await
                .missing_parent("project")?
                .into_domain()
            })
            .await
    }
}
