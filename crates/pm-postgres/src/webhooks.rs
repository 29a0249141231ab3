//! `DeliveryStore` and `DirtyIssues` on PostgreSQL (`github_deliveries`,
//! `github_dirty_issues`; migration `2026-11-23-000001_github_webhooks`).

use crate::jobs::JOBS_CHANNEL;
use crate::{Database, errors};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::{OptionalExtension, QueryResult, QueryableByName};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, BigInt, Int4, Int8, Jsonb, Nullable, Text, Timestamptz, Untyped, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, RunQueryDsl};
use pm_integrations::webhooks::{
    DELIVERY_JOB, DeliveryOutcome, DeliverySettlement, DeliveryStore, DirtyIssue, DirtyIssues,
    NewDelivery, StoredDelivery,
};
use pm_jobs::NewJob;
use pm_kernel::{Error, ProjectId, Result};
use serde_json::{Value, json};
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
/// without a concurrency key, due now.
///
/// A [`QueryFragment`] of its own rather than `sql_query`, which diesel never
/// keeps prepared: this text is prepared once per connection and cached by diesel
/// (it is the same for every delivery), so PostgreSQL does not parse and plan it
/// on every delivery.
struct RecordDelivery<'a> {
    d: &'a NewDelivery,
    job_id: Uuid,
    kind: &'a str,
    job_payload: &'a Value,
    max_attempts: i32,
}

impl QueryFragment<Pg> for RecordDelivery<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH delivery AS (INSERT INTO github_deliveries \
             (delivery_id, event, action, repository_id, repo_full_name, payload) VALUES (",
        );
        out.push_bind_param::<Text, _>(&self.d.delivery_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.d.event)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.d.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Int8>, _>(&self.d.repository_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.d.repo_full_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(&self.d.payload)?;
        out.push_sql(
            ") ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id), \
             job AS (INSERT INTO jobs \
             (id, kind, payload, status, max_attempts, run_at, created_at, updated_at) SELECT ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.job_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(self.job_payload)?;
        out.push_sql(", 'queued', ");
        out.push_bind_param::<Int4, _>(&self.max_attempts)?;
        out.push_sql(
            ", now(), now(), now() FROM delivery RETURNING kind) \
             SELECT count(*) AS stored FROM job \
             CROSS JOIN LATERAL (SELECT pg_notify('",
        );
        out.push_sql(JOBS_CHANNEL);
        out.push_sql("', job.kind)) AS n");
        Ok(())
    }
}

// Cached by its SQL text, which never changes.
impl QueryId for RecordDelivery<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for RecordDelivery<'_> {
    type SqlType = Untyped;
}

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
    #[diesel(sql_type = Jsonb)]
    payload: Value,
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
        let query = RecordDelivery {
            d,
            job_id: job.id.into_uuid(),
            kind: &job.kind,
            job_payload: &job.payload,
            max_attempts: i32::try_from(job.max_attempts).unwrap_or(i32::MAX),
        };
        let stored: Stored = self
            .db
            .run(async |conn| query.get_result(conn).await.map_err(errors::internal))
            .await?;
        Ok(stored.stored > 0)
    }

    async fn get(&self, delivery_id: &str) -> Result<Option<StoredDelivery>> {
        let row: Option<DeliveryRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT delivery_id, event, action, repository_id, repo_full_name,
                            received_at, processed_at, outcome, payload
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
                        diesel::sql_query(
                            "INSERT INTO github_dirty_issues AS d
                                 (project_id, github_issue_id, issue_number, repo_full_name,
                                  reason, delivery_id)
                             SELECT m.p, m.i, m.n, m.r, m.why, $6
                               FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::text[],
                                           $5::text[]) AS m(p, i, n, r, why)
                               JOIN projects ON projects.id = m.p
                             ON CONFLICT (project_id, github_issue_id) DO UPDATE
                                SET issue_number = EXCLUDED.issue_number,
                                    repo_full_name = EXCLUDED.repo_full_name,
                                    reason = EXCLUDED.reason,
                                    delivery_id = EXCLUDED.delivery_id,
                                    generation = d.generation + 1,
                                    marked_at = now()",
                        )
                        .bind::<Array<SqlUuid>, _>(&projects)
                        .bind::<Array<BigInt>, _>(&ids)
                        .bind::<Array<BigInt>, _>(&numbers)
                        .bind::<Array<Text>, _>(&repos)
                        .bind::<Array<Text>, _>(&reasons)
                        .bind::<Text, _>(delivery_id)
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
                payload: json!({ "n": n }),
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
                      WHERE statement LIKE 'WITH delivery AS (INSERT INTO github_deliveries%'",
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
