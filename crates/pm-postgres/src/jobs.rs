//! The job queue on PostgreSQL (`jobs` table; see ADR 0017-job-queue).
//!
//! Every call is one short statement (enqueue may need a second one to find the job
//! it joins); no transaction stays open while a job runs. Times that decide claims
//! and leases come from the database's clock, so runners on several machines agree.

use crate::Database;
use crate::cached::CachedSql;
use crate::errors::{self, DbResultExt};
use async_trait::async_trait;
use diesel::prelude::{OptionalExtension, QueryableByName};
use diesel::sql_types::{
    Array, Bool, Int4, Int8, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use pm_jobs::{
    CancelOutcome, ClaimedJob, Enqueued, Job, JobError, JobFilter, JobId, JobQueue, JobStatus,
    LEASE_EXPIRED, Lease, LeaseState, NewJob, Settlement,
};
use pm_kernel::{Error, ProjectId, Result, Timestamp, WorkspaceId};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The LISTEN/NOTIFY channel: every enqueue (and every release on shutdown)
/// notifies it, with the job's kind as payload.
pub const JOBS_CHANNEL: &str = "pmhub_jobs";

const ACTIVE: &str = "('queued', 'waiting', 'running')";
const FINISHED: &str = "('succeeded', 'failed', 'canceled')";

#[derive(QueryableByName)]
struct JobRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Jsonb)]
    payload: Value,
    #[diesel(sql_type = Nullable<Text>)]
    concurrency_key: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    workspace_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = Int4)]
    max_attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    run_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    lease_token: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    lease_until: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    worker: Option<String>,
    #[diesel(sql_type = Bool)]
    cancel_requested: bool,
    #[diesel(sql_type = Nullable<Text>)]
    last_error_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error_message: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    progress: Option<Value>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    updated_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    started_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    finished_at: Option<OffsetDateTime>,
}

#[derive(QueryableByName)]
struct EnqueuedRow {
    #[diesel(embed)]
    job: JobRow,
    #[diesel(sql_type = Bool)]
    inserted: bool,
}

#[derive(QueryableByName)]
struct CancelRow {
    #[diesel(sql_type = Bool)]
    cancel_requested: bool,
}

#[derive(QueryableByName)]
struct SettledRow {
    #[diesel(sql_type = Bool)]
    requeued: bool,
}

#[derive(QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    #[allow(dead_code)]
    id: Uuid,
}

