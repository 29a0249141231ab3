//! `PushStore` on PostgreSQL.

use crate::Database;
use crate::errors::DbResultExt;
use crate::schema::{external_links, push_intents};
use crate::tasks::load_by_numbers;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use pm_integrations::two_way::IssueFields;
use pm_integrations::{GITHUB_PROVIDER, PushBacklog, PushCandidate, PushStore};
use pm_kernel::{ProjectId, Result, SyncRunId, TaskId};
use pm_tasks::ExternalLink;
use std::collections::HashSet;

#[derive(Clone, Debug)]
pub struct PgPushStore {
    db: Database,
}

impl PgPushStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(QueryableByName)]
struct Unlinked {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    number: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pending: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[async_trait]
impl PushStore for PgPushStore {
    async fn backlog(&self, project_id: ProjectId) -> Result<PushBacklog> {
        let pid = project_id.into_uuid();
        self.db
            .run(async |conn| {
                let unlinked: Vec<Unlinked> = diesel::sql_query(
                    "SELECT t.number, (i.task_id IS NOT NULL) AS pending
               FROM tasks t LEFT JOIN push_intents i ON i.task_id = t.id
              WHERE t.project_id = $1
                AND NOT EXISTS (SELECT 1 FROM external_links l
                                 WHERE l.task_id = t.id AND l.provider = $2)
              ORDER BY t.number",
                )
                .bind::<diesel::sql_types::Uuid, _>(pid)
                .bind::<diesel::sql_types::Text, _>(GITHUB_PROVIDER)
                .load(conn)
                .await
                .or_internal()?;
                let linked: Count = diesel::sql_query(
                    "SELECT count(*) AS n FROM tasks t
              WHERE t.project_id = $1
                AND EXISTS (SELECT 1 FROM external_links l
                             WHERE l.task_id = t.id AND l.provider = $2)",
                )
                .bind::<diesel::sql_types::Uuid, _>(pid)
                .bind::<diesel::sql_types::Text, _>(GITHUB_PROVIDER)
                .get_result(conn)
                .await
                .or_internal()?;
                let pending: HashSet<i64> = unlinked
                    .iter()
                    .filter(|u| u.pending)
                    .map(|u| u.number)
                    .collect();
                let numbers: Vec<i64> = unlinked.iter().map(|u| u.number).collect();
                let tasks = load_by_numbers(conn, project_id, &numbers).await?;
                Ok(PushBacklog {
                    unlinked: tasks
                        .into_iter()
                        .map(|task| PushCandidate {
                            intent_pending: pending.contains(&task.number),
                            task,
                        })
                        .collect(),
                    linked: u32::try_from(linked.n).unwrap_or(u32::MAX),
                })
            })
            .await
    }

    async fn record_intent(
        &self,
        project_id: ProjectId,
        task_id: TaskId,
        run_id: SyncRunId,
    ) -> Result<()> {
        self.db
            .run(async |conn| {
                diesel::insert_into(push_intents::table)
                    .values((
                        push_intents::task_id.eq(task_id.into_uuid()),
                        push_intents::project_id.eq(project_id.into_uuid()),
                        push_intents::run_id.eq(run_id.into_uuid()),
                    ))
                    .on_conflict(push_intents::task_id)
                    .do_update()
                    .set((
                        push_intents::run_id.eq(run_id.into_uuid()),
                        push_intents::created_at.eq(pm_kernel::now()),
                    ))
                    .execute(conn)
                    .await
                    .or_internal()?;
                Ok(())
            })
            .await
    }

    async fn clear_intent(&self, task_id: TaskId) -> Result<()> {
        self.db
            .run(async |conn| {
                diesel::delete(push_intents::table.find(task_id.into_uuid()))
                    .execute(conn)
                    .await
                    .or_internal()?;
                Ok(())
            })
            .await
    }

    async fn link_pushed(
        &self,
        project_id: ProjectId,
        task_id: TaskId,
        dedup_key: String,
        link: ExternalLink,
        snapshot: IssueFields,
    ) -> Result<bool> {
        let (issue_id, issue_number) = crate::merge::issue_of_link(&dedup_key, &link.reference);
        let snapshot = crate::merge::snapshot_json(&snapshot).or_internal()?;
        self.db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    let inserted = diesel::insert_into(external_links::table)
                        .values((
                            external_links::id.eq(uuid::Uuid::now_v7()),
                            external_links::task_id.eq(task_id.into_uuid()),
                            external_links::project_id.eq(project_id.into_uuid()),
                            external_links::provider.eq(&link.provider),
                            external_links::dedup_key.eq(&dedup_key),
                            external_links::reference.eq(&link.reference),
                            external_links::url.eq(&link.url),
                            external_links::github_issue_id.eq(issue_id),
                            external_links::issue_number.eq(issue_number),
                            // The issue as pushed: the base of its first merge.
                            external_links::snapshot.eq(Some(&snapshot)),
                            external_links::synced_at.eq(Some(pm_kernel::now())),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                    diesel::delete(push_intents::table.find(task_id.into_uuid()))
                        .execute(conn)
                        .await?;
                    Ok(inserted > 0)
                })
                .await
                .missing_parent("task")
            })
            .await
    }
}
