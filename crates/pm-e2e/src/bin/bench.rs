//! `pmhub-bench` (`make bench`): the issue-import ("sync") benchmark.
//!
//! Imports 10,000 issues (100 pages of 100) from the in-memory GitHub into a fresh database,
//! then imports again with nothing changed, and reports:
//! * the import's throughput (issues/s, wall time of the `POST …/github/sync` request);
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
}

impl Bench {
    /// `POST path body`, with the GitHub requests and SQL statements it caused.
    async fn measure(&self, path: &str, body: &Value) -> anyhow::Result<Measured> {
        let used_before = self.rate_limit_used().await?;
        let before = self.fake.stats();
        let statements = self.pool.statements_executed();
        let started = Instant::now();
        let reply = self.api.post(path, body).await?;
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
        })
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
    prepare_database(args, db).await?;
    let (fake, github) = start_github(args).await?;
    let bench = start_pmhub(args, db, fake, github).await?;
    let slug = connect_and_create_project(&bench).await?;
    let sync_path = format!("/api/v1/projects/{slug}/github/sync");
    let body = json!({ "repo": REPO });
    let rss_before = rss_kib().unwrap_or(0);

    let (import, issues_per_sec, created) =
        measure_import(args, pages, &bench, &sync_path, &body).await?;
    let resync_created = measure_resync(pages, &bench, &sync_path, &body).await?;

    let peak = peak_rss_kib().unwrap_or(0);
    println!(
        "\nPeak memory (VmHWM, whole process: fake GitHub + pmhub + client): {:.0} MiB (before the import: {:.0} MiB)",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );

    let breakdown = breakdown(&bench).await?;
    let met = report_targets(
        args,
        pages,
        &import,
        issues_per_sec,
        created,
        resync_created,
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
    bench.server.stop().await;
    Ok(met)
}

/// Migrates the scratch database and sets it up for measuring.
async fn prepare_database(args: &Args, db: &ScratchDatabase) -> anyhow::Result<()> {
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
    Ok(())
}

/// The in-memory GitHub, seeded and started.
async fn start_github(args: &Args) -> anyhow::Result<(FakeGithub, Running)> {
    // GitHub: alice in the organization, one private repository of issues (no pull
    // requests, so every item becomes a task): every 5th closed, a third of those as
    // not planned; labels round-robin.
    let fake = FakeGithub::new();
    fake.add_user(GH_TOKEN, "alice")?;
    fake.add_org(ORG)?;
    fake.add_org_member(ORG, "alice")?;
    let (owner, name) = REPO.split_once('/').context("owner/name")?;
    fake.add_repo(owner, name, true)?;
    fake.add_issues(
        REPO,
        &GenerateIssues::new(args.issues)
            .closed_every(5)
            .not_planned_every(3)
            .labels(["bug", "enhancement", "documentation"]),
    )?;
    let github = fake.clone().start("127.0.0.1:0").await?;
    println!(
        "  GitHub    in-memory fake at {} with {REPO}: {} issues",
        github.base_url, args.issues
    );
    Ok((fake, github))
}

/// pmhub in-process on the scratch database, with a bootstrapped admin.
async fn start_pmhub(
    args: &Args,
    db: &ScratchDatabase,
    fake: FakeGithub,
    github: Running,
) -> anyhow::Result<Bench> {
    // pmhub: its real wiring and routes, served over HTTP.
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
    let server = InProcessServer::start(state, workers)?;
    let api = Api::new(&server.base_url)?.with_token(admin.token.expose_secret());
    println!(
        "  pmhub     {} ({workers} workers, pool of {} connections)",
        server.base_url, settings.database.max_connections
    );
    let github_api = Api::new(&github.base_url)?.with_token(GH_TOKEN);
    Ok(Bench {
        fake,
        github,
        pool,
        api,
        github_api,
        server,
    })
}

/// Connects GitHub and creates the project to import into; returns its slug.
async fn connect_and_create_project(bench: &Bench) -> anyhow::Result<String> {
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
    Ok(project.body["slug"].as_str().context("slug")?.to_string())
}

/// The first import: its figures, the issues per second and the tasks created.
async fn measure_import(
    args: &Args,
    pages: u64,
    bench: &Bench,
    sync_path: &str,
    body: &Value,
) -> anyhow::Result<(Measured, f64, u64)> {
    println!(
        "\nImport ({} issues, {pages} pages) — POST {sync_path}",
        args.issues
    );
    let import = bench.measure(sync_path, body).await?;
    let import = ensure_ok(import)?;
    let created = count(&import.reply.body, "created");
    let issues_per_sec = args.issues as f64 / import.elapsed.as_secs_f64();
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
    Ok((import, issues_per_sec, created))
}

/// The import again with nothing changed on GitHub; returns the tasks it created.
async fn measure_resync(
    pages: u64,
    bench: &Bench,
    sync_path: &str,
    body: &Value,
) -> anyhow::Result<u64> {
    println!("\nRe-sync, nothing changed on GitHub — POST {sync_path}");
    let resync = ensure_ok(bench.measure(sync_path, body).await?)?;
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
    Ok(resync_created)
}

/// Prints each target as met or missed; whether the ones that must hold do.
fn report_targets(
    args: &Args,
    pages: u64,
    import: &Measured,
    issues_per_sec: f64,
    created: u64,
    resync_created: u64,
) -> bool {
    println!("\nTargets");
    let ok_speed = issues_per_sec >= TARGET_ISSUES_PER_SEC;
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
    ok_requests && ok_created && ok_resync
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

/// Every page of `repo`'s issues, following the `next` links.
async fn fetch_all_pages(
    client: &pm_github::GithubClient,
    token: &SecretString,
    repo: &RepoFullName,
) -> anyhow::Result<Vec<IssuePage>> {
    let mut fetched: Vec<IssuePage> = Vec::new();
    let mut request = IssuePageRequest::First { repo: repo.clone() };
    loop {
        let page = client
            .list_issues(token, &request)
            .await
            .map_err(|e| anyhow::anyhow!("listing issues: {e}"))?;
        let next = page.next.clone();
        fetched.push(page);
        match next {
            Some(url) => request = IssuePageRequest::Next { url },
            None => return Ok(fetched),
        }
    }
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
    let started = Instant::now();
    let fetched = fetch_all_pages(&client, &token, &repo).await?;
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
            created: 0,
            skipped: 0,
            pull_requests_ignored: page.pull_requests_skipped,
            total_seen: u32::try_from(page.issues.len())? + page.pull_requests_skipped,
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
