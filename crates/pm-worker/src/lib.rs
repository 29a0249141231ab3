//! The job runner: `workers` concurrent slots that claim due jobs from a
//! [`JobQueue`], run each with its kind's [`JobHandler`] while a heartbeat renews
//! its lease, settle the outcome (success, retry with back-off, park, failure), and
//! periodic tickers that enqueue singleton jobs. Shutdown stops claiming, asks
//! running handlers to stop at a safe point, waits up to the grace period and leaves
//! whatever is still running to lease expiry.
//!
//! Wake-ups: a [`tokio::sync::Notify`] that a LISTEN connection pokes
//! (`pm_postgres::spawn_job_listener`), with polling every `poll_interval` as the
//! fallback.

mod cleanup;

pub use cleanup::{CLEANUP_KIND, CleanupHandler};

use futures_util::FutureExt;
use pm_jobs::{
    ClaimedJob, HANDLER_PANICKED, JobContext, JobError, JobHandler, JobId, JobOutcome, JobQueue,
    NewJob, RetryPolicy, Settlement, StopReason, StopSignal,
};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How a runner behaves. [`RunnerConfig::default`] is what `pmhub serve` uses
/// unless `jobs.*` settings say otherwise.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Jobs run at once.
    pub workers: usize,
    /// How often to look for due jobs when no notification came.
    pub poll_interval: Duration,
    /// How long a claim holds a job without a heartbeat. A dead process's jobs are
    /// taken over after at most this long (plus one poll).
    pub lease: Duration,
    /// How often a running job's lease is renewed (well under `lease`).
    pub heartbeat: Duration,
    /// On shutdown, how long running handlers get to reach a safe point.
    pub shutdown_grace: Duration,
    pub retry: RetryPolicy,
    /// Names this runner in `jobs.worker` (for operators).
    pub name: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            name: default_name(),
        }
    }
}

/// `pmhub-{pid}-{4 random characters}`, or `{HOSTNAME}-{pid}-…` when set.
pub fn default_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "pmhub".into());
    let suffix: String = (0..4).map(|_| fastrand::alphanumeric()).collect();
    format!("{host}-{}-{suffix}", std::process::id())
}

/// Kind → handler.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) the handler of `kind`.
    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(kind.into(), handler);
        self
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.keys().cloned().collect();
        kinds.sort();
        kinds
    }

    fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }
}

/// A job every runner enqueues on a schedule. Its concurrency key
/// `periodic:{name}` makes one job of all the runners' ticks: each tick enqueues the
/// run for the next multiple of `every` (by the Unix clock), and joins it if another
/// runner already did.
#[derive(Debug, Clone)]
pub struct Periodic {
    pub name: String,
    pub kind: String,
    pub every: Duration,
    pub payload: serde_json::Value,
}

impl Periodic {
    pub fn key(&self) -> String {
        format!("periodic:{}", self.name)
    }

    /// The next multiple of `every` after `now`.
    pub fn next_run(&self, now: time::OffsetDateTime) -> time::OffsetDateTime {
        // Saturates: no period is anywhere near i128::MAX milliseconds.
        let every = i128::try_from(self.every.as_millis().max(1)).unwrap_or(i128::MAX);
        let now_ms = now.unix_timestamp_nanos() / 1_000_000;
        let next = (now_ms / every + 1) * every;
        time::OffsetDateTime::from_unix_timestamp_nanos(next * 1_000_000).unwrap_or(now)
    }
}

/// Counts of what a runner did, for logs, tests and the benchmark.
#[derive(Debug, Default)]
pub struct RunnerStats {
    pub claimed: AtomicU64,
    pub succeeded: AtomicU64,
    pub retried: AtomicU64,
    pub parked: AtomicU64,
    pub failed: AtomicU64,
    pub canceled: AtomicU64,
    pub released: AtomicU64,
    /// Settlements refused because the lease had been lost.
    pub lost: AtomicU64,
}

