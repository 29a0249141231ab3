//! `pmhub-bench` (`make bench`): the issue-import ("sync") benchmark.
//!
//! Imports 10,000 issues (100 pages of 100) from the in-memory GitHub into a fresh database,
//! `--rounds` times (default 3) in the order direct, job, job, direct — the direct path is the
//! importer called in-process, as the request did before imports were jobs; the job path is
//! `POST …/github/sync` → 202 and a job worker of the same process running it — each import
//! into a project and a repository of its own; then imports again with nothing changed, and
//! reports:
//! * both paths' throughput (issues/s) and the job path's share of the direct path's over all
//!   runs and per round (target ≥ 95 %), with the phases of every import (timestamps of
//!   pmhub's and the fake's events: repository check, enqueue, 202, claim, first and last list
//!   request, finish);
//! * p50/p99 of `POST …/github/sync` → 202 while another import runs;
//! * the GitHub requests it made (the fake's counters; exactly one list request per page);
//! * SQL statements per page (the server's pool counts every statement it runs);
//! * the no-change re-sync: tasks created (must be 0), duration and requests;
//! * peak memory (`VmHWM`) of this process, which holds the fake, the server and the client;
//! * a breakdown of where the import's time goes: fetching and parsing the pages with pmhub's
//!   GitHub client alone, and storing them with pmhub's PostgreSQL store alone.
//!
//! Everything a user would touch goes through HTTP: pmhub's real routes serve in-process
//! (`pm_api::startup::configure_app` on a server of our own, so the pool's statement counter
//! can be read) and talk to the fake GitHub over loopback HTTP.

#![allow(
    clippy::indexing_slicing,
    reason = "JSON answers are serde_json::Value, whose indexing yields Null and never panics"
)]
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "a measuring program: counts of pages, issues and samples are far below every limit"
)]

use anyhow::{Context, bail, ensure};
use clap::Parser;
use pm_e2e::api::{Api, Reply};
use pm_e2e::db::{ScratchDatabase, redact};
use pm_e2e::server::InProcessServer;
use pm_e2e::system::{Machine, peak_rss_kib, rss_kib};
use pm_github_fake::{FakeGithub, GenerateIssues, Running};
use pm_integrations::{
    GithubApi, IssuePage, IssuePageRequest, SyncCounts, SyncKind, SyncStore, import::issue_import,
};
use pm_kernel::ProjectId;
use pm_postgres::{Database, PgSyncStore};
use pm_projects::RepoFullName;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const GH_TOKEN: &str = "ghp_benchAlice0123456789abcdefABCD";
const ORG: &str = pm_e2e::DEFAULT_ORG;
const REPO: &str = "auditmos-projects/benchmark";
/// The same issues again: the import that runs while `POST …/sync` latencies are measured.
const REPO_BUSY: &str = "auditmos-projects/benchmark-busy";
/// The job path's throughput must be at least this share of the direct path's.
const TARGET_JOB_SHARE: f64 = 0.95;
const PER_PAGE: u64 = 100;
const TARGET_ISSUES_PER_SEC: f64 = 10_000.0;

