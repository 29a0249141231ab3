//! The job engine against a real PostgreSQL: `PgJobQueue` and runners, each test on
//! its own database. "Two processes" are two runners with separate pools.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use pm_jobs::{
    CancelOutcome, Job, JobContext, JobError, JobFilter, JobHandler, JobId, JobOutcome, JobQueue,
    JobStatus, LEASE_EXPIRED, NewJob, RetryPolicy, Settlement,
};
use pm_postgres::testing::TestDb;
use pm_postgres::{Database, DbConfig, PgJobQueue, enqueue_in, spawn_job_listener};
use pm_worker::{Registry, Runner, RunnerConfig, RunningRunner};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KINDS: &[&str] = &["test.job"];

fn kinds() -> Vec<String> {
    KINDS.iter().map(std::string::ToString::to_string).collect()
}

/// A second pool on the same database, as another pmhub process would have.
fn other_pool(test: &TestDb) -> Database {
    let mut config = DbConfig::new(&test.url);
    config.max_connections = 8;
    Database::connect(&config).unwrap()
}

fn config(name: &str) -> RunnerConfig {
    RunnerConfig {
        workers: 4,
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(5),
        heartbeat: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(2),
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
        },
        name: name.into(),
    }
}

fn runner(db: &Database, name: &str, handler: Arc<dyn JobHandler>, config: RunnerConfig) -> Runner {
    let mut registry = Registry::new();
    registry.register("test.job", handler);
    Runner::new(
        Arc::new(PgJobQueue::new(db.clone())),
        registry,
        RunnerConfig {
            name: name.into(),
            ..config
        },
    )
}

