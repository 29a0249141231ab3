//! What a job handler implements, and what it is given while it runs.

use crate::model::{Job, JobError, Lease, LeaseState};
use crate::ports::JobQueue;
use async_trait::async_trait;
use pm_kernel::{Error, Result, Timestamp};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How an attempt ended, as the handler sees it. [`crate::settle`] turns it into
/// the job's next state.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Succeeded,
    /// A transient failure: try again after the back-off, or at `at` when the other
    /// side named a time. After the last attempt the job is `failed`.
    Retry {
        error: JobError,
        at: Option<Timestamp>,
    },
    /// Nothing wrong, but nothing to do before `until` (a GitHub rate limit): the
    /// job goes `waiting` and resumes from its checkpoint; the attempt is given back.
    Park {
        until: Timestamp,
        reason: Option<JobError>,
    },
    /// A permanent failure: never retried.
    Fail(JobError),
    /// The handler stopped at a safe point because [`JobContext::should_stop`] said
    /// so; shutdown releases it to another runner at once, a cancel cancels it.
    Stopped,
}

impl JobOutcome {
    pub fn retry(error: JobError) -> Self {
        JobOutcome::Retry { error, at: None }
    }

    pub fn retry_at(error: JobError, at: Timestamp) -> Self {
        JobOutcome::Retry {
            error,
            at: Some(at),
        }
    }

    pub fn park_until(until: Timestamp, reason: JobError) -> Self {
        JobOutcome::Park {
            until,
            reason: Some(reason),
        }
    }

    /// The usual mapping of a domain error: a GitHub rate limit parks the job until
    /// it lifts (`retry_after_secs` from `now`); GitHub or the database being
    /// unavailable and internal errors are retried; anything else (bad input, missing project, no
    /// token, refused by GitHub) fails at once.
    pub fn from_error(err: &Error, now: Timestamp) -> Self {
        let job_error = JobError::from_error(err);
        match err {
            Error::Github(pm_kernel::GithubError::RateLimited { retry_after_secs }) => {
                JobOutcome::park_until(
                    now + Duration::from_secs((*retry_after_secs).max(1)),
                    job_error,
                )
            }
            Error::Github(pm_kernel::GithubError::Unavailable { .. })
            | Error::Unavailable(_)
            | Error::Internal(_) => JobOutcome::retry(job_error),
            _ => JobOutcome::Fail(job_error),
        }
    }
}

/// Runs jobs of one kind. Handlers must be idempotent per attempt: an attempt may
/// be cut off (process killed) and run again from the last checkpoint.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, job: &Job, ctx: &JobContext) -> JobOutcome;
}

/// Why a handler is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The process is shutting down: stop at a safe point within the grace period.
    Shutdown,
    /// Someone canceled the job.
    Canceled,
    /// The lease was lost (taken over, or not renewed in time): stop at once, and
    /// write nothing more outside the queue's fenced calls.
    LeaseLost,
}

/// Shared between a running job's context, its heartbeat and the runner.
#[derive(Debug)]
pub struct StopSignal {
    shutdown: AtomicBool,
    canceled: AtomicBool,
    lost: AtomicBool,
    /// The lease surely ends no earlier than this, by the local clock: the start of
    /// the last successful renewal plus the lease length.
    deadline: Mutex<Instant>,
}

impl StopSignal {
    /// A signal for a lease of `ttl` taken at `taken_at`.
    pub fn new(taken_at: Instant, ttl: Duration) -> Self {
        Self {
            shutdown: AtomicBool::new(false),
            canceled: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            deadline: Mutex::new(taken_at + ttl),
        }
    }

    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// Records a heartbeat's (or checkpoint's) answer; `started` is when the renewal
    /// was sent.
    pub fn record(&self, state: LeaseState, started: Instant, ttl: Duration) {
        match state {
            LeaseState::Held => self.renewed(started, ttl),
            LeaseState::CancelRequested => {
                self.renewed(started, ttl);
                self.canceled.store(true, Ordering::SeqCst);
            }
            LeaseState::Lost => self.lost.store(true, Ordering::SeqCst),
        }
    }

    fn renewed(&self, started: Instant, ttl: Duration) {
        let mut deadline = self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        *deadline = (*deadline).max(started + ttl);
    }

    /// The most pressing reason to stop, if any. A lease past its local deadline
    /// counts as lost even before a heartbeat says so.
    pub fn reason(&self) -> Option<StopReason> {
        let expired = Instant::now() >= *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        if self.lost.load(Ordering::SeqCst) || expired {
            Some(StopReason::LeaseLost)
        } else if self.canceled.load(Ordering::SeqCst) {
            Some(StopReason::Canceled)
        } else if self.shutdown.load(Ordering::SeqCst) {
            Some(StopReason::Shutdown)
        } else {
            None
        }
    }
}

