//! `DeliveryStore` and `DirtyIssues` on PostgreSQL (`github_deliveries`,
//! `github_dirty_issues`; migration `2026-11-23-000001_github_webhooks`).

use crate::cached::CachedSql;
use crate::jobs::{JOBS_CHANNEL, on_conflict};
use crate::{Database, errors};
use async_trait::async_trait;
use diesel::prelude::{OptionalExtension, QueryableByName};
use diesel::sql_types::{
    Array, BigInt, Int4, Int8, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, RunQueryDsl};
use pm_integrations::two_way::{MERGE_JOB, merge_job};
use pm_integrations::webhooks::{
    DELIVERY_JOB, DeliveryOutcome, DeliverySettlement, DeliveryStore, DirtyIssue, DirtyIssues,
    NewDelivery, StoredDelivery,
};
use pm_jobs::NewJob;
use pm_kernel::{Error, ProjectId, Result, WorkspaceId};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PgWebhookStore {
    db: Database,
}

impl PgWebhookStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The job that processes a delivery; its attempts are the queue's default.
pub fn delivery_job(delivery_id: &str) -> NewJob {
    NewJob::new(DELIVERY_JOB, json!({ "delivery_id": delivery_id }))
}

/// Stores a delivery and, only when it is new, its job — one statement, so one
/// implicit transaction and one round trip (instead of `BEGIN`, two inserts and
/// `COMMIT`): the delivery exists exactly when its job does (the outbox), and a
/// redelivery (`ON CONFLICT DO NOTHING`, which also waits out a concurrent insert
/// of the same id) inserts neither. The runners are notified at commit, as
/// `jobs::enqueue_in` does; the job row is what `enqueue_in` inserts for a job
/// without a concurrency key, due now. A [`CachedSql`], so PostgreSQL does not
/// parse and plan it on every delivery. Binds: the delivery's id, event, action,
/// repository id and name, payload (the body's text, checked and stored as `json`:
/// kept as sent, not decomposed as `jsonb` would be; ADR 0026); the job's id, kind,
/// payload, max attempts.
static RECORD_DELIVERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH delivery AS (
            INSERT INTO github_deliveries
                   (delivery_id, event, action, repository_id, repo_full_name, payload)
            VALUES ($1, $2, $3, $4, $5, $6::json)
            ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id
         ), job AS (
            INSERT INTO jobs (id, kind, payload, status, max_attempts, run_at, created_at,
                              updated_at)
            SELECT $7, $8, $9, 'queued', $10, now(), now(), now() FROM delivery
            RETURNING kind
         )
         SELECT count(*) AS stored FROM job
         CROSS JOIN LATERAL (SELECT pg_notify('{JOBS_CHANNEL}', job.kind)) AS n"
    )
});

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = BigInt)]
    stored: i64,
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = Text)]
    delivery_id: String,
    #[diesel(sql_type = Text)]
    event: String,
    #[diesel(sql_type = Nullable<Text>)]
    action: Option<String>,
    #[diesel(sql_type = Nullable<Int8>)]
    repository_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    repo_full_name: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    received_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    processed_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    outcome: Option<String>,
    #[diesel(sql_type = Text)]
    payload: String,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct DirtyRow {
    #[diesel(sql_type = SqlUuid)]
    project_id: Uuid,
    #[diesel(sql_type = Int8)]
    github_issue_id: i64,
    #[diesel(sql_type = Int8)]
    issue_number: i64,
    #[diesel(sql_type = Text)]
    repo_full_name: String,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Text)]
    delivery_id: String,
    #[diesel(sql_type = Int8)]
    generation: i64,
    #[diesel(sql_type = Timestamptz)]
    marked_at: OffsetDateTime,
}