async fn wait_for<F: Fn(&Job) -> bool>(queue: &PgJobQueue, id: JobId, what: &str, done: F) -> Job {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = queue.get(id).await.unwrap().expect("job exists");
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(queue: &PgJobQueue, status: JobStatus) -> usize {
    queue
        .list(&JobFilter {
            status: Some(status),
            limit: Some(200),
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .len()
}

/// Counts runs per job.
#[derive(Default)]
struct Counting {
    runs: Mutex<HashMap<JobId, usize>>,
}

#[async_trait]
impl JobHandler for Counting {
    async fn run(&self, job: &Job, _: &JobContext) -> JobOutcome {
        *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
        JobOutcome::Succeeded
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_separate_pools_run_each_of_100_jobs_exactly_once() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let mut ids = Vec::new();
    for n in 0..100 {
        ids.push(
            queue
                .enqueue(NewJob::new("test.job", json!({ "n": n })))
                .await
                .unwrap()
                .job
                .id,
        );
    }
    let handler = Arc::new(Counting::default());
    let a = runner(&test.db, "a", handler.clone(), config("a")).start();
    let b = runner(&other_pool(&test), "b", handler.clone(), config("b")).start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&queue, JobStatus::Succeeded).await < 100 {
        assert!(Instant::now() < deadline, "not all jobs succeeded in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sa, sb) = (a.stats(), b.stats());
    a.shutdown().await;
    b.shutdown().await;
    let runs = handler.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 100);
    for id in &ids {
        assert_eq!(runs.get(id), Some(&1), "job {id} ran exactly once");
    }
    let claimed = sa.claimed.load(Ordering::Relaxed) + sb.claimed.load(Ordering::Relaxed);
    assert_eq!(claimed, 100, "no job was claimed twice");
    for id in ids {
        assert_eq!(queue.get(id).await.unwrap().unwrap().attempts, 1);
    }
}

/// The overlap detector: counts current holders per key and remembers the most
/// ever seen at once.
#[derive(Default)]
struct Overlap {
    holders: Mutex<HashMap<String, usize>>,
    max_seen: AtomicUsize,
    runs: AtomicUsize,
}

#[async_trait]
impl JobHandler for Overlap {
    async fn run(&self, job: &Job, _: &JobContext) -> JobOutcome {
        let key = job.concurrency_key.clone().expect("keyed");
        let now_holding = {
            let mut holders = self.holders.lock().unwrap();
            let n = holders.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        self.max_seen.fetch_max(now_holding, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(15)).await;
        *self.holders.lock().unwrap().get_mut(&key).unwrap() -= 1;
        self.runs.fetch_add(1, Ordering::SeqCst);
        JobOutcome::Succeeded
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_singleton_key_never_has_two_holders_under_load() {
    let test = TestDb::new().await;
    let handler = Arc::new(Overlap::default());
    let second = other_pool(&test);
    let a = runner(&test.db, "a", handler.clone(), config("a")).start();
    let b = runner(&second, "b", handler.clone(), config("b")).start();
    // Two producers (one per pool) keep asking for jobs of 3 keys while 8 workers run.
    let mut producers = Vec::new();
    for db in [test.db.clone(), second.clone()] {
        producers.push(tokio::spawn(async move {
            let queue = PgJobQueue::new(db);
            let mut created = 0usize;
            for n in 0..300 {
                let key = format!("project:{}", n % 3);
                let e = queue
                    .enqueue(NewJob::new("test.job", json!({})).concurrency_key(key))
                    .await
                    .unwrap();
                if !e.joined {
                    created += 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            created
        }));
    }
    let mut created = 0;
    for p in producers {
        created += p.await.unwrap();
    }
    let queue = PgJobQueue::new(test.db.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&queue, JobStatus::Succeeded).await < created.min(200) {
        assert!(Instant::now() < deadline, "keyed jobs did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while handler.runs.load(Ordering::SeqCst) < created {
        assert!(Instant::now() < deadline, "keyed jobs did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
    assert!(
        created > 3,
        "the producers created several runs per key ({created})"
    );
    assert_eq!(
        handler.runs.load(Ordering::SeqCst),
        created,
        "every created job ran once"
    );
    assert_eq!(
        handler.max_seen.load(Ordering::SeqCst),
        1,
        "never two holders of one key"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_request_joins_the_active_job_of_its_key() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let first = queue
        .enqueue(NewJob::new("test.job", json!({"a": 1})).concurrency_key("import:p1"))
        .await
        .unwrap();
    assert!(!first.joined);
    let second = queue
        .enqueue(NewJob::new("test.job", json!({"a": 2})).concurrency_key("import:p1"))
        .await
        .unwrap();
    assert!(second.joined);
    assert_eq!(second.job.id, first.job.id);
    assert_eq!(
        second.job.payload,
        json!({"a": 1}),
        "the first request's job is kept"
    );
    let other = queue
        .enqueue(NewJob::new("test.job", json!({})).concurrency_key("import:p2"))
        .await
        .unwrap();
    assert!(!other.joined);
    // Still joined while it runs; a new one once it finished.
    let claimed = queue
        .claim("t", &kinds(), 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let running = queue
        .enqueue(NewJob::new("test.job", json!({})).concurrency_key("import:p1"))
        .await
        .unwrap();
    assert!(running.joined);
    assert_eq!(running.job.status, JobStatus::Running);
    let lease = claimed
        .iter()
        .find(|c| c.job.id == first.job.id)
        .unwrap()
        .lease;
    assert!(queue.settle(&lease, Settlement::Succeeded).await.unwrap());
    let after = queue
        .enqueue(NewJob::new("test.job", json!({})).concurrency_key("import:p1"))
        .await
        .unwrap();
    assert!(!after.joined);
    assert_ne!(after.job.id, first.job.id);
    // Bad input writes nothing.
    assert!(matches!(
        queue.enqueue(NewJob::new("Bad Kind", json!({}))).await,
        Err(pm_kernel::Error::Validation(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enqueue_rolls_back_with_its_transaction_and_commits_with_it() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let mut conn = AsyncPgConnection::establish(&test.url).await.unwrap();
    let rolled_back = NewJob::new("test.job", json!({"n": 1}));
    let result = conn
        .transaction::<(), diesel::result::Error, _>(async |c| {
            let e = enqueue_in(c, &rolled_back).await?;
            assert!(!e.joined);
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(result.is_err());
    assert_eq!(
        queue.get(rolled_back.id).await.unwrap(),
        None,
        "rolled back with its transaction"
    );
    let committed = NewJob::new("test.job", json!({"n": 2}));
    conn.transaction::<(), diesel::result::Error, _>(async |c| {
        enqueue_in(c, &committed).await?;
        Ok(())
    })
    .await
    .unwrap();
    let job = queue.get(committed.id).await.unwrap().expect("committed");
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.payload, json!({"n": 2}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_waits_for_its_time_and_the_last_attempt_fails_for_good() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})).max_attempts(2))
        .await
        .unwrap()
        .job
        .id;
    let lease = Duration::from_secs(30);
    let first = queue
        .claim("t", &kinds(), 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.job.attempts, 1);
    let error = JobError::new("GITHUB_UNAVAILABLE", "502 from GitHub");
    let at = pm_kernel::now() + Duration::from_millis(800);
    assert!(
        queue
            .settle(
                &first.lease,
                Settlement::Retry {
                    run_at: at,
                    error: error.clone()
                }
            )
            .await
            .unwrap()
    );
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.last_error.as_ref(), Some(&error));
    assert!(
        queue
            .claim("t", &kinds(), 1, lease)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let second = queue
        .claim("t", &kinds(), 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.job.attempts, 2);
    assert_ne!(
        second.lease.token, first.lease.token,
        "a fresh lease per claim"
    );
    // The old lease can no longer write.
    assert!(
        !queue
            .settle(&first.lease, Settlement::Succeeded)
            .await
            .unwrap()
    );
    // The handler's verdict goes through the policy: the last attempt fails.
    let settlement = pm_jobs::settle(
        &second.job,
        JobOutcome::retry(error.clone()),
        None,
        &RetryPolicy::default(),
        pm_kernel::now(),
        0.5,
    );
    assert!(queue.settle(&second.lease, settlement).await.unwrap());
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.last_error, Some(error));
    assert!(job.finished_at.is_some());
    assert!(
        queue
            .claim("t", &kinds(), 1, lease)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Fails every attempt; remembers when each started.
#[derive(Default)]
struct AlwaysFails {
    starts: Mutex<Vec<Instant>>,
    retry_after: Option<Duration>,
}

#[async_trait]
impl JobHandler for AlwaysFails {
    async fn run(&self, _: &Job, _: &JobContext) -> JobOutcome {
        self.starts.lock().unwrap().push(Instant::now());
        let error = JobError::new("GITHUB_UNAVAILABLE", "down");
        match self.retry_after {
            Some(after) => JobOutcome::retry_at(error, pm_kernel::now() + after),
            None => JobOutcome::retry(error),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_backs_off_retries_at_the_named_time_and_ends_failed() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let handler = Arc::new(AlwaysFails {
        retry_after: Some(Duration::from_millis(400)),
        ..AlwaysFails::default()
    });
    let r = runner(&test.db, "a", handler.clone(), config("a")).start();
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})).max_attempts(3))
        .await
        .unwrap()
        .job
        .id;
    let job = wait_for(&queue, id, "failed", |j| j.status == JobStatus::Failed).await;
    r.shutdown().await;
    assert_eq!(job.attempts, 3);
    assert_eq!(job.last_error.unwrap().code, "GITHUB_UNAVAILABLE");
    let starts = handler.starts.lock().unwrap();
    assert_eq!(starts.len(), 3, "exactly max_attempts runs");
    for pair in starts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(350),
            "each retry waited for the named time: {:?}",
            pair[1] - pair[0]
        );
    }
}

/// Stays busy until told to stop; remembers how it ended.
#[derive(Default)]
struct UntilStopped {
    started: AtomicUsize,
    reasons: Mutex<Vec<Option<pm_jobs::StopReason>>>,
}

#[async_trait]
impl JobHandler for UntilStopped {
    async fn run(&self, _: &Job, ctx: &JobContext) -> JobOutcome {
        self.started.fetch_add(1, Ordering::SeqCst);
        let mut page = 0;
        while !ctx.should_stop() {
            page += 1;
            if ctx.checkpoint(json!({ "page": page })).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.reasons.lock().unwrap().push(ctx.stop_reason());
        JobOutcome::Stopped
    }
}

async fn wait_started(handler: &UntilStopped, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while handler.started.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "handler did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_ends_a_queued_job_at_once_and_a_running_one_at_its_safe_point() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let queued = queue
        .enqueue(
            NewJob::new("test.job", json!({})).run_at(pm_kernel::now() + Duration::from_secs(3600)),
        )
        .await
        .unwrap()
        .job
        .id;
    assert_eq!(queue.cancel(queued).await.unwrap(), CancelOutcome::Canceled);
    assert_eq!(
        queue.get(queued).await.unwrap().unwrap().status,
        JobStatus::Canceled
    );
    assert_eq!(
        queue.cancel(queued).await.unwrap(),
        CancelOutcome::AlreadyFinished
    );
    assert!(matches!(
        queue.cancel(JobId::new()).await,
        Err(pm_kernel::Error::NotFound("job"))
    ));

    let handler = Arc::new(UntilStopped::default());
    let mut cfg = config("a");
    cfg.heartbeat = Duration::from_millis(100);
    let r = runner(&test.db, "a", handler.clone(), cfg).start();
    let running = queue
        .enqueue(NewJob::new("test.job", json!({})))
        .await
        .unwrap()
        .job
        .id;
    wait_started(&handler, 1).await;
    assert_eq!(
        queue.cancel(running).await.unwrap(),
        CancelOutcome::Requested
    );
    let job = wait_for(&queue, running, "canceled", |j| {
        j.status == JobStatus::Canceled
    })
    .await;
    r.shutdown().await;
    assert_eq!(
        *handler.reasons.lock().unwrap(),
        vec![Some(pm_jobs::StopReason::Canceled)]
    );
    assert!(job.progress.is_some(), "checkpoints were saved");
    assert!(job.finished_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parked_job_waits_until_its_time_and_keeps_its_attempt() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})).max_attempts(1))
        .await
        .unwrap()
        .job
        .id;
    let lease = Duration::from_secs(30);
    let claimed = queue
        .claim("t", &kinds(), 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert!(
        queue
            .checkpoint(&claimed.lease, json!({"next": "page-7"}), lease)
            .await
            .is_ok()
    );
    let resumes_at = pm_kernel::now() + Duration::from_millis(1000);
    let reason = JobError::new("GITHUB_RATE_LIMITED", "rate limit");
    let settlement = pm_jobs::settle(
        &claimed.job,
        JobOutcome::park_until(resumes_at, reason.clone()),
        None,
        &RetryPolicy::default(),
        pm_kernel::now(),
        0.5,
    );
    assert!(queue.settle(&claimed.lease, settlement).await.unwrap());
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Waiting);
    assert_eq!(job.run_at, resumes_at);
    assert_eq!(job.attempts, 0, "a park gives its attempt back");
    assert_eq!(job.last_error, Some(reason));
    assert!(
        queue
            .claim("t", &kinds(), 1, lease)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = queue
        .claim("t", &kinds(), 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.job.id, id);
    assert_eq!(again.job.attempts, 1, "the single attempt is still there");
    assert_eq!(
        again.job.progress,
        Some(json!({"next": "page-7"})),
        "resumes from its checkpoint"
    );
}

/// On its first attempt, works past the lease without heartbeats (a hung process),
/// then claims success; later attempts succeed at once.
struct HungFirst {
    runner: &'static str,
    first_saw_stop: Arc<AtomicBool>,
    finished_by: Arc<Mutex<Vec<&'static str>>>,
}

#[async_trait]
impl JobHandler for HungFirst {
    async fn run(&self, job: &Job, ctx: &JobContext) -> JobOutcome {
        if job.attempts == 1 {
            tokio::time::sleep(Duration::from_millis(3000)).await;
            self.first_saw_stop
                .store(ctx.should_stop(), Ordering::SeqCst);
        }
        self.finished_by.lock().unwrap().push(self.runner);
        JobOutcome::Succeeded
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_that_stops_renewing_loses_the_job_to_another_which_finishes_it() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let saw_stop = Arc::new(AtomicBool::new(false));
    let finished_by = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = config("a");
    cfg.lease = Duration::from_millis(1000);
    cfg.heartbeat = Duration::from_millis(200);
    // One slot, busy with the hung attempt, so only b can take the job over.
    cfg.workers = 1;
    let a = runner(
        &test.db,
        "a",
        Arc::new(HungFirst {
            runner: "a",
            first_saw_stop: saw_stop.clone(),
            finished_by: finished_by.clone(),
        }),
        cfg.clone(),
    );
    a.heartbeat_pause_switch().store(true, Ordering::SeqCst);
    let a = a.start();
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})))
        .await
        .unwrap()
        .job
        .id;
    wait_for(&queue, id, "running on a", |j| {
        j.status == JobStatus::Running
    })
    .await;
    let b = runner(
        &other_pool(&test),
        "b",
        Arc::new(HungFirst {
            runner: "b",
            first_saw_stop: Arc::new(AtomicBool::new(false)),
            finished_by: finished_by.clone(),
        }),
        RunnerConfig {
            name: "b".into(),
            ..cfg
        },
    )
    .start();
    let job = wait_for(&queue, id, "succeeded", |j| {
        j.status == JobStatus::Succeeded
    })
    .await;
    assert_eq!(job.attempts, 2, "taken over: a second attempt");
    // Let a's hung attempt end and try to settle.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.stats().lost.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "a never tried to settle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sa = a.stats();
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(
        *finished_by.lock().unwrap(),
        vec!["b", "a"],
        "b finished it; a's late run came after"
    );
    assert!(
        saw_stop.load(Ordering::SeqCst),
        "a's handler was told its lease was lost"
    );
    assert_eq!(
        sa.succeeded.load(Ordering::SeqCst),
        0,
        "a's late success was refused"
    );
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempts, 2);
}

/// Runs longer than the lease, checking at safe points that it may go on.
struct Long {
    stopped_early: AtomicBool,
}

#[async_trait]
impl JobHandler for Long {
    async fn run(&self, _: &Job, ctx: &JobContext) -> JobOutcome {
        let until = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < until {
            if ctx.should_stop() {
                self.stopped_early.store(true, Ordering::SeqCst);
                return JobOutcome::Stopped;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        JobOutcome::Succeeded
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heartbeats_keep_a_long_job_alive_past_the_lease_length() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let mut cfg = config("a");
    cfg.lease = Duration::from_millis(800);
    cfg.heartbeat = Duration::from_millis(150);
    let handler = Arc::new(Long {
        stopped_early: AtomicBool::new(false),
    });
    let a = runner(&test.db, "a", handler.clone(), cfg.clone()).start();
    let b = runner(
        &other_pool(&test),
        "b",
        handler.clone(),
        RunnerConfig {
            name: "b".into(),
            ..cfg
        },
    )
    .start();
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})))
        .await
        .unwrap()
        .job
        .id;
    let job = wait_for(&queue, id, "succeeded", |j| {
        j.status == JobStatus::Succeeded
    })
    .await;
    let (sa, sb) = (a.stats(), b.stats());
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(job.attempts, 1, "never taken over");
    assert!(!handler.stopped_early.load(Ordering::SeqCst));
    assert_eq!(
        sa.claimed.load(Ordering::SeqCst) + sb.claimed.load(Ordering::SeqCst),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_nobody_works_on_never_shows_running_past_its_lease() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})).max_attempts(1))
        .await
        .unwrap()
        .job
        .id;
    queue
        .claim("dead", &kinds(), 1, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(
        queue.get(id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Its last attempt's runner died: it shows failed before anyone claims again…
    let shown = queue.get(id).await.unwrap().unwrap();
    assert_eq!(shown.status, JobStatus::Failed);
    assert_eq!(shown.last_error.unwrap().code, LEASE_EXPIRED);
    // …and the next claim (by any runner) makes it so.
    assert!(
        queue
            .claim("live", &kinds(), 1, Duration::from_secs(5))
            .await
            .unwrap()
            .is_empty()
    );
    let stored = queue
        .list(&JobFilter {
            status: Some(JobStatus::Failed),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].finished_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_releases_a_job_at_its_safe_point_and_another_runner_resumes_it() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let first = Arc::new(UntilStopped::default());
    let a = runner(&test.db, "a", first.clone(), config("a")).start();
    let id = queue
        .enqueue(NewJob::new("test.job", json!({})))
        .await
        .unwrap()
        .job
        .id;
    wait_started(&first, 1).await;
    a.shutdown().await;
    assert_eq!(
        *first.reasons.lock().unwrap(),
        vec![Some(pm_jobs::StopReason::Shutdown)]
    );
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued, "released, not left running");
    assert_eq!(job.attempts, 0, "the interrupted attempt is given back");
    let resumed_from = job.progress.clone();
    assert!(resumed_from.is_some());
    let finisher = Arc::new(Counting::default());
    let b = runner(&other_pool(&test), "b", finisher.clone(), config("b")).start();
    let job = wait_for(&queue, id, "succeeded", |j| {
        j.status == JobStatus::Succeeded
    })
    .await;
    b.shutdown().await;
    assert_eq!(job.attempts, 1);
    assert_eq!(finisher.runs.lock().unwrap().get(&id), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notification_wakes_a_runner_long_before_its_next_poll() {
    let test = TestDb::new().await;
    let handler = Arc::new(Counting::default());
    let mut cfg = config("a");
    cfg.poll_interval = Duration::from_secs(60);
    let r = runner(&test.db, "a", handler.clone(), cfg);
    let listener = spawn_job_listener(test.url.clone(), r.wake());
    let r: RunningRunner = r.start();
    // Let the first poll and the listener's LISTEN happen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut conn = AsyncPgConnection::establish(&test.url).await.unwrap();
    let job = NewJob::new("test.job", json!({}));
    let started = Instant::now();
    conn.transaction::<(), diesel::result::Error, _>(async |c| {
        enqueue_in(c, &job).await?;
        Ok(())
    })
    .await
    .unwrap();
    let queue = PgJobQueue::new(test.db.clone());
    wait_for(&queue, job.id, "succeeded", |j| {
        j.status == JobStatus::Succeeded
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by NOTIFY, not by the 60 s poll"
    );
    listener.abort();
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_deletes_only_jobs_finished_before_the_retention() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let done = queue
        .enqueue(NewJob::new("test.job", json!({})))
        .await
        .unwrap()
        .job
        .id;
    let active = queue
        .enqueue(
            NewJob::new("test.job", json!({})).run_at(pm_kernel::now() + Duration::from_secs(3600)),
        )
        .await
        .unwrap()
        .job
        .id;
    let claimed = queue
        .claim("t", &kinds(), 5, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        queue
            .settle(&claimed[0].lease, Settlement::Succeeded)
            .await
            .unwrap()
    );
    assert_eq!(
        queue
            .cleanup(pm_kernel::now() - Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        queue
            .cleanup(pm_kernel::now() + Duration::from_secs(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(queue.get(done).await.unwrap(), None);
    assert!(
        queue.get(active).await.unwrap().is_some(),
        "active jobs are never cleaned up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn periodic_ticks_of_two_runners_make_one_job_per_period() {
    let test = TestDb::new().await;
    let queue = PgJobQueue::new(test.db.clone());
    let a = Runner::new(
        Arc::new(PgJobQueue::new(test.db.clone())),
        Registry::new(),
        config("a"),
    )
    .with_cleanup(Duration::from_secs(3600), Duration::from_secs(1))
    .start();
    let b = Runner::new(
        Arc::new(PgJobQueue::new(other_pool(&test))),
        Registry::new(),
        config("b"),
    )
    .with_cleanup(Duration::from_secs(3600), Duration::from_secs(1))
    .start();
    tokio::time::sleep(Duration::from_millis(3300)).await;
    a.shutdown().await;
    b.shutdown().await;
    let jobs = queue
        .list(&JobFilter {
            kind: Some(pm_worker::CLEANUP_KIND.into()),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let mut slots: Vec<_> = jobs.iter().map(|j| j.run_at).collect();
    let total = slots.len();
    slots.sort();
    slots.dedup();
    assert_eq!(
        slots.len(),
        total,
        "one job per period, whatever the number of runners: {jobs:?}"
    );
    assert!(
        jobs.iter()
            .filter(|j| j.status == JobStatus::Succeeded)
            .count()
            >= 2,
        "the cleanup ran every period: {jobs:?}"
    );
}