/// What a running handler can do besides its work: check whether to stop, and
/// save a checkpoint.
pub struct JobContext {
    queue: Arc<dyn JobQueue>,
    lease: Lease,
    ttl: Duration,
    stop: Arc<StopSignal>,
}

impl JobContext {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        lease: Lease,
        ttl: Duration,
        stop: Arc<StopSignal>,
    ) -> Self {
        Self {
            queue,
            lease,
            ttl,
            stop,
        }
    }

    /// The claim's lease (its token fences every write of this attempt).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// True when the handler should stop at this safe point (shutdown, cancel, or
    /// lost lease) and return [`JobOutcome::Stopped`].
    pub fn should_stop(&self) -> bool {
        self.stop.reason().is_some()
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop.reason()
    }

    /// Saves `progress` (the job's `progress` field, kept across retries and parks)
    /// and renews the lease. Fails with `Conflict` when the lease was lost: the
    /// handler must then stop without writing anything else.
    pub async fn checkpoint(&self, progress: serde_json::Value) -> Result<()> {
        let started = Instant::now();
        let state = self
            .queue
            .checkpoint(&self.lease, progress, self.ttl)
            .await?;
        self.stop.record(state, started, self.ttl);
        match state {
            LeaseState::Lost => Err(Error::conflict(
                pm_kernel::ConflictReason::LeaseLost,
                "the job's lease was lost; another runner has it",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobId;
    use crate::ports::MockJobQueue;
    use serde_json::json;

    fn lease() -> Lease {
        Lease {
            job_id: JobId::new(),
            token: uuid::Uuid::now_v7(),
        }
    }

    fn signal() -> Arc<StopSignal> {
        Arc::new(StopSignal::new(Instant::now(), Duration::from_secs(30)))
    }

    #[tokio::test]
    async fn a_checkpoint_saves_progress_under_the_lease() {
        let l = lease();
        let mut queue = MockJobQueue::new();
        queue
            .expect_checkpoint()
            .withf(move |got, progress, ttl| {
                *got == l && progress == &json!({"page": 3}) && *ttl == Duration::from_secs(30)
            })
            .times(1)
            .returning(|_, _, _| Ok(LeaseState::Held));
        let ctx = JobContext::new(Arc::new(queue), l, Duration::from_secs(30), signal());
        ctx.checkpoint(json!({"page": 3})).await.unwrap();
        assert!(!ctx.should_stop());
    }

    #[tokio::test]
    async fn a_checkpoint_that_finds_the_lease_lost_stops_the_handler() {
        let mut queue = MockJobQueue::new();
        queue
            .expect_checkpoint()
            .returning(|_, _, _| Ok(LeaseState::Lost));
        let ctx = JobContext::new(Arc::new(queue), lease(), Duration::from_secs(30), signal());
        assert!(matches!(
            ctx.checkpoint(json!({})).await,
            Err(Error::Conflict { .. })
        ));
        assert_eq!(ctx.stop_reason(), Some(StopReason::LeaseLost));
    }

    #[tokio::test]
    async fn a_cancel_seen_at_a_checkpoint_asks_the_handler_to_stop() {
        let mut queue = MockJobQueue::new();
        queue
            .expect_checkpoint()
            .returning(|_, _, _| Ok(LeaseState::CancelRequested));
        let ctx = JobContext::new(Arc::new(queue), lease(), Duration::from_secs(30), signal());
        ctx.checkpoint(json!({})).await.unwrap();
        assert_eq!(ctx.stop_reason(), Some(StopReason::Canceled));
    }

    #[test]
    fn a_lease_past_its_local_deadline_counts_as_lost() {
        let stop = StopSignal::new(Instant::now(), Duration::ZERO);
        assert_eq!(stop.reason(), Some(StopReason::LeaseLost));
        let stop = StopSignal::new(Instant::now(), Duration::from_secs(30));
        stop.request_shutdown();
        assert_eq!(stop.reason(), Some(StopReason::Shutdown));
        stop.record(LeaseState::Lost, Instant::now(), Duration::from_secs(30));
        assert_eq!(stop.reason(), Some(StopReason::LeaseLost), "lost wins");
    }

    #[test]
    fn errors_map_to_park_retry_or_fail() {
        let now = pm_kernel::now();
        let limited = Error::Github(pm_kernel::GithubError::RateLimited {
            retry_after_secs: 120,
        });
        assert!(matches!(
            JobOutcome::from_error(&limited, now),
            JobOutcome::Park { until, .. } if until == now + Duration::from_secs(120)
        ));
        let down = Error::Github(pm_kernel::GithubError::Unavailable {
            reason: "502".into(),
            status: Some(502),
        });
        assert!(matches!(
            JobOutcome::from_error(&down, now),
            JobOutcome::Retry { at: None, .. }
        ));
        assert!(matches!(
            JobOutcome::from_error(&Error::NotFound("project"), now),
            JobOutcome::Fail(e) if e.code == "NOT_FOUND"
        ));
    }
}
