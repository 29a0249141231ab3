//! Wiring of the job engine: the runner that `pmhub serve` starts beside the HTTP
//! server (unless `jobs.enabled = false`) and that `pmhub worker` runs alone.
//!
//! The runner has a pool of its own (`jobs.workers + 2` connections), so jobs never
//! starve requests of connections, and, unless `jobs.listen = false`, one more
//! connection that LISTENs for enqueues.

use crate::config::Settings;
use anyhow::{Context, bail};
use pm_integrations::two_way::{MERGE_JOB, RECONCILE_JOB, RECONCILE_TICK_JOB};
use pm_integrations::{GithubApi, SyncKind};
use pm_postgres::{Database, DbConfig, PgJobQueue, spawn_job_listener};
use pm_worker::{Periodic, Registry, Runner, RunnerConfig, RunningRunner};
use std::sync::Arc;
use std::time::Duration;

/// The runner's settings from `jobs.*` (and `server.shutdown_timeout_secs` as the
/// grace period). Refuses settings that cannot work.
pub fn runner_config(settings: &Settings) -> anyhow::Result<RunnerConfig> {
    let jobs = &settings.jobs;
    if !(1..=256).contains(&jobs.workers) {
        bail!("jobs.workers must be between 1 and 256");
    }
    if jobs.lease_secs == 0 || jobs.heartbeat_secs == 0 || jobs.heartbeat_secs * 2 > jobs.lease_secs
    {
        bail!("jobs.heartbeat_secs must be at least 1 and at most half of jobs.lease_secs");
    }
    if jobs.poll_interval_ms == 0 {
        bail!("jobs.poll_interval_ms must be at least 1");
    }
    if jobs.cleanup_interval_secs == 0 {
        bail!("jobs.cleanup_interval_secs must be at least 1");
    }
    if settings.github.reconcile_interval_secs == 0 {
        bail!("github.reconcile_interval_secs must be at least 1");
    }
    Ok(RunnerConfig {
        workers: jobs.workers,
        poll_interval: Duration::from_millis(jobs.poll_interval_ms),
        lease: Duration::from_secs(jobs.lease_secs),
        heartbeat: Duration::from_secs(jobs.heartbeat_secs),
        shutdown_grace: Duration::from_secs(settings.server.shutdown_timeout_secs),
        ..RunnerConfig::default()
    })
}

/// The handlers this process runs: imports and pushes, webhook deliveries (on the
/// runner's own pool); the built-in cleanup is added by [`start`].
pub fn registry(
    settings: &Settings,
    db: &Database,
    github: Option<Arc<dyn GithubApi>>,
) -> anyhow::Result<Registry> {
    let state = match github {
        Some(github) => crate::startup::build_state_with(settings, db.clone(), github)?,
        None => crate::startup::build_state(settings, db.clone())?,
    };
    let mut registry = Registry::new();
    for kind in [SyncKind::Import, SyncKind::Push] {
        registry.register(
            pm_integrations::jobs::job_kind(kind),
            Arc::new(state.sync_jobs.handler(kind)),
        );
    }
    let two_way = &state.two_way_jobs;
    registry.register(MERGE_JOB, two_way.merge.clone());
    registry.register(RECONCILE_JOB, two_way.reconcile.clone());
    registry.register(RECONCILE_TICK_JOB, two_way.tick.clone());
    crate::webhooks::DeliveryHandler::register(
        &mut registry,
        crate::webhooks::service(settings, db),
    );
    Ok(registry)
}

/// A started runner and its listener.
pub struct JobWorkers {
    runner: RunningRunner,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl JobWorkers {
    /// Graceful shutdown: stop claiming, give running jobs the grace period, leave the
    /// rest to lease expiry.
    pub async fn shutdown(self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        self.runner.shutdown().await;
    }

    /// Waits for SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("signal received; stopping job workers");
        self.shutdown().await;
    }