/// A settlement's marks and their merge jobs, in one statement: the marks of
/// projects that sync both ways (a settings row saying `import_only` keeps the
/// project out: nothing is merged there), upserted with generation + 1 when dirty
/// already, and for each project marked its merge job, enqueued as the queue does
/// (joins the active one; a running one runs again, `jobs.rerun`).
static SETTLE_MARKS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH m AS (
            SELECT m.p, m.i, m.n, m.r, m.why, projects.workspace_id
              FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::text[], $5::text[])
                   AS m(p, i, n, r, why)
              JOIN projects ON projects.id = m.p
              LEFT JOIN github_sync_settings s ON s.project_id = m.p
             WHERE COALESCE(s.direction, 'two_way') = 'two_way'
         ), mark AS (
            INSERT INTO github_dirty_issues AS d
                   (project_id, github_issue_id, issue_number, repo_full_name, reason, delivery_id)
            SELECT p, i, n, r, why, $6 FROM m
            ON CONFLICT (project_id, github_issue_id) DO UPDATE
               SET issue_number = EXCLUDED.issue_number,
                   repo_full_name = EXCLUDED.repo_full_name,
                   reason = EXCLUDED.reason,
                   delivery_id = EXCLUDED.delivery_id,
                   generation = d.generation + 1,
                   marked_at = now()
            RETURNING d.project_id
         ), job AS (
            INSERT INTO jobs AS j (id, kind, payload, concurrency_key, workspace_id, project_id,
                                   status, max_attempts, run_at, created_at, updated_at)
            SELECT k.id, $10, jsonb_build_object('project_id', k.p, 'workspace_id', w.workspace_id),
                   k.key, w.workspace_id, k.p, 'queued', $11, now(), now(), now()
              FROM unnest($7::uuid[], $8::uuid[], $9::text[]) AS k(p, id, key)
              JOIN (SELECT DISTINCT p, workspace_id FROM m) w ON w.p = k.p
            {conflict}
            RETURNING j.kind, (j.xmax = 0) AS inserted
         ), notify AS (
            SELECT pg_notify('{JOBS_CHANNEL}', kind) FROM job WHERE inserted
         )
         SELECT (SELECT count(*) FROM mark) AS marked, (SELECT count(*) FROM notify) AS notified",
        conflict = on_conflict(true),
    )
});

#[async_trait]
impl DeliveryStore for PgWebhookStore {
    async fn record(&self, d: &NewDelivery) -> Result<bool> {
        let job = delivery_job(&d.delivery_id);
        job.validate()?;
        if job.concurrency_key.is_some() || job.run_at.is_some() {
            // RECORD below inserts the job unconditionally and due now.
            return Err(Error::internal(
                "a delivery's job has no concurrency key and is due at once",
            ));
        }
        let max_attempts = i32::try_from(job.max_attempts).unwrap_or(i32::MAX);
        let stored: Stored = self
            .db
            .run(async |conn| {
                CachedSql::new(RECORD_DELIVERY.as_str())
                    .bind::<Text, _>(d.delivery_id.as_str())
                    .bind::<Text, _>(d.event.as_str())
                    .bind::<Nullable<Text>, _>(d.action.as_deref())
                    .bind::<Nullable<Int8>, _>(d.repository_id)
                    .bind::<Nullable<Text>, _>(d.repo_full_name.as_deref())
                    .bind::<Text, _>(d.payload.as_str())
                    .bind::<SqlUuid, _>(job.id.into_uuid())
                    .bind::<Text, _>(job.kind.as_str())
                    .bind::<Jsonb, _>(&job.payload)
                    .bind::<Int4, _>(max_attempts)
                    .get_result(conn)
                    .await
                    .map_err(errors::internal)
            })
            .await?;
        Ok(stored.stored > 0)
    }