impl JobRow {
    fn into_domain(self) -> Result<Job> {
        let last_error = self.last_error_code.map(|code| JobError {
            code,
            message: self.last_error_message.unwrap_or_default(),
        });
        Ok(Job {
            id: JobId::from_uuid(self.id),
            kind: self.kind,
            payload: self.payload,
            concurrency_key: self.concurrency_key,
            workspace_id: self.workspace_id.map(WorkspaceId::from_uuid),
            project_id: self.project_id.map(ProjectId::from_uuid),
            status: errors::stored("jobs.status", &self.status)?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(1),
            run_at: self.run_at,
            lease_until: self.lease_until,
            worker: self.worker,
            cancel_requested: self.cancel_requested,
            last_error,
            progress: self.progress,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }

    fn into_claimed(self) -> Result<ClaimedJob> {
        let token = self
            .lease_token
            .ok_or_else(|| Error::internal("a claimed job has no lease token"))?;
        let job = self.into_domain()?;
        Ok(ClaimedJob {
            lease: Lease {
                job_id: job.id,
                token,
            },
            job,
        })
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Kinds whose enqueue, when it joins a job of the same key that is already
/// running, makes that job run once more after it finishes (`jobs.rerun`): the
/// running one may have read its work list before the ask, and the ask must not
/// be lost in the join. Other kinds join as they always did (an import asked for
/// twice runs once).
pub const RERUN_ON_JOIN: &[&str] = &[pm_integrations::two_way::MERGE_JOB];

/// Whether an enqueue of `kind` that joins a running job sets its `rerun`.
pub fn reruns_on_join(kind: &str) -> bool {
    RERUN_ON_JOIN.contains(&kind)
}

/// The conflict clause of an enqueue: join the active job of the key; for
/// [`RERUN_ON_JOIN`] kinds, a running one is also asked to run again. Shared by
/// [`enqueue_in`] and the outboxes that enqueue in SQL of their own (task
/// updates), so they behave the same. The target table is aliased `j`.
pub(crate) fn on_conflict(rerun: bool) -> String {
    if rerun {
        format!(
            "ON CONFLICT (concurrency_key) WHERE status IN {ACTIVE}
             DO UPDATE SET rerun = true, updated_at = now() WHERE j.status = 'running'"
        )
    } else {
        format!("ON CONFLICT (concurrency_key) WHERE status IN {ACTIVE} DO NOTHING")
    }
}

/// Enqueues `job` on `conn`, inside whatever transaction `conn` is in: use it in
/// another store's transaction so the job exists exactly when the write that causes
/// it commits (the outbox). The notification to runners is sent at commit.
///
/// Validate the job first (`NewJob::validate`); the table's CHECK constraints turn
/// anything that slips through into an error. When an active job has the same
/// concurrency key, nothing is inserted and that job is returned (`joined`); if
/// it is running and its kind is one of [`RERUN_ON_JOIN`], it is marked to run
/// once more when it finishes.
pub async fn enqueue_in(
    conn: &mut AsyncPgConnection,
    job: &NewJob,
) -> std::result::Result<Enqueued, diesel::result::Error> {
    let conflict = on_conflict(reruns_on_join(&job.kind));
    // The join needs the key; without one the insert cannot conflict.
    for _ in 0..5 {
        let row: Option<EnqueuedRow> = diesel::sql_query(format!(
            "WITH ins AS (
                INSERT INTO jobs AS j (id, kind, payload, concurrency_key, workspace_id, project_id,
                                  status, max_attempts, run_at, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, COALESCE($8, now()), now(), now())
                {conflict}
                RETURNING j.*, (j.xmax = 0) AS inserted
             )
             SELECT ins.*
               FROM ins LEFT JOIN LATERAL (SELECT pg_notify('{JOBS_CHANNEL}', ins.kind)
                                            WHERE ins.inserted) AS n ON true
             UNION ALL
             SELECT j.*, false AS inserted
               FROM jobs j
              WHERE $4 IS NOT NULL AND j.concurrency_key = $4 AND j.status IN {ACTIVE}
                AND NOT EXISTS (SELECT 1 FROM ins)"
        ))
        .bind::<SqlUuid, _>(job.id.into_uuid())
        .bind::<Text, _>(&job.kind)
        .bind::<Jsonb, _>(&job.payload)
        .bind::<Nullable<Text>, _>(job.concurrency_key.as_deref())
        .bind::<Nullable<SqlUuid>, _>(job.workspace_id.map(WorkspaceId::into_uuid))
        .bind::<Nullable<SqlUuid>, _>(job.project_id.map(ProjectId::into_uuid))
        .bind::<Int4, _>(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
        .bind::<Nullable<Timestamptz>, _>(job.run_at)
        .get_result(conn)
        .await
        .optional()?;
        if let Some(row) = row {
            let joined = !row.inserted;
            let job = row
                .job
                .into_domain()
                .map_err(|e| diesel::result::Error::DeserializationError(e.to_string().into()))?;
            return Ok(Enqueued { job, joined });
        }
        // The active job this insert conflicted with was committed after this
        // statement's snapshot, or finished meanwhile: look again.
    }
    Err(diesel::result::Error::DeserializationError(
        "the job's concurrency key stayed taken by a job that could not be read".into(),
    ))
}

#[derive(Clone, Debug)]
pub struct PgJobQueue {
    db: Database,
}

impl PgJobQueue {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The claim, one statement: ends dead runners' jobs that have no attempt left
/// (or were asked to cancel), then takes up to `limit` jobs — expired leases first,
/// then due jobs — each with a new lease token. `FOR UPDATE SKIP LOCKED`, so
/// concurrent claims never take the same job nor wait for each other. A
/// [`CachedSql`]: every runner sends it on each wake-up and poll, so it is prepared
/// once per connection. Binds: `$1` the lease-expired code, `$2` its message,
/// `$3` the kinds, `$4` the limit, `$5` the lease in milliseconds, `$6` the worker.
const CLAIM: &str = "WITH reaped AS (UPDATE jobs
        SET status = CASE WHEN cancel_requested THEN 'canceled' ELSE 'failed' END,
            last_error_code = CASE WHEN cancel_requested THEN last_error_code ELSE $1 END,
            last_error_message = CASE WHEN cancel_requested THEN last_error_message ELSE $2 END,
            lease_token = NULL, lease_until = NULL, worker = NULL,
            finished_at = now(), updated_at = now()
      WHERE id IN (SELECT id FROM jobs
                    WHERE status = 'running' AND lease_until < now()
                      AND (attempts >= max_attempts OR cancel_requested)
                      FOR UPDATE SKIP LOCKED)
      RETURNING id),
    stale AS (SELECT id FROM jobs
               WHERE status = 'running' AND lease_until < now()
                 AND attempts < max_attempts AND NOT cancel_requested AND kind = ANY($3)
               ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED),
    due AS (SELECT id FROM jobs
             WHERE status IN ('queued', 'waiting') AND run_at <= now() AND kind = ANY($3)
             ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED)
    UPDATE jobs SET status = 'running', attempts = attempts + 1,
           lease_token = gen_random_uuid(), lease_until = now() + $5 * interval '1 millisecond',
           worker = $6, started_at = now(), updated_at = now()
     WHERE id IN (SELECT id FROM (SELECT id FROM stale UNION ALL SELECT id FROM due) AS c
                  LIMIT $4)
    RETURNING *";

#[async_trait]
impl JobQueue for PgJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        job.validate()?;
        self.db
            .run(async |conn| enqueue_in(conn, &job).await.or_internal())
            .await
    }

    async fn claim(
        &self,
        worker: &str,
        kinds: &[String],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob>> {
        if limit == 0 || kinds.is_empty() {
            return Ok(vec![]);
        }
        let expired = pm_jobs::lease_expired();
        self.db
            .run(async |conn| {
                let rows: Vec<JobRow> = CachedSql::new(CLAIM)
                    .bind::<Text, _>(LEASE_EXPIRED)
                    .bind::<Text, _>(expired.message.as_str())
                    .bind::<Array<Text>, _>(kinds)
                    .bind::<Int8, _>(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind::<Int8, _>(millis(lease))
                    .bind::<Text, _>(worker)
                    .load(conn)
                    .await
                    .or_internal()?;
                rows.into_iter().map(JobRow::into_claimed).collect()
            })
            .await
    }

    async fn heartbeat(&self, lease: &Lease, ttl: Duration) -> Result<LeaseState> {
        self.db
            .run(async |conn| {
                let row: Option<CancelRow> = diesel::sql_query(
                    "UPDATE jobs SET lease_until = now() + $3 * interval '1 millisecond'
                  WHERE id = $1 AND lease_token = $2 AND status = 'running'
                 RETURNING cancel_requested",
                )
                .bind::<SqlUuid, _>(lease.job_id.into_uuid())
                .bind::<SqlUuid, _>(lease.token)
                .bind::<Int8, _>(millis(ttl))
                .get_result(conn)
                .await
                .optional()
                .or_internal()?;
                Ok(lease_state(row))
            })
            .await
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: Value,
        ttl: Duration,
    ) -> Result<LeaseState> {
        self.db
            .run(async |conn| {
                let row: Option<CancelRow> = diesel::sql_query(
                    "UPDATE jobs SET lease_until = now() + $3 * interval '1 millisecond',
                                 progress = $4, updated_at = now()
                  WHERE id = $1 AND lease_token = $2 AND status = 'running'
                 RETURNING cancel_requested",
                )
                .bind::<SqlUuid, _>(lease.job_id.into_uuid())
                .bind::<SqlUuid, _>(lease.token)
                .bind::<Int8, _>(millis(ttl))
                .bind::<Jsonb, _>(&progress)
                .get_result(conn)
                .await
                .optional()
                .or_internal()?;
                Ok(lease_state(row))
            })
            .await
    }

    async fn settle(&self, lease: &Lease, settlement: Settlement) -> Result<bool> {
        let status = settlement.status();
        let (run_at, give_back, error, clear_error): (
            Option<Timestamp>,
            i32,
            Option<&JobError>,
            bool,
        ) = match &settlement {
            Settlement::Succeeded => (None, 0, None, true),
            Settlement::Retry { run_at, error } => (Some(*run_at), 0, Some(error), false),
            Settlement::Waiting { resumes_at, reason } => {
                (Some(*resumes_at), 1, reason.as_ref(), false)
            }
            Settlement::Failed { error } => (None, 0, Some(error), false),
            Settlement::Canceled => (None, 0, None, false),
            Settlement::Released => (None, 1, None, false),
        };
        let released = matches!(settlement, Settlement::Released);
        // A job asked for again while it ran (`rerun`) does not finish: it goes
        // back to the queue, due now, with a fresh count of attempts (the ask is
        // new work) and the flag cleared. Checked on the row as it is when the
        // update runs, so an ask that commits just before is never lost; one that
        // comes just after finds the job finished and inserts a new one.
        const AGAIN: &str = "(rerun AND $3 IN ('succeeded', 'failed'))";
        self.db.run(async |conn| {
            let row: Option<SettledRow> = diesel::sql_query(format!(
                "UPDATE jobs
                    SET status = CASE WHEN {AGAIN} THEN 'queued' ELSE $3 END,
                        run_at = CASE WHEN {AGAIN} OR $9 THEN now() ELSE COALESCE($4, run_at) END,
                        attempts = CASE WHEN {AGAIN} THEN 0 ELSE GREATEST(attempts - $5, 0) END,
                        last_error_code = CASE WHEN $8 THEN NULL ELSE COALESCE($6, last_error_code) END,
                        last_error_message = CASE WHEN $8 THEN NULL ELSE COALESCE($7, last_error_message) END,
                        lease_token = NULL, lease_until = NULL, worker = NULL,
                        finished_at = CASE WHEN $3 IN {FINISHED} AND NOT {AGAIN} THEN now() ELSE NULL END,
                        rerun = CASE WHEN {AGAIN} THEN false ELSE rerun END,
                        updated_at = now()
                  WHERE id = $1 AND lease_token = $2 AND status = 'running'
                 RETURNING (status = 'queued' AND $3 <> 'queued') AS requeued"
            ))
            .bind::<SqlUuid, _>(lease.job_id.into_uuid())
            .bind::<SqlUuid, _>(lease.token)
            .bind::<Text, _>(status.as_str())
            .bind::<Nullable<Timestamptz>, _>(run_at)
            .bind::<Int4, _>(give_back)
            .bind::<Nullable<Text>, _>(error.map(|e| e.code.as_str()))
            .bind::<Nullable<Text>, _>(error.map(|e| e.message.as_str()))
            .bind::<Bool, _>(clear_error)
            .bind::<Bool, _>(released)
            .get_result(conn)
            .await
            .optional()
            .or_internal()?;
            let Some(row) = row else {
                return Ok(false);
            };
            if released || row.requeued {
                // Another runner may take it at once.
                let _ = diesel::sql_query(format!("SELECT pg_notify('{JOBS_CHANNEL}', 'released')"))
                    .execute(conn)
                    .await;
            }
            Ok(true)
        }).await
    }

    async fn cancel(&self, id: JobId) -> Result<CancelOutcome> {
        self.db
            .run(async |conn| {
                let row: Option<StatusRow> = diesel::sql_query(format!(
                    "UPDATE jobs
                    SET status = CASE WHEN status = 'running' THEN status ELSE 'canceled' END,
                        cancel_requested = true,
                        finished_at = CASE WHEN status = 'running' THEN NULL ELSE now() END,
                        updated_at = now()
                  WHERE id = $1 AND status IN {ACTIVE}
                 RETURNING status"
                ))
                .bind::<SqlUuid, _>(id.into_uuid())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?;
                match row.map(|r| r.status) {
                    Some(s) if s == "running" => Ok(CancelOutcome::Requested),
                    Some(_) => Ok(CancelOutcome::Canceled),
                    None => {
                        let exists: Option<IdRow> =
                            diesel::sql_query("SELECT id FROM jobs WHERE id = $1")
                                .bind::<SqlUuid, _>(id.into_uuid())
                                .get_result(conn)
                                .await
                                .optional()
                                .or_internal()?;
                        match exists {
                            Some(_) => Ok(CancelOutcome::AlreadyFinished),
                            None => Err(Error::NotFound("job")),
                        }
                    }
                }
            })
            .await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        self.db
            .run(async |conn| {
                let row: Option<JobRow> = diesel::sql_query("SELECT * FROM jobs WHERE id = $1")
                    .bind::<SqlUuid, _>(id.into_uuid())
                    .get_result(conn)
                    .await
                    .optional()
                    .or_internal()?;
                let now = pm_kernel::now();
                row.map(|r| r.into_domain().map(|j| j.observed_at(now)))
                    .transpose()
            })
            .await
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.db
            .run(async |conn| {
                let rows: Vec<JobRow> = diesel::sql_query(
                    "SELECT * FROM jobs
                  WHERE ($1::uuid IS NULL OR workspace_id = $1)
                    AND ($2::uuid IS NULL OR project_id = $2)
                    AND ($3::text IS NULL OR kind = $3)
                    AND ($4::text IS NULL OR concurrency_key = $4)
                    AND ($5::text IS NULL OR status = $5)
                  ORDER BY id DESC
                  LIMIT $6",
                )
                .bind::<Nullable<SqlUuid>, _>(filter.workspace_id.map(WorkspaceId::into_uuid))
                .bind::<Nullable<SqlUuid>, _>(filter.project_id.map(ProjectId::into_uuid))
                .bind::<Nullable<Text>, _>(filter.kind.as_deref())
                .bind::<Nullable<Text>, _>(filter.concurrency_key.as_deref())
                .bind::<Nullable<Text>, _>(filter.status.map(JobStatus::as_str))
                .bind::<Int8, _>(i64::from(filter.effective_limit()))
                .load(conn)
                .await
                .or_internal()?;
                let now = pm_kernel::now();
                rows.into_iter()
                    .map(|r| r.into_domain().map(|j| j.observed_at(now)))
                    .collect()
            })
            .await
    }

    async fn cleanup(&self, finished_before: Timestamp) -> Result<u64> {
        const BATCH: i64 = 5_000;
        self.db
            .run(async |conn| {
                let mut total = 0u64;
                loop {
                    // In batches, so a large backlog never holds many row locks at once.
                    let deleted = diesel::sql_query(format!(
                        "DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs
                         WHERE status IN {FINISHED} AND finished_at < $1
                         LIMIT $2 FOR UPDATE SKIP LOCKED)"
                    ))
                    .bind::<Timestamptz, _>(finished_before)
                    .bind::<Int8, _>(BATCH)
                    .execute(conn)
                    .await
                    .or_internal()?;
                    total += deleted as u64;
                    if i64::try_from(deleted).is_ok_and(|d| d < BATCH) {
                        return Ok(total);
                    }
                }
            })
            .await
    }
}

fn lease_state(row: Option<CancelRow>) -> LeaseState {
    match row {
        None => LeaseState::Lost,
        Some(CancelRow {
            cancel_requested: true,
        }) => LeaseState::CancelRequested,
        Some(_) => LeaseState::Held,
    }
}

/// Wakes runners when a job is enqueued: holds one connection of its own (outside
/// the pool) that `LISTEN`s on [`JOBS_CHANNEL`], and calls `wake.notify_one()` for
/// every notification, and once after every (re)connect so nothing sent while it was
/// away is missed. Reconnects with back-off (1 s doubling to 30 s) when the connection
/// drops. Runners poll as well, so a listener that is down only delays work by the
/// poll interval. Not usable behind PgBouncer in transaction mode: turn it off there.
/// Abort the returned task to stop it.
pub fn spawn_job_listener(
    url: String,
    wake: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            match listen(&url, &wake).await {
                Ok(()) => tracing::warn!("job listener: the connection closed; reconnecting"),
                Err(e) => tracing::warn!(error = %e, "job listener failed; reconnecting"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    })
}

async fn listen(url: &str, wake: &tokio::sync::Notify) -> std::result::Result<(), String> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    diesel::sql_query(format!("LISTEN {JOBS_CHANNEL}"))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("LISTEN: {e}"))?;
    tracing::debug!("job listener is listening");
    wake.notify_one();
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        match notification {
            Ok(_) => wake.notify_one(),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
