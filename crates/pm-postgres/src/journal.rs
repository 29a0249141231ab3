//! `SyncJournal` on PostgreSQL: reads of `github_sync_events` and
//! `github_conflicts` (written by the stores, in the transaction of the change they
//! describe) with keyset pagination on their UUIDv7 ids, and the health view
//! gathered from deliveries, jobs, runs, events and conflicts in one statement
//! (indexes: migrations `2026-12-01-100001_two_way_sync` and
//! `2026-12-01-200004_sync_views`).

use crate::errors::DbResultExt;
use crate::{Database, errors};
use async_trait::async_trait;
use diesel::prelude::QueryableByName;
use diesel::sql_types::{Array, BigInt, Int8, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use pm_integrations::jobs::{IMPORT_JOB, PUSH_JOB};
use pm_integrations::two_way::{
    Conflict, MERGE_JOB, NewConflict, NewSyncEvent, RECONCILE_JOB, SyncEvent, SyncHealth,
    SyncJournal,
};
use pm_kernel::{Limit, ProjectId, Result, SyncRunId, TaskId};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// The jobs the health view counts as the project's sync jobs.
const SYNC_JOBS: [&str; 4] = [IMPORT_JOB, PUSH_JOB, MERGE_JOB, RECONCILE_JOB];

#[derive(Clone, Debug)]
pub struct PgSyncJournal {
    db: Database,
}

impl PgSyncJournal {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// `limit + 1` rows: the extra one tells a next page exists.
fn page_rows(limit: Limit) -> i64 {
    i64::from(limit.get()) + 1
}

const EVENT_COLUMNS: &str = "id, run_id, task_id, task_number, issue_number, kind, direction,
     field, from_value, to_value, detail, created_at";

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    run_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    task_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Int8>)]
    task_number: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    issue_number: Option<i64>,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    direction: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    field: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    from_value: Option<Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    to_value: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    detail: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
}

fn stored_opt<T: std::str::FromStr>(column: &str, value: Option<&str>) -> Result<Option<T>> {
    value.map(|v| errors::stored(column, v)).transpose()
}

impl EventRow {
    fn into_domain(self) -> Result<SyncEvent> {
        Ok(SyncEvent {
            id: self.id,
            event: NewSyncEvent {
                run_id: self.run_id.map(SyncRunId::from_uuid),
                task_id: self.task_id.map(TaskId::from_uuid),
                task_number: self.task_number,
                issue_number: self.issue_number,
                kind: errors::stored("github_sync_events.kind", &self.kind)?,
                direction: stored_opt("github_sync_events.direction", self.direction.as_deref())?,
                field: stored_opt("github_sync_events.field", self.field.as_deref())?,
                from_value: self.from_value,
                to_value: self.to_value,
                detail: self.detail,
            },
            created_at: self.created_at,
        })
    }
}

#[derive(QueryableByName)]
struct ConflictRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    run_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    task_id: Option<Uuid>,
    #[diesel(sql_type = Int8)]
    task_number: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    issue_number: Option<i64>,
    #[diesel(sql_type = Text)]
    field: String,
    #[diesel(sql_type = Nullable<Jsonb>)]
    base_value: Option<Value>,
    #[diesel(sql_type = Jsonb)]
    pmhub_value: Value,
    #[diesel(sql_type = Jsonb)]
    github_value: Value,
    #[diesel(sql_type = Text)]
    policy: String,
    #[diesel(sql_type = Timestamptz)]
    detected_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    acknowledged_at: Option<OffsetDateTime>,
}

impl ConflictRow {
    fn into_domain(self) -> Result<Conflict> {
        Ok(Conflict {
            id: self.id,
            conflict: NewConflict {
                run_id: self.run_id.map(SyncRunId::from_uuid),
                // A conflict outlives its task (`task_id` is not a foreign key);
                // the number says which task it was.
                task_id: TaskId::from_uuid(self.task_id.unwrap_or_default()),
                task_number: self.task_number,
                issue_number: self.issue_number.unwrap_or_default(),
                field: errors::stored("github_conflicts.field", &self.field)?,
                base_value: self.base_value,
                pmhub_value: self.pmhub_value,
                github_value: self.github_value,
                policy: errors::stored("github_conflicts.policy", &self.policy)?,
            },
            detected_at: self.detected_at,
            acknowledged_at: self.acknowledged_at,
        })
    }
}

#[derive(QueryableByName)]
struct HealthRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_delivery_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_reconcile_at: Option<OffsetDateTime>,
    #[diesel(sql_type = BigInt)]
    pending_jobs: i64,
    #[diesel(sql_type = BigInt)]
    failed_jobs: i64,
    #[diesel(sql_type = BigInt)]
    open_conflicts: i64,
    #[diesel(sql_type = Nullable<Text>)]
    run_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    run_error_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    event_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    event_error_at: Option<OffsetDateTime>,
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl HealthRow {
    fn into_domain(self) -> SyncHealth {
        // The later of the last failed run and the last failed journal entry.
        let run = self.run_error_at.map(|at| (at, self.run_error));
        let event = self.event_error_at.map(|at| (at, self.event_error));
        let last = match (run, event) {
            (Some(r), Some(e)) => Some(if e.0 > r.0 { e } else { r }),
            (r, e) => r.or(e),
        };
        SyncHealth {
            last_delivery_at: self.last_delivery_at,
            last_reconcile_at: self.last_reconcile_at,
            pending_jobs: count(self.pending_jobs),
            failed_jobs: count(self.failed_jobs),
            open_conflicts: count(self.open_conflicts),
            last_error_at: last.as_ref().map(|(at, _)| *at),
            last_error: last.and_then(|(_, code)| code),
        }
    }
}

