//! The queue port. `pm_postgres::PgJobQueue` implements it; the runner
//! (`pm-worker`) and the services that start work use it.

use crate::model::{
    CancelOutcome, ClaimedJob, Enqueued, Job, JobFilter, JobId, Lease, LeaseState, NewJob,
    Settlement,
};
use async_trait::async_trait;
use pm_kernel::{Result, Timestamp};
use std::time::Duration;

/// A durable job queue.
///
/// Guarantees an implementation must give (the PostgreSQL tests check them):
/// * a job is held by at most one claim at a time, and every claim has a fresh
///   lease token; writes made with an older token change nothing;
/// * at most one active (queued, waiting, running) job per concurrency key;
/// * a `running` job whose lease ran out is claimable again (it counts an attempt),
///   or, on its last attempt, `failed` with `LEASE_EXPIRED`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Inserts the job, or, when an active job has the same concurrency key, returns
    /// that one with `joined: true`. Fails with `Validation` on a bad kind or key.
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued>;

    /// Claims up to `limit` jobs of `kinds` that are due (queued or waiting with
    /// `run_at` passed, or running with an expired lease), oldest `run_at` first,
    /// for `lease` from now. Each claim counts an attempt.
    async fn claim(
        &self,
        worker: &str,
        kinds: &[String],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob>>;

    /// Extends the lease to `lease` from now if it is still held.
    async fn heartbeat(&self, lease: &Lease, ttl: Duration) -> Result<LeaseState>;

    /// Stores the handler's progress and extends the lease, if it is still held.
    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: serde_json::Value,
        ttl: Duration,
    ) -> Result<LeaseState>;

    /// Ends this attempt. False when the lease was lost (nothing was written).
    async fn settle(&self, lease: &Lease, settlement: Settlement) -> Result<bool>;

    /// Cancels a queued or waiting job at once; asks a running one to stop.
    /// `NotFound("job")` when there is no such job.
    async fn cancel(&self, id: JobId) -> Result<CancelOutcome>;

    /// The job as it should be shown now (see `Job::observed_at`).
    async fn get(&self, id: JobId) -> Result<Option<Job>>;

    /// Jobs matching `filter`, newest first, as they should be shown now.
    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>>;

    /// Deletes finished (succeeded, failed, canceled) jobs that finished before
    /// `finished_before`; returns how many.
    async fn cleanup(&self, finished_before: Timestamp) -> Result<u64>;
}
