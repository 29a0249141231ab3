//! Runner behaviour against a mocked queue; the PostgreSQL tests are in
//! `crates/pm-worker/tests/`.

use super::*;
use async_trait::async_trait;
use pm_jobs::{Job, JobStatus, Lease, LeaseState, MockJobQueue};
use serde_json::json;
use std::sync::atomic::AtomicUsize;

fn claimed(kind: &str) -> ClaimedJob {
    let now = pm_kernel::now();
    let id = JobId::new();
    ClaimedJob {
        job: Job {
            id,
            kind: kind.into(),
            payload: json!({}),
            concurrency_key: None,
            workspace_id: None,
            project_id: None,
            status: JobStatus::Running,
            attempts: 1,
            max_attempts: 3,
            run_at: now,
            lease_until: Some(now),
            worker: Some("t".into()),
            cancel_requested: false,
            last_error: None,
            progress: None,
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
        },
        lease: Lease {
            job_id: id,
            token: uuid::Uuid::now_v7(),
        },
    }
}

fn config() -> RunnerConfig {
    RunnerConfig {
        workers: 2,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        heartbeat: Duration::from_millis(10),
        shutdown_grace: Duration::from_millis(500),
        retry: RetryPolicy::default(),
        name: "test".into(),
    }
}

struct Panics;
#[async_trait]
impl JobHandler for Panics {
    async fn run(&self, _: &Job, _: &JobContext) -> JobOutcome {
        panic!("boom")
    }
}

/// Runs until told to stop, checking at safe points.
struct Cooperative(Arc<AtomicUsize>);
#[async_trait]
impl JobHandler for Cooperative {
    async fn run(&self, _: &Job, ctx: &JobContext) -> JobOutcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        while !ctx.should_stop() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        JobOutcome::Stopped
    }
}

#[tokio::test]
async fn a_panicking_handler_is_retried_with_its_own_code() {
    let job = claimed("boom");
    let lease = job.lease;
    let mut queue = MockJobQueue::new();
    let mut once = Some(job);
    queue
        .expect_claim()
        .returning(move |_, _, _, _| Ok(once.take().into_iter().collect()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    queue
        .expect_settle()
        .withf(move |l, _| *l == lease)
        .times(1)
        .returning(move |_, s| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(s);
            }
            Ok(true)
        });
    queue
        .expect_heartbeat()
        .returning(|_, _| Ok(LeaseState::Held));
    let mut registry = Registry::new();
    registry.register("boom", Arc::new(Panics));
    let runner = Runner::new(Arc::new(queue), registry, config()).start();
    let settlement = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .unwrap()
        .unwrap();
    match settlement {
        Settlement::Retry { error, .. } => assert_eq!(error.code, HANDLER_PANICKED),
        other => panic!("expected a retry, got {other:?}"),
    }
    runner.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_claiming_and_releases_a_cooperative_job() {
    let job = claimed("coop");
    let mut queue = MockJobQueue::new();
    let claims = Arc::new(AtomicUsize::new(0));
    let mut once = Some(job);
    let counted = claims.clone();
    queue.expect_claim().returning(move |_, _, _, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(once.take().into_iter().collect())
    });
    queue
        .expect_heartbeat()
        .returning(|_, _| Ok(LeaseState::Held));
    let settled = Arc::new(Mutex::new(Vec::new()));
    let record = settled.clone();
    queue.expect_settle().returning(move |_, s| {
        record.lock().unwrap().push(s);
        Ok(true)
    });
    let started = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    registry.register("coop", Arc::new(Cooperative(started.clone())));
    let runner = Runner::new(Arc::new(queue), registry, config()).start();
    while started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    runner.shutdown().await;
    assert_eq!(*settled.lock().unwrap(), vec![Settlement::Released]);
    let after = claims.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        claims.load(Ordering::SeqCst),
        after,
        "no claims after shutdown"
    );
}

#[tokio::test]
async fn a_cancel_seen_by_the_heartbeat_cancels_the_job() {
    let job = claimed("coop");
    let mut queue = MockJobQueue::new();
    let mut once = Some(job);
    queue
        .expect_claim()
        .returning(move |_, _, _, _| Ok(once.take().into_iter().collect()));
    queue
        .expect_heartbeat()
        .returning(|_, _| Ok(LeaseState::CancelRequested));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    queue.expect_settle().returning(move |_, s| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(s);
        }
        Ok(true)
    });
    let mut registry = Registry::new();
    registry.register("coop", Arc::new(Cooperative(Arc::new(AtomicUsize::new(0)))));
    let runner = Runner::new(Arc::new(queue), registry, config()).start();
    let settlement = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settlement, Settlement::Canceled);
    runner.shutdown().await;
}

#[test]
fn periodic_runs_land_on_the_next_multiple_of_the_period() {
    let p = Periodic {
        name: "x".into(),
        kind: "x".into(),
        every: Duration::from_secs(3600),
        payload: json!({}),
    };
    let now = time::macros::datetime!(2026-11-21 10:20:30 UTC);
    assert_eq!(
        p.next_run(now),
        time::macros::datetime!(2026-11-21 11:00:00 UTC)
    );
    let on_the_hour = time::macros::datetime!(2026-11-21 11:00:00 UTC);
    assert_eq!(
        p.next_run(on_the_hour),
        time::macros::datetime!(2026-11-21 12:00:00 UTC),
        "never the current slot, which may have run already"
    );
    assert_eq!(p.key(), "periodic:x");
}