    async fn get(&self, delivery_id: &str) -> Result<Option<StoredDelivery>> {
        let row: Option<DeliveryRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT delivery_id, event, action, repository_id, repo_full_name,
                            received_at, processed_at, outcome, payload::text AS payload
                       FROM github_deliveries WHERE delivery_id = $1",
                )
                .bind::<Text, _>(delivery_id)
                .get_result(conn)
                .await
                .optional()
                .map_err(errors::internal)
            })
            .await?;
        row.map(|r| {
            let outcome = match r.outcome.as_deref() {
                None => None,
                Some(s) => Some(DeliveryOutcome::parse(s).ok_or_else(|| {
                    Error::internal(format!("github_deliveries.outcome holds {s:?}"))
                })?),
            };
            Ok(StoredDelivery {
                delivery: NewDelivery {
                    delivery_id: r.delivery_id,
                    event: r.event,
                    action: r.action,
                    repository_id: r.repository_id,
                    repo_full_name: r.repo_full_name,
                    payload: r.payload,
                },
                received_at: r.received_at,
                processed_at: r.processed_at,
                outcome,
            })
        })
        .transpose()
    }

    async fn linked_projects(&self, repo_full_name: &str) -> Result<Vec<ProjectId>> {
        let rows: Vec<IdRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT id FROM projects
                      WHERE github_repo IS NOT NULL AND lower(github_repo) = lower($1)
                      ORDER BY id",
                )
                .bind::<Text, _>(repo_full_name)
                .load(conn)
                .await
                .map_err(errors::internal)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ProjectId::from_uuid(r.id))
            .collect())
    }

    async fn settle(&self, delivery_id: &str, s: &DeliverySettlement) -> Result<bool> {
        let projects: Vec<Uuid> = s.dirty.iter().map(|m| m.project_id.into_uuid()).collect();
        let ids: Vec<i64> = s.dirty.iter().map(|m| m.github_issue_id).collect();
        let numbers: Vec<i64> = s.dirty.iter().map(|m| m.issue_number).collect();
        let repos: Vec<&str> = s.dirty.iter().map(|m| m.repo_full_name.as_str()).collect();
        let reasons: Vec<&str> = s.dirty.iter().map(|m| m.reason.as_str()).collect();
        // One merge job per project marked (its id and key made here, as `merge_job`).
        let mut job_projects: Vec<Uuid> = projects.clone();
        job_projects.sort_unstable();
        job_projects.dedup();
        let jobs: Vec<NewJob> = job_projects
            .iter()
            .map(|p| {
                merge_job(
                    ProjectId::from_uuid(*p),
                    WorkspaceId::from_uuid(Uuid::nil()),
                )
            })
            .collect();
        let job_ids: Vec<Uuid> = jobs.iter().map(|j| j.id.into_uuid()).collect();
        let job_keys: Vec<String> = jobs
            .iter()
            .map(|j| j.concurrency_key.clone().unwrap_or_default())
            .collect();
        let max_attempts = <[NewJob]>::first(&jobs)
            .map_or(1, |j| i32::try_from(j.max_attempts).unwrap_or(i32::MAX));
        let settled = self
            .db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    // Claim the settlement first: a second attempt stops here.
                    let claimed = diesel::sql_query(
                        "UPDATE github_deliveries SET processed_at = now(), outcome = $2
                          WHERE delivery_id = $1 AND processed_at IS NULL",
                    )
                    .bind::<Text, _>(delivery_id)
                    .bind::<Text, _>(s.outcome.as_str())
                    .execute(conn)
                    .await?;
                    if claimed == 0 {
                        return Ok(None);
                    }
                    if !s.dirty.is_empty() {
                        CachedSql::new(SETTLE_MARKS.as_str())
                            .bind::<Array<SqlUuid>, _>(&projects)
                            .bind::<Array<BigInt>, _>(&ids)
                            .bind::<Array<BigInt>, _>(&numbers)
                            .bind::<Array<Text>, _>(&repos)
                            .bind::<Array<Text>, _>(&reasons)
                            .bind::<Text, _>(delivery_id)
                            .bind::<Array<SqlUuid>, _>(&job_projects)
                            .bind::<Array<SqlUuid>, _>(&job_ids)
                            .bind::<Array<Text>, _>(&job_keys)
                            .bind::<Text, _>(MERGE_JOB)
                            .bind::<Int4, _>(max_attempts)
                            .execute(conn)
                            .await?;
                    }
                    if let Some(rename) = &s.rename {
                        diesel::sql_query(
                            "UPDATE projects SET github_repo = $2, updated_at = now()
                              WHERE github_repo IS NOT NULL
                                AND lower(github_repo) = lower($1)",
                        )
                        .bind::<Text, _>(&rename.from)
                        .bind::<Text, _>(&rename.to)
                        .execute(conn)
                        .await?;
                    }
                    Ok(Some(()))
                })
                .await
                .map_err(errors::internal)
            })
            .await?;
        if settled.is_some() {
            return Ok(true);
        }
        match self.get(delivery_id).await? {
            Some(_) => Ok(false),
            None => Err(Error::NotFound("delivery")),
        }
    }
}