#[derive(Debug, Parser)]
#[command(
    name = "pmhub-bench",
    about = "Issue-import benchmark against the in-memory GitHub (make bench)"
)]
struct Args {
    /// PostgreSQL server to create a throw-away database on (`make bench` passes the local
    /// cluster's URL).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Issues in the benchmark repository (pages of 100).
    #[arg(long, default_value_t = 10_000)]
    issues: u64,
    /// pmhub's HTTP worker threads (pmhub defaults to one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Rounds of the path comparison; each imports four times, in the order direct,
    /// job, job, direct, each into a project and a repository of its own (identical
    /// issues, so no run profits from another's ETag cache entries).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Diagnostics: have PostgreSQL log every statement of this run with its duration
    /// (`log_min_duration_statement = 0` on the benchmark's database) to the server's log.
    #[arg(long)]
    log_statement_durations: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    pm_e2e::install_tls_provider();
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("\npmhub-bench: a correctness check failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("pmhub-bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Counters before and after one measured request.
struct Measured {
    reply: Reply,
    elapsed: Duration,
    statements: u64,
    github_requests: u64,
    list_requests: u64,
    /// Requests GitHub charged against the token's rate limit (a `304` is free).
    charged: u64,
    /// Where the time went (job path only).
    phases: Option<String>,
}

/// The world under test.
struct Bench {
    fake: FakeGithub,
    github: Running,
    pool: Database,
    api: Api,
    /// The fake GitHub's API as alice, for `GET /rate_limit` (free, like on GitHub).
    github_api: Api,
    server: InProcessServer,
    timeline: timeline::Timeline,
}

impl Bench {
    /// `POST path body`, with the GitHub requests and SQL statements it caused.
    async fn measure(&self, path: &str, body: &Value) -> anyhow::Result<Measured> {
        let used_before = self.rate_limit_used().await?;
        let before = self.fake.stats();
        let statements = self.pool.statements_executed();
        let started = Instant::now();
        let reply = self.api.post_and_wait(path, body).await?;
        let elapsed = started.elapsed();
        let statements = self.pool.statements_executed() - statements;
        let after = self.fake.stats();
        let used_after = self.rate_limit_used().await?;
        Ok(Measured {
            reply,
            elapsed,
            statements,
            github_requests: after.requests - before.requests,
            list_requests: list_requests(&after) - list_requests(&before),
            charged: used_after.saturating_sub(used_before),
            phases: None,
        })
    }

    /// `POST path body` without waiting (202), then the run read once it finished;
    /// `reply` is the finished run and `elapsed` the POST's latency plus the run's
    /// own `finished_at - started_at` (from its record, so the polling neither adds load nor
    /// rounds the figure). SQL statements: the API's pool only; the workers' pool is separate.
    async fn measure_job(&self, path: &str, body: &Value) -> anyhow::Result<Measured> {
        let used_before = self.rate_limit_used().await?;
        let before = self.fake.stats();
        let statements = self.pool.statements_executed();
        let started = Instant::now();
        let accepted = self.api.post(path, body).await?.expect_status(202)?;
        let post_latency = started.elapsed();
        let accepted_at = Instant::now();
        let location = accepted.header("location").context("Location")?.to_string();
        // Waits for the worker's "finished" event (in memory, so waiting adds no load
        // to the server while the job path is measured), then reads the run; every
        // 2 s it reads the run anyway, in case the run failed.
        let mut waited = Duration::ZERO;
        let reply = loop {
            let finished = self.timeline.seen_since("issue import finished", started);
            if finished || waited >= Duration::from_secs(2) {
                waited = Duration::ZERO;
                let run = self.api.get(&location).await?.expect_status(200)?;
                match run.body["status"].as_str() {
                    Some("succeeded") => break run,
                    Some("failed" | "canceled") => bail!("the run ended {}", run.body),
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            waited += Duration::from_millis(5);
        };
        let at = |key: &str| -> anyhow::Result<time::OffsetDateTime> {
            let text = reply.body[key]
                .as_str()
                .with_context(|| format!("run without {key}"))?;
            Ok(time::OffsetDateTime::parse(
                text,
                &time::format_description::well_known::Rfc3339,
            )?)
        };
        let phases = self
            .timeline
            .phases(started, Instant::now())
            .job_line(accepted_at);
        let run_time = at("finished_at")? - at("started_at")?;
        let elapsed = post_latency + Duration::try_from(run_time)?;
        let statements = self.pool.statements_executed() - statements;
        let after = self.fake.stats();
        let used_after = self.rate_limit_used().await?;
        Ok(Measured {
            reply,
            elapsed,
            statements,
            github_requests: after.requests - before.requests,
            list_requests: list_requests(&after) - list_requests(&before),
            charged: used_after.saturating_sub(used_before),
            phases: Some(phases),
        })
    }

    /// Starts an import of `repo` into a new project, then, while it runs, sends
    /// `POST …/sync` again and again (each joins the run and answers 202); the latencies,
    /// sorted.
    async fn latencies_while_importing(&self, repo: &str) -> anyhow::Result<Vec<Duration>> {
        let project = self
            .api
            .post("/api/v1/projects", &json!({ "name": "Benchmark busy" }))
            .await?
            .expect_status(201)?;
        let slug = project.body["slug"].as_str().context("slug")?;
        let path = format!("/api/v1/projects/{slug}/github/sync");
        let body = json!({ "repo": repo });
        let first = self.api.post(&path, &body).await?.expect_status(202)?;
        let location = first.header("location").context("Location")?.to_string();
        let mut latencies = Vec::new();
        loop {
            let started = Instant::now();
            let reply = self.api.post(&path, &body).await?;
            let elapsed = started.elapsed();
            if reply.body["id"] != first.body["id"] {
                // The import finished: this call started a new (re-)sync; let it end so it
                // does not overlap what is measured next.
                if let Some(next) = reply.header("location") {
                    let next = next.to_string();
                    while self.api.get(&next).await?.body["status"] != "succeeded" {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                break;
            }
            ensure!(reply.status == 202, "expected 202: {}", reply.body);
            latencies.push(elapsed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let run = self.api.get(&location).await?.expect_status(200)?;
        ensure!(
            run.body["status"] == "succeeded",
            "the busy import ended {}",
            run.body
        );
        latencies.sort();
        Ok(latencies)
    }

    /// The `used` count of alice's primary rate limit.
    async fn rate_limit_used(&self) -> anyhow::Result<u64> {
        let reply = self
            .github_api
            .get("/rate_limit")
            .await?
            .expect_status(200)?;
        reply.body["rate"]["used"]
            .as_u64()
            .context("`rate.used` in GET /rate_limit")
    }
}

/// Issue-list requests, under both URL shapes (the first page by name, the next ones where
/// GitHub's `Link` header points: `/repositories/{id}/issues`).
fn list_requests(stats: &pm_github_fake::Stats) -> u64 {
    stats
        .by_route
        .iter()
        .filter(|(route, _)| route.starts_with("GET ") && route.ends_with("/issues"))
        .map(|(_, n)| n)
        .sum()
}

async fn run(args: &Args) -> anyhow::Result<bool> {
    ensure!(
        args.issues > 0 && args.issues.is_multiple_of(PER_PAGE),
        "--issues must be a positive multiple of {PER_PAGE}"
    );
    let pages = args.issues / PER_PAGE;
    let machine = Machine::detect();
    println!("pmhub sync benchmark");
    println!("  machine   {machine}");

    let db = ScratchDatabase::create(&args.database_url, "pmhub_bench").await?;
    println!(
        "  database  {} (fresh; dropped at the end)",
        redact(&db.url)
    );
    let outcome = bench(args, pages, &db).await;
    db.drop_now().await?;
    outcome
}

async fn bench(args: &Args, pages: u64, db: &ScratchDatabase) -> anyhow::Result<bool> {
    let timeline = timeline::Timeline::install()?;
    pm_postgres::run_migrations(&db.url).await?;
    // Start from a clean slate: a checkpoint due from earlier work (a test run
    // creates and drops hundreds of databases) would otherwise land in the middle
    // of the measurement. Best effort: it needs a superuser, which the local
    // cluster's `postgres` is.
    if let Err(err) = db.admin_execute("CHECKPOINT").await {
        println!("  (no CHECKPOINT before measuring: {err})");
    }
    if args.log_statement_durations {
        // Applies to sessions opened from now on, i.e. all of pmhub's pool.
        db.admin_execute(&format!(
            "ALTER DATABASE {} SET log_min_duration_statement = 0",
            db.name()
        ))
        .await?;
        println!("  (logging every statement's duration to the PostgreSQL server log)");
    }

    // GitHub: alice in the organization, one private repository of issues (no pull
    // requests, so every item becomes a task): every 5th closed, a third of those as
    // not planned; labels round-robin.
    let fake = FakeGithub::new();
    fake.add_user(GH_TOKEN, "alice")?;
    fake.add_org(ORG)?;
    fake.add_org_member(ORG, "alice")?;
    let mut repos = vec![REPO.to_string(), REPO_BUSY.to_string()];
    for round in 1..=args.rounds {
        for which in ["direct-a", "job-b", "direct-b"] {
            repos.push(format!("{REPO}-{round}-{which}"));
        }
        if round > 1 {
            repos.push(format!("{REPO}-{round}-job-a"));
        }
    }
    for repo in &repos {
        let (owner, name) = repo.split_once('/').context("owner/name")?;
        fake.add_repo(owner, name, true)?;
        fake.add_issues(
            repo,
            &GenerateIssues::new(args.issues)
                .closed_every(5)
                .not_planned_every(3)
                .labels(["bug", "enhancement", "documentation"]),
        )?;
    }
    let github = fake.clone().start("127.0.0.1:0").await?;
    println!(
        "  GitHub    in-memory fake at {} with {REPO}: {} issues",
        github.base_url, args.issues
    );

    // pmhub: its real wiring and routes, served over HTTP.
    // The job settings are `pmhub serve`'s defaults (LISTEN/NOTIFY wake-ups, a poll
    // every second as the fallback).
    let mut figment = pm_e2e::settings::figment(&db.url, &github.base_url, ORG);
    if let Some(workers) = args.workers {
        figment = figment.merge(("server.workers", workers));
    }
    let settings = pm_e2e::settings::extract(figment)?;
    let pool = pm_api::startup::connect(&settings)?;
    let state = pm_api::startup::build_state(&settings, pool.clone())?;
    let admin = state
        .accounts
        .bootstrap("bench", "admin@bench.example")
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap: {e}"))?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let server = InProcessServer::start(state.clone(), workers)?;
    // The job workers, as `pmhub serve` runs them (their own pool), sharing the GitHub client.
    let job_workers = pm_api::jobs::start_sharing(&settings, Some(state.github.clone()))?;
    let api = Api::new(&server.base_url)?.with_token(admin.token.expose_secret());
    println!(
        "  pmhub     {} ({workers} workers, pool of {} connections)",
        server.base_url, settings.database.max_connections
    );
    let github_api = Api::new(&github.base_url)?.with_token(GH_TOKEN);
    let bench = Bench {
        fake,
        github,
        pool,
        api,
        github_api,
        server,
        timeline,
    };

    bench
        .api
        .post("/api/v1/integrations/github", &json!({ "token": GH_TOKEN }))
        .await?
        .expect_status(201)?;
    let project = bench
        .api
        .post("/api/v1/projects", &json!({ "name": "Benchmark" }))
        .await?
        .expect_status(201)?;
    let slug = project.body["slug"].as_str().context("slug")?.to_string();
    let sync_path = format!("/api/v1/projects/{slug}/github/sync");
    let body = json!({ "repo": REPO });
    let rss_before = rss_kib().unwrap_or(0);

    // The direct path: the importer in-process, as the request ran it before imports were jobs.
    let actor = pm_kernel::Actor {
        user_id: admin.admin.id,
        workspace_id: admin.workspace.id,
        role: pm_kernel::Role::Admin,
    };
    let direct_import =
        async |name: &str, repo: &str| -> anyhow::Result<(Duration, u64, u32, String)> {
            let project = bench
                .api
                .post("/api/v1/projects", &json!({ "name": name }))
                .await?
                .expect_status(201)?;
            let slug = pm_projects::Slug::parse(project.body["slug"].as_str().context("slug")?)?;
            let lists_before = list_requests(&bench.fake.stats());
            let started = Instant::now();
            let report = state
                .importer
                .run(&actor, &slug, Some(RepoFullName::parse(repo)?))
                .await?;
            let elapsed = started.elapsed();
            let phases = bench.timeline.phases(started, Instant::now()).direct_line();
            Ok((
                elapsed,
                list_requests(&bench.fake.stats()) - lists_before,
                report.counts.created,
                phases,
            ))
        };
    let rounds = args.rounds.max(1);
    println!(
        "\nImport, direct path vs job path ({} issues, {pages} pages each), {rounds} rounds of direct, job, job, direct",
        args.issues
    );
    println!(
        "  direct: IssueImporter::run in-process, as the request ran it before imports were jobs"
    );
    println!(
        "  job:    POST …/github/sync → 202, a job worker runs it; the POST's latency plus the run's finished_at − started_at"
    );
    let job_import = async |round: usize, which: &str| -> anyhow::Result<Measured> {
        if round == 1 && which == "job-a" {
            // The project the re-sync below uses.
            return bench.measure_job(&sync_path, &body).await;
        }
        let project = bench
            .api
            .post(
                "/api/v1/projects",
                &json!({ "name": format!("Benchmark {round} {which}") }),
            )
            .await?
            .expect_status(201)?;
        let path = format!(
            "/api/v1/projects/{}/github/sync",
            project.body["slug"].as_str().context("slug")?
        );
        bench
            .measure_job(&path, &json!({ "repo": format!("{REPO}-{round}-{which}") }))
            .await
    };
    let mut direct_total = Duration::ZERO;
    let mut job_total = Duration::ZERO;
    let mut direct_lists = pages;
    let mut round_shares = Vec::new();
    let mut first_job: Option<Measured> = None;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for round in 1..=rounds {
        let (d1, lists_1, _, phases_1) = direct_import(
            &format!("Benchmark {round} direct-a"),
            &format!("{REPO}-{round}-direct-a"),
        )
        .await?;
        let j1 = job_import(round, "job-a").await?;
        let j2 = job_import(round, "job-b").await?;
        let (d2, lists_2, _, phases_2) = direct_import(
            &format!("Benchmark {round} direct-b"),
            &format!("{REPO}-{round}-direct-b"),
        )
        .await?;
        if lists_1 != pages || lists_2 != pages {
            direct_lists = lists_1.max(lists_2);
        }
        let share = (d1 + d2).as_secs_f64() / (j1.elapsed + j2.elapsed).as_secs_f64();
        println!(
            "  round {round}: direct {:.0} ms, job {:.0} ms, job {:.0} ms, direct {:.0} ms: job at {:.1} % of direct",
            ms(d1),
            ms(j1.elapsed),
            ms(j2.elapsed),
            ms(d2),
            share * 100.0
        );
        println!("    direct: {phases_1}");
        for run in [&j1, &j2] {
            println!("    job:    {}", run.phases.as_deref().unwrap_or("?"));
        }
        println!("    direct: {phases_2}");
        direct_total += d1 + d2;
        job_total += j1.elapsed + j2.elapsed;
        round_shares.push(share);
        if first_job.is_none() {
            first_job = Some(j1);
        }
    }
    let import = first_job.context("at least one round")?;
    let created = count(&import.reply.body, "created");
    let issues_per_sec = args.issues as f64 / import.elapsed.as_secs_f64();
    let runs = 2.0 * rounds as f64;
    let direct_per_sec = args.issues as f64 * runs / direct_total.as_secs_f64();
    let job_per_sec = args.issues as f64 * runs / job_total.as_secs_f64();
    let job_share = job_per_sec / direct_per_sec;
    round_shares.sort_by(f64::total_cmp);
    println!(
        "  all rounds: job {job_per_sec:.0} issues/s, direct {direct_per_sec:.0} issues/s: the job path runs at {:.1} % of the direct path's rate (rounds {})",
        job_share * 100.0,
        round_shares
            .iter()
            .map(|s| format!("{:.1} %", s * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("\nImport, job path, round 1's first run — POST {sync_path} → 202");
    println!(
        "  {:.0} issues/s: {} ms for {} tasks created",
        issues_per_sec,
        import.elapsed.as_millis(),
        created
    );
    println!(
        "  GitHub requests: {} ({} issue-list requests, {} charged to the rate limit)",
        import.github_requests, import.list_requests, import.charged
    );
    println!(
        "  SQL statements: {} in all, {:.1} per page",
        import.statements,
        import.statements as f64 / pages as f64
    );

    println!(
        "\nPOST {sync_path} → 202 while another import of {} issues runs",
        args.issues
    );
    let latencies = bench.latencies_while_importing(REPO_BUSY).await?;
    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    println!(
        "  {} requests: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );

    println!("\nRe-sync, nothing changed on GitHub — POST {sync_path} (Prefer: wait=60)");
    let resync = ensure_ok(bench.measure(&sync_path, &body).await?)?;
    let resync_created = count(&resync.reply.body, "created");
    println!(
        "  created {}, skipped {} in {} ms",
        resync_created,
        count(&resync.reply.body, "skipped"),
        resync.elapsed.as_millis()
    );
    println!(
        "  GitHub requests: {} ({} issue-list requests, {} charged to the rate limit: the rest were 304s)",
        resync.github_requests, resync.list_requests, resync.charged
    );
    println!(
        "  SQL statements: {} in all, {:.1} per page",
        resync.statements,
        resync.statements as f64 / pages as f64
    );

    let peak = peak_rss_kib().unwrap_or(0);
    println!(
        "\nPeak memory (VmHWM, whole process: fake GitHub + pmhub + client): {:.0} MiB (before the import: {:.0} MiB)",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );

    let breakdown = breakdown(&bench).await?;

    println!("\nTargets");
    let ok_speed = issues_per_sec >= TARGET_ISSUES_PER_SEC;
    let ok_share = job_share >= TARGET_JOB_SHARE;
    let ok_p99 = p99 < Duration::from_millis(100);
    verdict(
        ok_share,
        &format!(
            "job path ≥ {:.0} % of the direct path's rate (measured {:.1} %: {job_per_sec:.0} vs {direct_per_sec:.0} issues/s, {} runs each)",
            TARGET_JOB_SHARE * 100.0,
            job_share * 100.0,
            2 * rounds,
        ),
    );
    verdict(
        ok_p99,
        &format!(
            "p99 of POST …/sync → 202 while an import runs < 100 ms (measured {:.1} ms)",
            p99.as_secs_f64() * 1e3
        ),
    );
    let ok_requests = import.list_requests == pages;
    let ok_created = created == args.issues;
    let ok_resync = resync_created == 0;
    verdict(
        ok_speed,
        &format!("≥ {TARGET_ISSUES_PER_SEC:.0} issues/s (measured {issues_per_sec:.0})"),
    );
    verdict(
        ok_requests,
        &format!(
            "exactly {pages} list requests (measured {})",
            import.list_requests
        ),
    );
    verdict(
        ok_created,
        &format!("{} tasks created (measured {created})", args.issues),
    );
    verdict(
        ok_resync,
        &format!("no-change re-sync creates nothing (measured {resync_created})"),
    );
    // Measured apart, so the parts need not add up exactly to the import's wall time.
    println!(
        "  where the import's time goes: fetch+parse {} ms, store {} ms, the rest {} ms (of {} ms)",
        breakdown.fetch.as_millis(),
        breakdown.store.as_millis(),
        import
            .elapsed
            .saturating_sub(breakdown.fetch + breakdown.store)
            .as_millis(),
        import.elapsed.as_millis()
    );
    job_workers.shutdown().await;
    bench.server.stop().await;
    Ok(ok_requests && ok_created && ok_resync && ok_share && direct_lists == pages)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ensure_ok(m: Measured) -> anyhow::Result<Measured> {
    if m.reply.status != 200 {
        bail!("sync answered {}: {}", m.reply.status, m.reply.body);
    }
    Ok(m)
}

fn count(body: &Value, key: &str) -> u64 {
    body[key].as_u64().unwrap_or_default()
}

fn verdict(ok: bool, what: &str) {
    println!("  [{}] {what}", if ok { "met" } else { "MISSED" });
}

/// Where the import's time goes, measured apart from the HTTP request: the same pages fetched
/// and parsed by pmhub's GitHub client alone (a fresh client, so no ETag cache), then stored
/// page by page into a second project by pmhub's PostgreSQL store alone.
struct Breakdown {
    fetch: Duration,
    store: Duration,
}

async fn breakdown(bench: &Bench) -> anyhow::Result<Breakdown> {
    println!("\nBreakdown (the same work, one layer at a time)");
    let client = pm_github::GithubClient::new(pm_github::GithubConfig::new(url::Url::parse(
        &bench.github.base_url,
    )?))?;
    let token = SecretString::from(GH_TOKEN.to_string());
    let repo = RepoFullName::parse(REPO).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut fetched: Vec<IssuePage> = Vec::new();
    let mut request = IssuePageRequest::First { repo: repo.clone() };
    let started = Instant::now();
    loop {
        let page = client
            .list_issues(&token, &request)
            .await
            .map_err(|e| anyhow::anyhow!("listing issues: {e}"))?;
        let next = page.next.clone();
        fetched.push(page);
        match next {
            Some(url) => request = IssuePageRequest::Next { url },
            None => break,
        }
    }
    let fetch = started.elapsed();
    println!(
        "  GitHub client alone: {} pages fetched and parsed in {} ms ({:.1} ms/page)",
        fetched.len(),
        fetch.as_millis(),
        fetch.as_secs_f64() * 1000.0 / fetched.len().max(1) as f64
    );

    let other = bench
        .api
        .post(
            "/api/v1/projects",
            &json!({ "name": "Benchmark store only" }),
        )
        .await?
        .expect_status(201)?;
    let project_id = ProjectId::from_uuid(
        other.body["id"]
            .as_str()
            .context("project id")?
            .parse()
            .context("project id is a UUID")?,
    );
    let store = PgSyncStore::new(bench.pool.clone());
    let run_id = store
        .start_run(project_id, SyncKind::Import, REPO)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let host = client.host();
    let statements = bench.pool.statements_executed();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for page in &fetched {
        let imports: Vec<_> = page
            .issues
            .iter()
            .map(|issue| issue_import(&host, &repo, issue))
            .collect();
        let extra = SyncCounts {
            pull_requests_ignored: page.pull_requests_skipped,
            total_seen: page.issues.len() as u32 + page.pull_requests_skipped,
            ..SyncCounts::default()
        };
        let page_started = Instant::now();
        store
            .import_page(project_id, run_id, &imports, extra)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        slowest = slowest.max(page_started.elapsed());
    }
    let stored = started.elapsed();
    let statements = bench.pool.statements_executed() - statements;
    println!(
        "  PostgreSQL store alone: {} pages stored in {} ms ({:.1} ms/page, slowest {:.1} ms; {:.1} statements/page)",
        fetched.len(),
        stored.as_millis(),
        stored.as_secs_f64() * 1000.0 / fetched.len().max(1) as f64,
        slowest.as_secs_f64() * 1000.0,
        statements as f64 / fetched.len().max(1) as f64
    );
    Ok(Breakdown {
        fetch,
        store: stored,
    })
}

/// Timestamps of what happens inside one import, from the events pmhub and the fake GitHub
/// emit anyway (a `tracing` layer that records them; nothing is printed): the fake's
/// `api request` (debug) for each request it receives, `run queued` when `POST …/sync`
/// has enqueued, the runner's `job claimed` (debug), and `issue import finished` once
/// the run is recorded as finished. The phases are the gaps between them.
mod timeline {
    use std::fmt::Debug;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::{Duration, Instant};
    use tracing::field::{Field, Visit};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer};

    /// One recorded event.
    #[derive(Debug, Clone)]
    pub struct Mark {
        pub at: Instant,
        pub message: String,
        pub path: Option<String>,
    }

    /// The recorded events, shared with the layer.
    #[derive(Clone, Default)]
    pub struct Timeline(Arc<Mutex<Vec<Mark>>>);

    impl Timeline {
        /// Installs the recording layer as the global subscriber: the fake's debug
        /// events, the runner's debug events and pmhub's info events only.
        pub fn install() -> anyhow::Result<Self> {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            let timeline = Self::default();
            let targets = tracing_subscriber::filter::Targets::new()
                .with_target("pm_github_fake", tracing::Level::DEBUG)
                .with_target("pm_worker", tracing::Level::DEBUG)
                .with_target("pm_integrations", tracing::Level::INFO);
            tracing_subscriber::registry()
                .with(timeline.clone().with_filter(targets))
                .try_init()?;
            Ok(timeline)
        }

        /// Whether an event with `message` was recorded at or after `from`.
        pub fn seen_since(&self, message: &str, from: Instant) -> bool {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .rev()
                .take_while(|m| m.at >= from)
                .any(|m| m.message == message)
        }

        fn between(&self, from: Instant, to: Instant) -> Vec<Mark> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|m| m.at >= from && m.at <= to)
                .cloned()
                .collect()
        }

        /// The phases of the import that ran between `from` and `to` (imports are
        /// measured one at a time, so the window holds one import's events).
        pub fn phases(&self, from: Instant, to: Instant) -> Phases {
            let marks = self.between(from, to);
            let first = |pred: &dyn Fn(&Mark) -> bool| marks.iter().find(|m| pred(m)).map(|m| m.at);
            let last =
                |pred: &dyn Fn(&Mark) -> bool| marks.iter().rev().find(|m| pred(m)).map(|m| m.at);
            let is_list = |m: &Mark| {
                m.message == "api request"
                    && m.path.as_deref().is_some_and(|p| p.ends_with("/issues"))
            };
            let is_repo_check = |m: &Mark| {
                m.message == "api request"
                    && m.path
                        .as_deref()
                        .is_some_and(|p| p.starts_with("/repos/") && p.matches('/').count() == 3)
            };
            Phases {
                from,
                repo_check: first(&is_repo_check),
                queued: first(&|m| m.message == "run queued"),
                claimed: first(&|m| m.message == "job claimed"),
                first_list: first(&is_list),
                last_list: last(&is_list),
                finished: last(&|m| m.message == "issue import finished"),
            }
        }
    }

    /// When each step of one import happened (None: not seen).
    pub struct Phases {
        pub from: Instant,
        pub repo_check: Option<Instant>,
        pub queued: Option<Instant>,
        pub claimed: Option<Instant>,
        pub first_list: Option<Instant>,
        pub last_list: Option<Instant>,
        pub finished: Option<Instant>,
    }

    fn gap(a: Option<Instant>, b: Option<Instant>) -> String {
        match (a, b) {
            (Some(a), Some(b)) => format!("{:.1}", ms(b.saturating_duration_since(a))),
            _ => "?".into(),
        }
    }

    pub fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    impl Phases {
        /// The direct path: start → first list request → last list request → finished.
        pub fn direct_line(&self) -> String {
            format!(
                "start→first list {} ms | pages (first→last list request) {} ms | last list→finished {} ms",
                gap(Some(self.from), self.first_list),
                gap(self.first_list, self.last_list),
                gap(self.last_list, self.finished),
            )
        }

        /// The job path: POST → repository check → queued → 202 → claimed → first list
        /// request → last list request → finished.
        pub fn job_line(&self, accepted: Instant) -> String {
            format!(
                "POST→repo check {} ms, →queued {} ms, →202 {} ms | 202→claimed {} ms | claimed→first list {} ms | pages {} ms | last list→finished {} ms",
                gap(Some(self.from), self.repo_check),
                gap(self.repo_check, self.queued),
                gap(self.queued, Some(accepted)),
                gap(Some(accepted), self.claimed),
                gap(self.claimed, self.first_list),
                gap(self.first_list, self.last_list),
                gap(self.last_list, self.finished),
            )
        }
    }

    #[derive(Default)]
    struct Fields {
        message: String,
        path: Option<String>,
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "message" => self.message = value.to_string(),
                "path" => self.path = Some(value.to_string()),
                _ => {}
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            match field.name() {
                "message" => self.message = format!("{value:?}"),
                "path" => self.path = Some(format!("{value:?}")),
                _ => {}
            }
        }
    }

    impl<S: Subscriber> Layer<S> for Timeline {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let at = Instant::now();
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Mark {
                    at,
                    message: fields.message,
                    path: fields.path,
                });
        }
    }
}