impl RunnerStats {
    fn count(&self, settlement: &Settlement) {
        let counter = match settlement {
            Settlement::Succeeded => &self.succeeded,
            Settlement::Retry { .. } => &self.retried,
            Settlement::Waiting { .. } => &self.parked,
            Settlement::Failed { .. } => &self.failed,
            Settlement::Canceled => &self.canceled,
            Settlement::Released => &self.released,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A runner, configured but not started.
pub struct Runner {
    queue: Arc<dyn JobQueue>,
    registry: Registry,
    config: RunnerConfig,
    wake: Arc<Notify>,
    periodic: Vec<Periodic>,
    /// Test hook: when set, heartbeats are skipped while it is true.
    pause_heartbeats: Arc<std::sync::atomic::AtomicBool>,
}

impl Runner {
    pub fn new(queue: Arc<dyn JobQueue>, registry: Registry, config: RunnerConfig) -> Self {
        Self {
            queue,
            registry,
            config,
            wake: Arc::new(Notify::new()),
            periodic: Vec::new(),
            pause_heartbeats: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// What wakes the runner early; give it to `pm_postgres::spawn_job_listener`.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn periodic(mut self, periodic: Periodic) -> Self {
        self.periodic.push(periodic);
        self
    }

    /// Registers the built-in cleanup: every `every`, delete jobs that finished more
    /// than `retention` ago.
    pub fn with_cleanup(mut self, retention: Duration, every: Duration) -> Self {
        self.registry.register(
            CLEANUP_KIND,
            Arc::new(CleanupHandler::new(self.queue.clone(), retention)),
        );
        self.periodic.push(Periodic {
            name: "jobs-cleanup".into(),
            kind: CLEANUP_KIND.into(),
            every,
            payload: serde_json::json!({}),
        });
        self
    }

    /// A switch that stops this runner's heartbeats while on (for tests that play a
    /// runner whose process hangs).
    pub fn heartbeat_pause_switch(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.pause_heartbeats.clone()
    }

    /// Starts the claim loop and the periodic tickers on the current runtime.
    pub fn start(self) -> RunningRunner {
        let stop = CancellationToken::new();
        let stats = Arc::new(RunnerStats::default());
        let inner = Arc::new(Inner {
            queue: self.queue,
            registry: self.registry,
            config: self.config,
            stats: stats.clone(),
            signals: Mutex::new(HashMap::new()),
            slot_freed: Notify::new(),
            pause_heartbeats: self.pause_heartbeats,
        });
        let mut tickers = Vec::new();
        for periodic in self.periodic {
            tickers.push(tokio::spawn(tick(inner.clone(), periodic, stop.clone())));
        }
        let task = tokio::spawn(claim_loop(inner, self.wake, stop.clone(), tickers));
        RunningRunner { stop, task, stats }
    }
}

/// A started runner.
pub struct RunningRunner {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    stats: Arc<RunnerStats>,
}

impl RunningRunner {
    pub fn stats(&self) -> Arc<RunnerStats> {
        self.stats.clone()
    }

    /// A token that, when cancelled, starts this runner's graceful shutdown.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops claiming, asks running handlers to stop, waits for them up to the grace
    /// period and returns once the runner has stopped (jobs still running after the
    /// grace are dropped and left to lease expiry).
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.wait().await;
    }

    /// Waits until the runner has stopped (after its stop token was cancelled).
    pub async fn wait(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "job runner task failed");
        }
    }
}

struct Inner {
    queue: Arc<dyn JobQueue>,
    registry: Registry,
    config: RunnerConfig,
    stats: Arc<RunnerStats>,
    /// The stop signals of running jobs, to pass shutdown on.
    signals: Mutex<HashMap<JobId, Arc<StopSignal>>>,
    slot_freed: Notify,
    pause_heartbeats: Arc<std::sync::atomic::AtomicBool>,
}

async fn claim_loop(
    inner: Arc<Inner>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    tickers: Vec<tokio::task::JoinHandle<()>>,
) {
    let kinds = inner.registry.kinds();
    let workers = inner.config.workers.max(1);
    let slots = Arc::new(Semaphore::new(workers));
    let mut running = JoinSet::new();
    tracing::info!(
        runner = %inner.config.name,
        workers,
        kinds = ?kinds,
        "job runner started"
    );
    while !stop.is_cancelled() {
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free > 0 {
            // Taken before the claim is sent, so the local deadline of each lease
            // never falls after the database's.
            let claim_started = Instant::now();
            match inner
                .queue
                .claim(&inner.config.name, &kinds, free, inner.config.lease)
                .await
            {
                Ok(jobs) => {
                    let full = jobs.len() == free;
                    for claimed in jobs {
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        inner.stats.claimed.fetch_add(1, Ordering::Relaxed);
                        let inner = inner.clone();
                        running.spawn(async move {
                            run_job(&inner, claimed, claim_started).await;
                            drop(permit);
                            inner.slot_freed.notify_one();
                        });
                    }
                    if full {
                        // More may be due: claim again as soon as a slot frees.
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = inner.slot_freed.notified() => {}
                        }
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming jobs failed; retrying"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = wake.notified() => {}
            _ = inner.slot_freed.notified(), if free == 0 => {}
            _ = tokio::time::sleep(inner.config.poll_interval) => {}
        }
    }

    for ticker in &tickers {
        ticker.abort();
    }
    shut_down(&inner, running).await;
}

/// Passes shutdown on to the running jobs and waits for them, at most the grace period.
async fn shut_down(inner: &Inner, mut running: JoinSet<()>) {
    let signals: Vec<Arc<StopSignal>> = inner
        .signals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .values()
        .cloned()
        .collect();
    tracing::info!(
        runner = %inner.config.name,
        running = running.len(),
        grace_secs = inner.config.shutdown_grace.as_secs_f64(),
        "job runner stopping: no new claims; waiting for running jobs"
    );
    for signal in signals {
        signal.request_shutdown();
    }
    let grace = tokio::time::sleep(inner.config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = running.join_next() => if next.is_none() { break },
            _ = &mut grace => {
                tracing::warn!(
                    runner = %inner.config.name,
                    left = running.len(),
                    "job runner: grace period over; the jobs still running are left to lease expiry"
                );
                running.abort_all();
                while running.join_next().await.is_some() {}
                break;
            }
        }
    }
    tracing::info!(runner = %inner.config.name, "job runner stopped");
}

/// Aborts the heartbeat task when the job's task ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes the job's stop signal when its task ends.
struct Registered<'a> {
    inner: &'a Inner,
    id: JobId,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.inner
            .signals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

async fn run_job(inner: &Inner, claimed: ClaimedJob, claim_started: Instant) {
    let ClaimedJob { job, lease } = claimed;
    tracing::debug!(
        job_id = %job.id,
        kind = %job.kind,
        attempt = job.attempts,
        claim_ms = claim_started.elapsed().as_secs_f64() * 1e3,
        "job claimed"
    );
    let ttl = inner.config.lease;
    let signal = Arc::new(StopSignal::new(claim_started, ttl));
    inner
        .signals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(job.id, signal.clone());
    let _registered = Registered { inner, id: job.id };

    let heartbeat = spawn_heartbeat(inner, lease, signal.clone());
    let ctx = JobContext::new(inner.queue.clone(), lease, ttl, signal.clone());
    let outcome = run_handler(inner, &job, &ctx).await;
    drop(heartbeat);

    let reason = signal.reason().filter(|r| *r != StopReason::LeaseLost);
    let settlement = pm_jobs::settle(
        &job,
        outcome,
        reason,
        &inner.config.retry,
        pm_kernel::now(),
        fastrand::f64(),
    );
    log_settlement(&job, &settlement);
    store_settlement(inner, &job, lease, &settlement).await;
}

/// Renews the job's lease every `heartbeat` until dropped, recording each answer on `signal`.
fn spawn_heartbeat(inner: &Inner, lease: pm_jobs::Lease, signal: Arc<StopSignal>) -> AbortOnDrop {
    let queue = inner.queue.clone();
    let ttl = inner.config.lease;
    let every = inner.config.heartbeat;
    let paused = inner.pause_heartbeats.clone();
    AbortOnDrop(tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticker.tick().await;
            if paused.load(Ordering::SeqCst) {
                continue;
            }
            let started = Instant::now();
            match queue.heartbeat(&lease, ttl).await {
                Ok(state) => signal.record(state, started, ttl),
                // The local deadline still protects us: past it, the handler is
                // told to stop.
                Err(e) => {
                    tracing::warn!(job_id = %lease.job_id, error = %e, "heartbeat failed")
                }
            }
        }
    }))
}