/// Below every UUID and above every UUID: the start of an ascending and of a
/// descending keyset scan without a cursor (keeps the predicate sargable).
const MIN_ID: Uuid = Uuid::nil();
const MAX_ID: Uuid = Uuid::max();

#[async_trait]
impl SyncJournal for PgSyncJournal {
    async fn run_events(
        &self,
        project_id: ProjectId,
        run_id: SyncRunId,
        after: Option<Uuid>,
        limit: Limit,
    ) -> Result<Vec<SyncEvent>> {
        let rows: Vec<EventRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(format!(
                    "SELECT {EVENT_COLUMNS} FROM github_sync_events
                      WHERE run_id = $2 AND project_id = $1 AND id > $3
                      ORDER BY id LIMIT $4"
                ))
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<SqlUuid, _>(run_id.into_uuid())
                .bind::<SqlUuid, _>(after.unwrap_or(MIN_ID))
                .bind::<BigInt, _>(page_rows(limit))
                .load(conn)
                .await
                .or_internal()
            })
            .await?;
        rows.into_iter().map(EventRow::into_domain).collect()
    }

    async fn task_events(
        &self,
        project_id: ProjectId,
        task_number: i64,
        before: Option<Uuid>,
        limit: Limit,
    ) -> Result<Vec<SyncEvent>> {
        let rows: Vec<EventRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(format!(
                    "SELECT {EVENT_COLUMNS} FROM github_sync_events
                      WHERE project_id = $1 AND task_number = $2 AND id < $3
                      ORDER BY id DESC LIMIT $4"
                ))
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<BigInt, _>(task_number)
                .bind::<SqlUuid, _>(before.unwrap_or(MAX_ID))
                .bind::<BigInt, _>(page_rows(limit))
                .load(conn)
                .await
                .or_internal()
            })
            .await?;
        rows.into_iter().map(EventRow::into_domain).collect()
    }

    async fn conflicts(
        &self,
        project_id: ProjectId,
        open_only: bool,
        before: Option<Uuid>,
        limit: Limit,
    ) -> Result<Vec<Conflict>> {
        // Two statements rather than `($2 OR …)`, so the open list uses its
        // partial index.
        let filter = if open_only {
            "AND acknowledged_at IS NULL"
        } else {
            ""
        };
        let rows: Vec<ConflictRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(format!(
                    "SELECT id, run_id, task_id, task_number, issue_number, field, base_value,
                            pmhub_value, github_value, policy, detected_at, acknowledged_at
                       FROM github_conflicts
                      WHERE project_id = $1 AND id < $2 {filter}
                      ORDER BY id DESC LIMIT $3"
                ))
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<SqlUuid, _>(before.unwrap_or(MAX_ID))
                .bind::<BigInt, _>(page_rows(limit))
                .load(conn)
                .await
                .or_internal()
            })
            .await?;
        rows.into_iter().map(ConflictRow::into_domain).collect()
    }

    async fn acknowledge_conflict(&self, project_id: ProjectId, id: Uuid) -> Result<bool> {
        let updated = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "UPDATE github_conflicts
                        SET acknowledged_at = coalesce(acknowledged_at, now())
                      WHERE id = $2 AND project_id = $1",
                )
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<SqlUuid, _>(id)
                .execute(conn)
                .await
                .or_internal()
            })
            .await?;
        Ok(updated > 0)
    }

    async fn health(&self, project_id: ProjectId) -> Result<SyncHealth> {
        let kinds: Vec<&str> = SYNC_JOBS.to_vec();
        let row = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT
                       (SELECT max(d.received_at) FROM github_deliveries d
                         WHERE p.github_repo IS NOT NULL
                           AND lower(d.repo_full_name) = lower(p.github_repo)) AS last_delivery_at,
                       (SELECT max(j.finished_at) FROM jobs j
                         WHERE j.project_id = p.id AND j.kind = $3
                           AND j.status = 'succeeded') AS last_reconcile_at,
                       (SELECT count(*) FROM jobs j
                         WHERE j.project_id = p.id AND j.kind = ANY($2)
                           AND j.status IN ('queued', 'running', 'waiting')) AS pending_jobs,
                       (SELECT count(*) FROM jobs j
                         WHERE j.project_id = p.id AND j.kind = ANY($2)
                           AND j.status = 'failed') AS failed_jobs,
                       (SELECT count(*) FROM github_conflicts c
                         WHERE c.project_id = p.id AND c.acknowledged_at IS NULL) AS open_conflicts,
                       r.error_code AS run_error, r.at AS run_error_at,
                       e.detail AS event_error, e.created_at AS event_error_at
                     FROM projects p
                     LEFT JOIN LATERAL (
                       SELECT s.error_code, coalesce(s.finished_at, s.started_at) AS at
                         FROM sync_runs s
                        WHERE s.project_id = p.id AND s.status = 'failed'
                        ORDER BY s.id DESC LIMIT 1) r ON true
                     LEFT JOIN LATERAL (
                       SELECT ev.detail, ev.created_at FROM github_sync_events ev
                        WHERE ev.project_id = p.id AND ev.kind = 'failed'
                        ORDER BY ev.id DESC LIMIT 1) e ON true
                     WHERE p.id = $1",
                )
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<Array<Text>, _>(&kinds)
                .bind::<Text, _>(RECONCILE_JOB)
                .get_result::<HealthRow>(conn)
                .await
                .optional_row(|row| Ok(row.into_domain()))
            })
            .await?;
        Ok(row.unwrap_or_default())
    }
}