    /// Starts the graceful shutdown as soon as SIGTERM or SIGINT arrives (the HTTP
    /// server reacts to the same signals on its own), so both get the grace at once.
    pub fn stop_on_signal(&self) {
        let token = self.runner.stop_token();
        tokio::spawn(async move {
            wait_for_signal().await;
            token.cancel();
        });
    }
}

/// Connects the runner's pool, registers the handlers and the periodic cleanup,
/// and starts the runner (and the listener, unless `jobs.listen = false`).
pub fn start(settings: &Settings) -> anyhow::Result<JobWorkers> {
    start_sharing(settings, None)
}

/// [`start`] with the GitHub client of the server in the same process, so both
/// share its per-token rate-limit gate and ETag cache.
pub fn start_sharing(
    settings: &Settings,
    github: Option<Arc<dyn GithubApi>>,
) -> anyhow::Result<JobWorkers> {
    let config = runner_config(settings)?;
    let url = settings
        .database
        .url
        .clone()
        .context("no database URL: set DATABASE_URL (make run starts a local PostgreSQL)")?;
    let mut db_config = DbConfig::new(url.clone());
    db_config.max_connections = config.workers + 2;
    let db = Database::connect(&db_config)?;
    warm_up(&db, WARM_CONNECTIONS.min(db_config.max_connections));
    let registry = registry(settings, &db, github)?;
    let retention = Duration::from_secs(settings.jobs.retention_days.saturating_mul(86_400));
    let every = Duration::from_secs(settings.jobs.cleanup_interval_secs);
    let workers = config.workers;
    let runner = Runner::new(Arc::new(PgJobQueue::new(db)), registry, config)
        .with_cleanup(retention, every)
        .periodic(Periodic {
            name: "github-reconcile".into(),
            kind: RECONCILE_TICK_JOB.into(),
            every: Duration::from_secs(settings.github.reconcile_interval_secs),
            payload: serde_json::json!({}),
        });
    let listener = settings
        .jobs
        .listen
        .then(|| spawn_job_listener(url, runner.wake()));
    tracing::info!(
        workers,
        listen = settings.jobs.listen,
        "job workers starting"
    );
    Ok(JobWorkers {
        runner: runner.start(),
        listener,
    })
}

/// Connections the runner opens at start: the claim loop's and the first job's.
const WARM_CONNECTIONS: usize = 2;

/// Opens `n` of the pool's connections now, in the background, so the first
/// claim and the first job do not wait for logins (the pool opens connections
/// lazily). Best effort: a database that is down now is the claim loop's to report.
fn warm_up(db: &Database, n: usize) {
    let db = db.clone();
    tokio::spawn(async move {
        // Concurrent checkouts: each finds no idle connection and opens one.
        let pings = futures_util::future::join_all((0..n).map(|_| db.ping())).await;
        let opened = pings.iter().filter(|p| p.is_ok()).count();
        tracing::debug!(opened, "job runner's pool warmed up");
    });
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn jobs_settings_come_from_the_environment_and_are_checked() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PMHUB__JOBS__ENABLED", "false");
            jail.set_env("PMHUB__JOBS__WORKERS", "2");
            jail.set_env("PMHUB__JOBS__LEASE_SECS", "20");
            jail.set_env("PMHUB__JOBS__POLL_INTERVAL_MS", "250");
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert!(!s.jobs.enabled);
            let c = runner_config(&s).unwrap();
            assert_eq!(c.workers, 2);
            assert_eq!(c.lease, Duration::from_secs(20));
            assert_eq!(c.heartbeat, Duration::from_secs(5));
            assert_eq!(c.poll_interval, Duration::from_millis(250));
            assert_eq!(c.shutdown_grace, Duration::from_secs(30));

            jail.set_env("PMHUB__JOBS__HEARTBEAT_SECS", "15");
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert!(
                runner_config(&s).is_err(),
                "a heartbeat over half the lease is refused"
            );
            jail.set_env("PMHUB__JOBS__HEARTBEAT_SECS", "5");
            jail.set_env("PMHUB__JOBS__WORKERS", "0");
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert!(runner_config(&s).is_err(), "no workers is refused");
            Ok(())
        });
    }
}