/// The handler's outcome; a panic is retried, a kind with no handler fails.
async fn run_handler(inner: &Inner, job: &pm_jobs::Job, ctx: &JobContext) -> JobOutcome {
    match inner.registry.get(&job.kind) {
        Some(handler) => AssertUnwindSafe(handler.run(job, ctx))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!(job_id = %job.id, kind = %job.kind, "job handler panicked");
                JobOutcome::retry(JobError::new(
                    HANDLER_PANICKED,
                    "the job's handler panicked",
                ))
            }),
        None => JobOutcome::Fail(JobError::new(
            pm_jobs::NO_HANDLER,
            format!("no handler for jobs of kind {:?}", job.kind),
        )),
    }
}

/// Stores the settlement, retrying twice on a database error.
async fn store_settlement(
    inner: &Inner,
    job: &pm_jobs::Job,
    lease: pm_jobs::Lease,
    settlement: &Settlement,
) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=3 {
        match inner.queue.settle(&lease, settlement.clone()).await {
            Ok(true) => {
                inner.stats.count(settlement);
                record_settlement(&job.kind, settlement);
                return;
            }
            Ok(false) => {
                inner.stats.lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    job_id = %job.id,
                    kind = %job.kind,
                    "job's lease was lost before it settled; another runner has it"
                );
                return;
            }
            Err(e) if attempt < 3 => {
                tracing::warn!(job_id = %job.id, error = %e, "settling a job failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(e) => {
                tracing::error!(
                    job_id = %job.id,
                    error = %e,
                    "settling a job failed; it runs again once its lease expires"
                );
            }
        }
    }
}

