//! `pmhub-bench-jobs` (`make bench-jobs`): empty jobs per second through the job queue.
//!
//! Creates a fresh database, migrates it, enqueues `--jobs` no-op jobs (one statement
//! each, as a service would), then starts one runner with `--workers` workers (LISTEN on,
//! the default 1 s poll) and times until every job has succeeded. Each job costs its
//! share of a claim statement (batched by free slots) and one settle statement.

use anyhow::ensure;
use async_trait::async_trait;
use clap::Parser;
use pm_e2e::db::{ScratchDatabase, redact};
use pm_e2e::system::Machine;
use pm_jobs::{Job, JobContext, JobFilter, JobHandler, JobOutcome, JobQueue, JobStatus, NewJob};
use pm_postgres::{Database, DbConfig, PgJobQueue, spawn_job_listener};
use pm_worker::{Registry, Runner, RunnerConfig};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "pmhub-bench-jobs",
    about = "Empty jobs per second through the job queue (make bench-jobs)"
)]
struct Args {
    /// PostgreSQL server to create a throw-away database on.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// No-op jobs to run.
    #[arg(long, default_value_t = 5_000)]
    jobs: usize,
    /// Concurrent workers of the runner.
    #[arg(long, default_value_t = 4)]
    workers: usize,
}

struct Noop;

#[async_trait]
impl JobHandler for Noop {
    async fn run(&self, _: &Job, _: &JobContext) -> JobOutcome {
        JobOutcome::Succeeded
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.jobs > 0 && args.workers > 0,
        "--jobs and --workers must be positive"
    );
    println!("pmhub job queue benchmark");
    println!("  machine   {}", Machine::detect());
    let db = ScratchDatabase::create(&args.database_url, "pmhub_bench_jobs").await?;
    println!(
        "  database  {} (fresh; dropped at the end)",
        redact(&db.url)
    );
    let outcome = bench(&args, &db).await;
    db.drop_now().await?;
    outcome
}

async fn bench(args: &Args, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    pm_postgres::run_migrations(&scratch.url).await?;
    let mut config = DbConfig::new(&scratch.url);
    config.max_connections = args.workers + 2;
    let pool = Database::connect(&config)?;
    let queue = PgJobQueue::new(pool.clone());

    let started = Instant::now();
    for _ in 0..args.jobs {
        queue
            .enqueue(NewJob::new("bench.noop", serde_json::json!({})))
            .await?;
    }
    let enqueue = started.elapsed();
    println!(
        "  enqueue   {} jobs in {:.2} s: {:.0} jobs/s (one at a time, one connection)",
        args.jobs,
        enqueue.as_secs_f64(),
        args.jobs as f64 / enqueue.as_secs_f64()
    );

    let mut registry = Registry::new();
    registry.register("bench.noop", Arc::new(Noop));
    let runner = Runner::new(
        Arc::new(PgJobQueue::new(pool.clone())),
        registry,
        RunnerConfig {
            workers: args.workers,
            name: "bench".into(),
            ..RunnerConfig::default()
        },
    );
    let listener = spawn_job_listener(scratch.url.clone(), runner.wake());
    let statements_before = pool.statements_executed();
    let started = Instant::now();
    let running = runner.start();
    let stats = running.stats();
    while usize::try_from(stats.succeeded.load(Ordering::Relaxed))? < args.jobs {
        ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the jobs did not finish in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let statements = pool.statements_executed() - statements_before;
    running.shutdown().await;
    listener.abort();
    let left = queue
        .list(&JobFilter {
            status: Some(JobStatus::Queued),
            limit: Some(1),
            ..JobFilter::default()
        })
        .await?;
    ensure!(left.is_empty(), "jobs left queued after the run");
    println!(
        "  run       {} empty jobs, {} workers: {:.2} s, {:.0} jobs/s, {:.2} statements per job",
        args.jobs,
        args.workers,
        elapsed.as_secs_f64(),
        args.jobs as f64 / elapsed.as_secs_f64(),
        statements as f64 / args.jobs as f64
    );
    Ok(())
}
