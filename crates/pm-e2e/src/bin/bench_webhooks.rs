//! `pmhub-bench-webhooks` (`make bench-webhooks`): signed GitHub deliveries accepted per
//! second by `POST /api/v1/webhooks/github`, and the latency of each answer.
//!
//! A fresh database, the real `Application` (no job workers: this measures acceptance —
//! verification, the insert and the outbox job, one transaction each), `--concurrency`
//! clients sending `--deliveries` distinct deliveries of GitHub's `issues.edited` example
//! (13 KB), each signed. Every answer must be 202 and every delivery stored with its job,
//! its payload byte for byte the body sent.

use anyhow::{Context, ensure};
use clap::Parser;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_api::Application;
use pm_crypto::HmacWebhookVerifier;
use pm_e2e::db::{ScratchDatabase, redact};
use pm_e2e::system::Machine;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PAYLOAD: &[u8] =
    include_bytes!("../../../../tests/fixtures/github/webhooks/issues.edited.json");
const SECRET: &str = "bench-webhook-secret";

#[derive(Debug, Parser)]
#[command(
    name = "pmhub-bench-webhooks",
    about = "Signed webhook deliveries accepted per second (make bench-webhooks)"
)]
struct Args {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 20_000)]
    deliveries: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP workers of the server.
    #[arg(long, default_value_t = 2)]
    server_workers: usize,
    /// Connections of the server's database pool (`database.max_connections`).
    #[arg(long, default_value_t = 16)]
    pool: usize,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.deliveries > 0 && args.concurrency > 0,
        "positive numbers, please"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!("pmhub webhook benchmark");
    println!("  machine     {}", Machine::detect());
    let db = ScratchDatabase::create(&args.database_url, "pmhub_bench_hooks").await?;
    println!(
        "  database    {} (fresh; dropped at the end)",
        redact(&db.url)
    );
    let outcome = bench(&args, &db).await;
    db.drop_now().await?;
    outcome
}

async fn bench(args: &Args, db: &ScratchDatabase) -> anyhow::Result<()> {
    pm_postgres::run_migrations(&db.url).await?;
    let settings = pm_e2e::settings::extract(
        pm_e2e::settings::figment(&db.url, "http://127.0.0.1:9", pm_e2e::DEFAULT_ORG)
            .merge(("server.workers", args.server_workers))
            .merge(("database.max_connections", args.pool))
            .merge(("github.webhook_secret", SECRET))
            .merge(("log.filter", "warn")),
    )?;
    let app = Application::build(&settings).await?;
    let url = format!("http://127.0.0.1:{}/api/v1/webhooks/github", app.port());
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);

    let signature = HmacWebhookVerifier::from_config(Some(SECRET))
        .sign(PAYLOAD)
        .context("the benchmark's verifier has a secret")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    // Warm-up: connections and the pool.
    for i in 0..args.concurrency.min(50) {
        send(&client, &url, &signature, &format!("warm-{i}")).await?;
    }

    // CPU time, which the other work on a shared machine disturbs far less than
    // throughput: this process (server and clients) and the pool's PostgreSQL backends.
    let mut conn = AsyncPgConnection::establish(&db.url).await?;
    let backends_before = backend_ticks(&mut conn).await?;
    let cpu_before = cpu_ticks("self");

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, url, signature, next) =
            (client.clone(), url.clone(), signature.clone(), next.clone());
        let total = args.deliveries;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(latencies);
                }
                let t = Instant::now();
                send(&client, &url, &signature, &format!("bench-{i}")).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_ticks("self");
    // Backends the pool opened during the run count with all their time.
    let backends_after = backend_ticks(&mut conn).await?;
    let backend_cpu: u64 = backends_after
        .iter()
        .map(|(pid, t)| t.saturating_sub(backends_before.get(pid).copied().unwrap_or(0)))
        .sum();
    latencies.sort();
    let pct = |p: f64| percentile(&latencies, p);
    let rate = args.deliveries as f64 / elapsed.as_secs_f64();

    let stored: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM github_deliveries WHERE delivery_id LIKE 'bench-%'",
    )
    .get_result(&mut conn)
    .await?;
    // Stored as sent: the payload's text is the body, byte for byte.
    let as_sent: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM github_deliveries
          WHERE delivery_id LIKE 'bench-%' AND payload::text = $1",
    )
    .bind::<diesel::sql_types::Text, _>(std::str::from_utf8(PAYLOAD)?)
    .get_result(&mut conn)
    .await?;
    let jobs: Count =
        diesel::sql_query("SELECT count(*) AS n FROM jobs WHERE kind = 'github.delivery'")
            .get_result(&mut conn)
            .await?;
    handle.stop(true).await;

    println!(
        "  sent        {} signed deliveries ({} bytes each), {} at a time, {} server workers, pool of {}",
        args.deliveries,
        PAYLOAD.len(),
        args.concurrency,
        args.server_workers,
        args.pool
    );
    println!(
        "  accepted    {rate:.0} deliveries/s ({:.2} s)",
        elapsed.as_secs_f64()
    );
    println!(
        "  latency     p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (each answer a 202)",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    let per_delivery = |ticks: u64| ticks as f64 * 1e6 / TICKS_PER_SEC / args.deliveries as f64;
    println!(
        "  CPU         {:.0} µs per delivery in this process (server and clients), {:.0} µs in its {} PostgreSQL backends",
        per_delivery(cpu_after.saturating_sub(cpu_before)),
        per_delivery(backend_cpu),
        backends_after.len()
    );
    println!(
        "  stored      {} deliveries ({} byte for byte as sent), {} github.delivery jobs",
        stored.n, as_sent.n, jobs.n
    );
    ensure!(
        usize::try_from(stored.n).ok() == Some(args.deliveries),
        "every delivery must be stored"
    );
    ensure!(
        usize::try_from(jobs.n).ok() == Some(args.deliveries + args.concurrency.min(50)),
        "one job per delivery"
    );
    ensure!(as_sent.n == stored.n, "every payload stored as sent");
    Ok(())
}

#[derive(QueryableByName)]
struct Backend {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// `USER_HZ`: the unit of utime and stime in `/proc/<pid>/stat` (100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of process `pid` (`self` for this one), in ticks; 0 if unreadable.
fn cpu_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name (field 2) is in parentheses and may hold spaces.
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// CPU ticks of each PostgreSQL backend on this database (but the one asking).
async fn backend_ticks(
    conn: &mut AsyncPgConnection,
) -> anyhow::Result<std::collections::HashMap<i32, u64>> {
    let backends: Vec<Backend> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load(conn)
    .await?;
    Ok(backends
        .into_iter()
        .map(|b| (b.pid, cpu_ticks(&b.pid.to_string())))
        .collect())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    signature: &str,
    id: &str,
) -> anyhow::Result<()> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", signature)
        .body(PAYLOAD)
        .send()
        .await?;
    ensure!(
        resp.status().as_u16() == 202,
        "{id}: answered {}",
        resp.status()
    );
    Ok(())
}

/// The `p` quantile (0..=1) of sorted samples, by the nearest-rank method; zero for none.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank within the sample count, which is far below 2^52"
    )]
    let rank = ((sorted.len() as f64 * p) as usize).min(last);
    sorted.get(rank).copied().unwrap_or_default()
}