/// `pmhub_job_runs_total{kind, outcome}`: every run (attempt) of a job that
/// settled, by the job's kind (a fixed name from the code, such as
/// `github.import`) and how it ended.
fn record_settlement(kind: &str, settlement: &Settlement) {
    let outcome = match settlement {
        Settlement::Succeeded => "succeeded",
        Settlement::Retry { .. } => "retried",
        Settlement::Waiting { .. } => "waiting",
        Settlement::Failed { .. } => "failed",
        Settlement::Canceled => "canceled",
        Settlement::Released => "released",
    };
    metrics::counter!(
        "pmhub_job_runs_total",
        "kind" => kind.to_string(),
        "outcome" => outcome
    )
    .increment(1);
}

fn log_settlement(job: &pm_jobs::Job, settlement: &Settlement) {
    match settlement {
        Settlement::Succeeded => {
            tracing::debug!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, "job succeeded")
        }
        Settlement::Retry { run_at, error } => tracing::warn!(
            job_id = %job.id, kind = %job.kind, attempt = job.attempts,
            error_code = %error.code, retry_at = %run_at, "job failed; will retry"
        ),
        Settlement::Waiting { resumes_at, reason } => tracing::info!(
            job_id = %job.id, kind = %job.kind,
            reason = reason.as_ref().map(|r| r.code.as_str()).unwrap_or(""),
            resumes_at = %resumes_at, "job parked"
        ),
        Settlement::Failed { error } => tracing::warn!(
            job_id = %job.id, kind = %job.kind, attempt = job.attempts,
            error_code = %error.code, detail = %error.message, "job failed"
        ),
        Settlement::Canceled => {
            tracing::info!(job_id = %job.id, kind = %job.kind, "job canceled")
        }
        Settlement::Released => {
            tracing::info!(job_id = %job.id, kind = %job.kind, "job released on shutdown")
        }
    }
}

async fn tick(inner: Arc<Inner>, periodic: Periodic, stop: CancellationToken) {
    let every = periodic
        .every
        .min(Duration::from_secs(60))
        .max(Duration::from_millis(100));
    loop {
        let job = NewJob::new(periodic.kind.clone(), periodic.payload.clone())
            .concurrency_key(periodic.key())
            .max_attempts(3)
            .run_at(periodic.next_run(pm_kernel::now()));
        if let Err(e) = inner.queue.enqueue(job).await {
            tracing::warn!(periodic = %periodic.name, error = %e, "enqueuing a periodic job failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests;