#[async_trait]
impl DirtyIssues for PgWebhookStore {
    async fn list(&self, project: ProjectId, limit: u32) -> Result<Vec<DirtyIssue>> {
        let rows: Vec<DirtyRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT project_id, github_issue_id, issue_number, repo_full_name, reason,
                            delivery_id, generation, marked_at
                       FROM github_dirty_issues WHERE project_id = $1
                      ORDER BY marked_at, github_issue_id LIMIT $2",
                )
                .bind::<SqlUuid, _>(project.into_uuid())
                .bind::<Int8, _>(i64::from(limit))
                .load(conn)
                .await
                .map_err(errors::internal)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DirtyIssue {
                project_id: ProjectId::from_uuid(r.project_id),
                github_issue_id: r.github_issue_id,
                issue_number: r.issue_number,
                repo_full_name: r.repo_full_name,
                reason: r.reason,
                delivery_id: r.delivery_id,
                generation: r.generation,
                marked_at: r.marked_at,
            })
            .collect())
    }

    async fn clear(
        &self,
        project: ProjectId,
        github_issue_id: i64,
        generation: i64,
    ) -> Result<bool> {
        let deleted = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "DELETE FROM github_dirty_issues
                      WHERE project_id = $1 AND github_issue_id = $2 AND generation = $3",
                )
                .bind::<SqlUuid, _>(project.into_uuid())
                .bind::<Int8, _>(github_issue_id)
                .bind::<Int8, _>(generation)
                .execute(conn)
                .await
                .map_err(errors::internal)
            })
            .await?;
        Ok(deleted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DbConfig;

    #[derive(QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn recording_is_one_statement_prepared_once_per_connection() {
        let test = crate::testing::TestDb::new().await;
        let mut config = DbConfig::new(&test.url);
        config.max_connections = 1;
        let db = Database::connect(&config).unwrap();
        let store = PgWebhookStore::new(db.clone());
        let before = db.statements_executed();
        for n in 0..5 {
            let d = NewDelivery {
                delivery_id: format!("prepared-{n}"),
                event: "issues".into(),
                action: Some("edited".into()),
                repository_id: Some(1),
                repo_full_name: Some("o/r".into()),
                payload: json!({ "n": n }).to_string(),
            };
            assert!(store.record(&d).await.unwrap());
            assert!(!store.record(&d).await.unwrap(), "redelivery");
        }
        assert_eq!(
            db.statements_executed() - before,
            10,
            "one statement per delivery: no BEGIN, no COMMIT, no second insert"
        );
        // On the pool's only connection, the text was prepared once and kept.
        let prepared: Prepared = db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_prepared_statements
                      WHERE statement LIKE 'WITH delivery AS (%INSERT INTO github_deliveries%'",
                )
                .get_result(conn)
                .await
                .map_err(errors::internal)
            })
            .await
            .unwrap();
        assert_eq!(prepared.n, 1);
    }

    /// The claim (`jobs.rs`) is kept prepared the same way; tested here, beside the
    /// other hot statement of the receive-and-run path.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_claim_is_prepared_once_per_connection() {
        use pm_jobs::JobQueue;
        let test = crate::testing::TestDb::new().await;
        let mut config = DbConfig::new(&test.url);
        config.max_connections = 1;
        let db = Database::connect(&config).unwrap();
        let queue = crate::PgJobQueue::new(db.clone());
        queue.enqueue(delivery_job("c-1")).await.unwrap();
        let kinds = vec![DELIVERY_JOB.to_string()];
        let lease = std::time::Duration::from_secs(30);
        let first = queue.claim("w", &kinds, 4, lease).await.unwrap();
        assert_eq!(first.len(), 1);
        for _ in 0..3 {
            assert!(queue.claim("w", &kinds, 4, lease).await.unwrap().is_empty());
        }
        let prepared: Prepared = db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_prepared_statements
                      WHERE statement LIKE 'WITH reaped AS (UPDATE jobs%'",
                )
                .get_result(conn)
                .await
                .map_err(errors::internal)
            })
            .await
            .unwrap();
        assert_eq!(prepared.n, 1);
    }
}
