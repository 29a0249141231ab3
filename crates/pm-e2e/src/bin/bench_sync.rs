//! `pmhub-bench-sync` (`make bench-sync`): two-way sync through the real pmhub.
//!
//! pmhub's routes serve in-process (`build_state` + `InProcessServer`, as `pmhub-bench`) and
//! its job workers run as `pmhub serve` starts them (`pm_api::jobs::start_sharing`, their own
//! pool, sharing the GitHub client); the real GitHub adapter talks to the in-memory fake over
//! loopback HTTP, and the fake sends signed deliveries to pmhub's webhook endpoint (a hook on
//! each repository, with pmhub's `github.webhook_secret`). A fresh database, dropped at the end.
//!
//! 1. **GitHub change → task updated**: `--changes` single changes on the fake, one at a time
//!    (retitle, or close an open issue), each timed from the change until the task shows it
//!    (polled in the database every millisecond); p50/p99/max, and the GitHub requests each
//!    change cost (the fake's counters; a request the rate limit did not charge was a `304`).
//! 2. **pmhub edit → issue updated**: `--edits` task retitles through the API, each timed until
//!    the fake's issue shows it; p50/p99/max, PATCHes per edit (exactly one expected) and what
//!    the echo delivery cost. PATCHes are paced by `github.push_interval_ms` (pmhub's default
//!    unless `--push-interval-ms`).
//! 3. **Reconcile of an unchanged repository** of `--reconcile-issues` issues (a `two_way`
//!    project): the import, a first reconcile (sets the watermark), then reconciles with
//!    nothing changed: GitHub requests (and which were answered `304`), rows written
//!    (`pg_stat_user_tables` `n_tup_ins + n_tup_upd + n_tup_del` of every table but `jobs`,
//!    which the queue itself writes), sync runs, time.

#![allow(
    clippy::indexing_slicing,
    reason = "JSON answers are serde_json::Value, whose indexing yields Null and never panics"
)]
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "a measuring program: counts of issues and samples are far below every limit"
)]

use anyhow::{Context, bail, ensure};
use clap::Parser;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_e2e::api::Api;
use pm_e2e::db::{ScratchDatabase, redact};
use pm_e2e::server::InProcessServer;
use pm_e2e::system::Machine;
use pm_github_fake::{FakeGithub, GenerateIssues, IssueEdit, IssueState, NewHook, StateReason};
use pm_integrations::two_way::reconcile_job;
use pm_jobs::{JobQueue, JobStatus};
use pm_kernel::{ProjectId, WorkspaceId};
use pm_postgres::PgJobQueue;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const GH_TOKEN: &str = "ghp_benchSync0123456789abcdefABCDE";
const ORG: &str = pm_e2e::DEFAULT_ORG;
const REPO: &str = "auditmos-projects/bench-two-way";
const REPO_BIG: &str = "auditmos-projects/bench-reconcile";
const SECRET: &str = "bench-sync-webhook-secret";
/// How long to wait before reading `pg_stat_user_tables`: a backend reports its counts when
/// it goes idle, at most once a second, and an idle one within 10 s (PostgreSQL 15).
const STATS_SETTLE: Duration = Duration::from_secs(11);

#[derive(Debug, Parser)]
#[command(
    name = "pmhub-bench-sync",
    about = "Two-way sync through the real pmhub and the in-memory GitHub (make bench-sync)"
)]
struct Args {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Issues of the repository the changes and edits go to (each change and each edit
    /// touches another issue, round-robin).
    #[arg(long, default_value_t = 200)]
    issues: u64,
    /// GitHub changes (phase 1).
    #[arg(long, default_value_t = 200)]
    changes: usize,
    /// pmhub task edits (phase 2).
    #[arg(long, default_value_t = 100)]
    edits: usize,
    /// `github.push_interval_ms` (the pacing of PATCHes); pmhub's default when absent.
    #[arg(long)]
    push_interval_ms: Option<u64>,
    /// Issues of the repository reconciled unchanged (phase 3; pages of 100).
    #[arg(long, default_value_t = 10_000)]
    reconcile_issues: u64,
    /// Reconciles with nothing changed after the first (phase 3).
    #[arg(long, default_value_t = 2)]
    idle_reconciles: usize,
    /// pmhub's HTTP workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    pm_e2e::install_tls_provider();
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("\npmhub-bench-sync: a target was missed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("pmhub-bench-sync failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<bool> {
    ensure!(
        args.issues > 0 && args.reconcile_issues > 0,
        "positive numbers, please"
    );
    println!("pmhub two-way sync benchmark");
    println!("  machine    {}", Machine::detect());
    println!("  load       {} (/proc/loadavg at the start)", loadavg());
    let db = ScratchDatabase::create(&args.database_url, "pmhub_bench_sync").await?;
    println!(
        "  database   {} (fresh; dropped at the end)",
        redact(&db.url)
    );
    let outcome = bench(args, &db).await;
    println!("\n  load       {} (/proc/loadavg at the end)", loadavg());
    db.drop_now().await?;
    outcome
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

#[derive(QueryableByName)]
struct TaskRow {
    #[diesel(sql_type = BigInt)]
    number: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    etag: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct TableWrites {
    #[diesel(sql_type = Text)]
    relname: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Watermark {
    #[diesel(sql_type = Nullable<Text>)]
    watermark: Option<String>,
}

/// The world under test.
struct Bench {
    fake: FakeGithub,
    api: Api,
    /// The fake's API as alice, for `GET /rate_limit` (free, like GitHub's).
    github_api: Api,
    conn: AsyncPgConnection,
    queue: PgJobQueue,
    workspace_id: WorkspaceId,
}

/// GitHub requests over a span: per route, and how many the rate limit charged.
#[derive(Debug, Default, Clone)]
struct Requests {
    by_route: BTreeMap<String, u64>,
    charged: u64,
}

impl Requests {
    fn total(&self) -> u64 {
        self.by_route.values().sum()
    }

    fn route(&self, method_and_suffix: (&str, &str)) -> u64 {
        let (method, suffix) = method_and_suffix;
        self.by_route
            .iter()
            .filter(|(r, _)| r.starts_with(method) && r.ends_with(suffix))
            .map(|(_, n)| n)
            .sum()
    }

    fn add(&mut self, other: &Requests) {
        for (route, n) in &other.by_route {
            *self.by_route.entry(route.clone()).or_default() += n;
        }
        self.charged += other.charged;
    }

    fn describe(&self) -> String {
        let routes: Vec<String> = self
            .by_route
            .iter()
            .map(|(r, n)| format!("{n} × {r}"))
            .collect();
        format!(
            "{} ({} charged to the rate limit, i.e. {} answered 304)",
            if routes.is_empty() {
                "none".to_string()
            } else {
                routes.join(", ")
            },
            self.charged,
            self.total().saturating_sub(self.charged)
        )
    }
}

/// A span's start: the fake's counters and the rate limit's `used`.
struct Mark {
    by_route: BTreeMap<String, u64>,
    used: u64,
}

impl Bench {
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

    async fn mark(&self) -> anyhow::Result<Mark> {
        let used = self.rate_limit_used().await?;
        Ok(Mark {
            by_route: self.fake.stats().by_route,
            used,
        })
    }

    async fn since(&self, mark: &Mark) -> anyhow::Result<Requests> {
        let by_route: BTreeMap<String, u64> = self
            .fake
            .stats()
            .by_route
            .into_iter()
            .filter_map(|(route, n)| {
                let d = n - mark.by_route.get(&route).copied().unwrap_or(0);
                (d > 0).then_some((route, d))
            })
            .collect();
        let used = self.rate_limit_used().await?;
        Ok(Requests {
            by_route,
            charged: used.saturating_sub(mark.used),
        })
    }

    /// The task linked to issue `number` of the project.
    async fn task(&mut self, project: &str, number: u64) -> anyhow::Result<TaskRow> {
        diesel::sql_query(
            "SELECT t.number, t.title, t.status, l.etag FROM tasks t \
             JOIN external_links l ON l.task_id = t.id \
             WHERE l.project_id = $1::uuid AND l.issue_number = $2",
        )
        .bind::<Text, _>(project)
        .bind::<BigInt, _>(i64::try_from(number)?)
        .get_result(&mut self.conn)
        .await
        .with_context(|| format!("the task of issue #{number}"))
    }

    /// Waits until the fake has sent every delivery and no delivery or merge job is pending.
    async fn settle(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let sent = self.fake.wait_for_deliveries(Duration::from_secs(30)).await;
            ensure!(sent, "the fake's deliveries did not go out");
            let pending: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running', 'waiting') \
                 AND kind IN ('github.delivery', 'github.merge')",
            )
            .get_result(&mut self.conn)
            .await?;
            if pending.n == 0 && self.fake.wait_for_deliveries(Duration::ZERO).await {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "jobs still pending after 60 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn table_writes(&mut self) -> anyhow::Result<BTreeMap<String, i64>> {
        let rows: Vec<TableWrites> = diesel::sql_query(
            "SELECT relname::text AS relname, (n_tup_ins + n_tup_upd + n_tup_del)::bigint AS n \
             FROM pg_stat_user_tables WHERE relname <> 'jobs'",
        )
        .load(&mut self.conn)
        .await?;
        Ok(rows.into_iter().map(|r| (r.relname, r.n)).collect())
    }

    async fn count(&mut self, sql: &str) -> anyhow::Result<i64> {
        let c: Count = diesel::sql_query(sql).get_result(&mut self.conn).await?;
        Ok(c.n)
    }

    /// Enqueues the project's reconcile and waits until a job worker finished it.
    async fn reconcile(&self, project_id: ProjectId) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let enqueued = self
            .queue
            .enqueue(reconcile_job(project_id, self.workspace_id))
            .await?;
        ensure!(!enqueued.joined, "a reconcile was already queued");
        let id = enqueued.job.id;
        loop {
            let job = self.queue.get(id).await?.context("the reconcile job")?;
            match job.status {
                JobStatus::Succeeded => return Ok(started.elapsed()),
                JobStatus::Failed | JobStatus::Canceled => bail!("the reconcile ended {job:?}"),
                _ => {}
            }
            ensure!(
                started.elapsed() < Duration::from_secs(300),
                "reconcile still running after 300 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn watermark(&mut self, project_id: &str) -> anyhow::Result<Option<String>> {
        let rows: Vec<Watermark> = diesel::sql_query(
            "SELECT watermark::text AS watermark FROM github_reconcile_state WHERE project_id = $1::uuid",
        )
        .bind::<Text, _>(project_id)
        .load(&mut self.conn)
        .await?;
        Ok(rows.into_iter().next().and_then(|w| w.watermark))
    }

    /// A project linked to `repo` (two_way, pmhub's default for a new link), imported.
    async fn linked_project(&self, name: &str, repo: &str, issues: u64) -> anyhow::Result<Value> {
        let project = self
            .api
            .post("/api/v1/projects", &json!({ "name": name }))
            .await?
            .expect_status(201)?;
        let slug = project.body["slug"].as_str().context("slug")?;
        self.api
            .put(
                &format!("/api/v1/projects/{slug}/github-repo"),
                &json!({ "full_name": repo }),
            )
            .await?
            .expect_status(200)?;
        let settings = self
            .api
            .get(&format!("/api/v1/projects/{slug}/github/settings"))
            .await?
            .expect_status(200)?;
        ensure!(
            settings.body["direction"] == "two_way",
            "not two_way: {}",
            settings.body
        );
        let imported = self
            .api
            .send_with(
                Method::POST,
                &format!("/api/v1/projects/{slug}/github/sync"),
                Some(&json!({ "repo": repo })),
                &[("prefer", "wait=300")],
            )
            .await?
            .expect_status(200)?;
        ensure!(
            imported.body["created"].as_u64() == Some(issues),
            "import: {}",
            imported.body
        );
        Ok(project.body)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `p` quantile (0..=1) of sorted samples, by the nearest-rank method.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize)
        .max(1)
        .min(sorted.len());
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn latency_line(samples: &mut [Duration]) -> String {
    samples.sort();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (min {:.1} ms; {} samples)",
        ms(percentile(samples, 0.50)),
        ms(percentile(samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
        ms(<[Duration]>::first(samples).copied().unwrap_or_default()),
        samples.len()
    )
}

async fn bench(args: &Args, db: &ScratchDatabase) -> anyhow::Result<bool> {
    pm_postgres::run_migrations(&db.url).await?;
    if let Err(err) = db.admin_execute("CHECKPOINT").await {
        println!("  (no CHECKPOINT before measuring: {err})");
    }

    let fake = FakeGithub::new();
    fake.add_user(GH_TOKEN, "alice")?;
    fake.add_org(ORG)?;
    fake.add_org_member(ORG, "alice")?;
    for (repo, n) in [(REPO, args.issues), (REPO_BIG, args.reconcile_issues)] {
        let (owner, name) = repo.split_once('/').context("owner/name")?;
        fake.add_repo(owner, name, true)?;
        fake.add_issues(
            repo,
            &GenerateIssues::new(n)
                .closed_every(5)
                .not_planned_every(3)
                .labels(["bug", "enhancement", "documentation"]),
        )?;
    }
    let github = fake.clone().start("127.0.0.1:0").await?;

    // pmhub as `pmhub serve` runs it: the defaults but the webhook secret, and a reconcile
    // tick far away (the benchmark runs the reconciles it measures itself).
    let mut figment = pm_e2e::settings::figment(&db.url, &github.base_url, ORG)
        .merge(("server.workers", args.workers))
        .merge(("github.webhook_secret", SECRET))
        .merge(("github.reconcile_interval_secs", 86_400))
        .merge(("log.filter", "warn"));
    if let Some(ms) = args.push_interval_ms {
        figment = figment.merge(("github.push_interval_ms", ms));
    }
    let settings = pm_e2e::settings::extract(figment)?;
    let push_interval = settings.github.push_interval_ms;
    let pool = pm_api::startup::connect(&settings)?;
    let state = pm_api::startup::build_state(&settings, pool.clone())?;
    let admin = state
        .accounts
        .bootstrap("bench", "admin@bench.example")
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap: {e}"))?;
    let server = InProcessServer::start(state.clone(), args.workers)?;
    let job_workers = pm_api::jobs::start_sharing(&settings, Some(state.github.clone()))?;
    let hook_url = format!("{}/api/v1/webhooks/github", server.base_url);
    for repo in [REPO, REPO_BIG] {
        fake.add_hook(
            repo,
            NewHook::new(&hook_url, Some(SECRET)).events(["issues", "repository"]),
        )?;
    }
    println!(
        "  GitHub     in-memory fake at {}: {REPO} ({} issues), {REPO_BIG} ({} issues); hooks to {hook_url}",
        github.base_url, args.issues, args.reconcile_issues
    );
    println!(
        "  pmhub      {} ({} HTTP workers, pool of {}), job workers as `pmhub serve` ({} workers), \
         github.push_interval_ms = {push_interval}{}",
        server.base_url,
        args.workers,
        settings.database.max_connections,
        settings.jobs.workers,
        if args.push_interval_ms.is_some() {
            " (--push-interval-ms)"
        } else {
            " (pmhub's default)"
        }
    );

    let api = Api::new(&server.base_url)?.with_token(admin.token.expose_secret());
    api.post("/api/v1/integrations/github", &json!({ "token": GH_TOKEN }))
        .await?
        .expect_status(201)?;
    let mut bench = Bench {
        fake,
        api,
        github_api: Api::new(&github.base_url)?.with_token(GH_TOKEN),
        conn: AsyncPgConnection::establish(&db.url).await?,
        queue: PgJobQueue::new(pool.clone()),
        workspace_id: admin.workspace.id,
    };
    let mut ok = true;

    let project = bench
        .linked_project("Two-way bench", REPO, args.issues)
        .await?;
    let slug = project["slug"].as_str().context("slug")?.to_string();
    let project_id = project["id"].as_str().context("id")?.to_string();
    bench.settle().await?;

    ok &= github_changes(&mut bench, args, &project_id).await?;
    ok &= pmhub_edits(&mut bench, args, &slug, &project_id, push_interval).await?;
    ok &= idle_reconcile(&mut bench, args).await?;

    job_workers.shutdown().await;
    server.stop().await;
    drop(github);
    Ok(ok)
}

/// Phase 1: GitHub change → task updated.
async fn github_changes(bench: &mut Bench, args: &Args, project: &str) -> anyhow::Result<bool> {
    println!(
        "\n1. GitHub change → task updated ({} changes, one at a time, on {REPO})",
        args.changes
    );
    let mut latencies = Vec::new();
    let mut total = Requests::default();
    let mut odd = Vec::new();
    let mut conditional = 0;
    let (mut retitles, mut closes) = (0, 0);
    for i in 0..args.changes {
        let number = (i as u64 % args.issues) + 1;
        let before = bench.task(project, number).await?;
        conditional += usize::from(before.etag.is_some());
        let issue = bench
            .fake
            .issues_of(REPO)
            .context("repo")?
            .into_iter()
            .find(|x| x.number == number)
            .context("issue")?;
        let close = i % 2 == 1 && issue.state == IssueState::Open;
        let title = format!("Retitled on GitHub {i}");
        let mark = bench.mark().await?;
        let started = Instant::now();
        if close {
            bench
                .fake
                .close_issue(REPO, number, StateReason::Completed)?;
            closes += 1;
        } else {
            bench.fake.edit_issue(
                REPO,
                number,
                IssueEdit {
                    title: Some(title.clone()),
                    ..IssueEdit::default()
                },
            )?;
            retitles += 1;
        }
        loop {
            let task = bench.task(project, number).await?;
            if (close && task.status == "done") || (!close && task.title == title) {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "change {i} (issue #{number}) did not reach its task in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(started.elapsed());
        bench.settle().await?;
        let requests = bench.since(&mark).await?;
        if requests.total() != 1 || requests.route(("PATCH", "")) != 0 {
            odd.push(format!("change {i}: {}", requests.describe()));
        }
        total.add(&requests);
    }
    println!(
        "  changes     {retitles} retitles, {closes} closes; before each, {conditional} of {} links held an ETag (the GET is conditional)",
        args.changes
    );
    println!("  latency     {}", latency_line(&mut latencies));
    println!(
        "  requests    {:.2} per change: {}",
        total.total() as f64 / args.changes as f64,
        total.describe()
    );
    let patches = total.route(("PATCH", ""));
    let met = odd.is_empty() && patches == 0;
    println!(
        "  target      one GET per change, no PATCH: {}",
        if met { "met" } else { "MISSED" }
    );
    for line in odd.iter().take(10) {
        println!("    {line}");
    }
    Ok(met)
}

/// Phase 2: pmhub edit → issue updated.
async fn pmhub_edits(
    bench: &mut Bench,
    args: &Args,
    slug: &str,
    project: &str,
    push_interval: u64,
) -> anyhow::Result<bool> {
    println!(
        "\n2. pmhub edit → issue updated ({} task retitles through the API, one at a time; PATCHes paced every {push_interval} ms)",
        args.edits
    );
    let phase_start = time::OffsetDateTime::now_utc();
    let mut latencies = Vec::new();
    let mut total = Requests::default();
    let mut odd = Vec::new();
    for j in 0..args.edits {
        let number = (j as u64 % args.issues) + 1;
        let task = bench.task(project, number).await?;
        let title = format!("Edited in pmhub {j}");
        let since = time::OffsetDateTime::now_utc();
        let mark = bench.mark().await?;
        let started = Instant::now();
        bench
            .api
            .send(
                Method::PATCH,
                &format!("/api/v1/projects/{slug}/tasks/{}", task.number),
                Some(&json!({ "title": title })),
            )
            .await?
            .expect_status(200)?;
        loop {
            let shown = bench
                .fake
                .issues_of(REPO)
                .context("repo")?
                .iter()
                .any(|x| x.number == number && x.title == title);
            if shown {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "edit {j} (issue #{number}) did not reach GitHub in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(started.elapsed());
        // The echo (the fake's `edited` delivery) is processed before the next edit.
        bench.settle().await?;
        let requests = bench.since(&mark).await?;
        let patches = bench.fake.issue_patch_count(REPO, number, Some(since))?;
        if patches != 1 {
            odd.push(format!(
                "edit {j}: {patches} PATCHes; {}",
                requests.describe()
            ));
        }
        total.add(&requests);
    }
    // Anything late (a second PATCH from an echo) would land here.
    tokio::time::sleep(Duration::from_secs(2)).await;
    bench.settle().await?;
    let all = bench.fake.patch_counts(Some(phase_start));
    println!("  latency     {}", latency_line(&mut latencies));
    println!(
        "  PATCHes     {} for {} edits ({} issues patched, at most {} each), {} more within 2 s after the last",
        all.total,
        args.edits,
        all.issues.len(),
        all.issues.iter().map(|p| p.count).max().unwrap_or(0),
        all.total.saturating_sub(total.route(("PATCH", "")))
    );
    println!(
        "  requests    {:.2} per edit, the echo included: {}",
        total.total() as f64 / args.edits as f64,
        total.describe()
    );
    let met = odd.is_empty() && all.total == args.edits as u64;
    println!(
        "  target      exactly one PATCH per edit: {}",
        if met { "met" } else { "MISSED" }
    );
    for line in odd.iter().take(10) {
        println!("    {line}");
    }
    Ok(met)
}

/// Phase 3: reconcile of an unchanged repository.
async fn idle_reconcile(bench: &mut Bench, args: &Args) -> anyhow::Result<bool> {
    println!(
        "\n3. Reconcile of an unchanged {}-issue repository ({REPO_BIG}, two_way)",
        args.reconcile_issues
    );
    let started = Instant::now();
    let project = bench
        .linked_project("Reconcile bench", REPO_BIG, args.reconcile_issues)
        .await?;
    println!(
        "  import      {} issues in {:.2} s (POST …/github/sync, Prefer: wait)",
        args.reconcile_issues,
        started.elapsed().as_secs_f64()
    );
    let project_text = project["id"].as_str().context("id")?.to_string();
    let project_id: ProjectId = serde_json::from_value(project["id"].clone())?;
    bench.settle().await?;

    let runs_sql = format!(
        "SELECT count(*) AS n FROM sync_runs WHERE project_id = '{project_text}'::uuid AND kind = 'reconcile'"
    );
    let mark = bench.mark().await?;
    let took = bench.reconcile(project_id).await?;
    let requests = bench.since(&mark).await?;
    println!(
        "  first       {:.0} ms, {} list requests ({} charged), watermark {}, {} reconcile run(s)",
        ms(took),
        requests.route(("GET", "/issues")),
        requests.charged,
        bench
            .watermark(&project_text)
            .await?
            .unwrap_or_else(|| "none".into()),
        bench.count(&runs_sql).await?
    );

    let mut met = true;
    for k in 1..=args.idle_reconciles {
        tokio::time::sleep(STATS_SETTLE).await;
        let writes_before = bench.table_writes().await?;
        let runs_before = bench.count(&runs_sql).await?;
        let watermark_before = bench.watermark(&project_text).await?;
        let mark = bench.mark().await?;
        let took = bench.reconcile(project_id).await?;
        let requests = bench.since(&mark).await?;
        let runs_after = bench.count(&runs_sql).await?;
        let watermark_after = bench.watermark(&project_text).await?;
        tokio::time::sleep(STATS_SETTLE).await;
        let writes_after = bench.table_writes().await?;
        let written: Vec<String> = writes_after
            .iter()
            .filter_map(|(table, n)| {
                let d = n - writes_before.get(table).copied().unwrap_or(0);
                (d != 0).then(|| format!("{table} {d}"))
            })
            .collect();
        let rows: i64 = writes_after
            .iter()
            .map(|(t, n)| n - writes_before.get(t).copied().unwrap_or(0))
            .sum();
        let one_304 = requests.total() == 1 && requests.charged == 0;
        met &= one_304 && rows == 0;
        println!(
            "  idle #{k}     {:.1} ms; requests: {}; rows written {rows}{}; reconcile runs +{}; watermark {}",
            ms(took),
            requests.describe(),
            if written.is_empty() {
                String::new()
            } else {
                format!(" ({})", written.join(", "))
            },
            runs_after - runs_before,
            if watermark_before == watermark_after {
                "unchanged".to_string()
            } else {
                format!(
                    "{} → {}",
                    watermark_before.unwrap_or_else(|| "none".into()),
                    watermark_after.unwrap_or_else(|| "none".into())
                )
            }
        );
    }
    println!(
        "  (rows written: n_tup_ins + n_tup_upd + n_tup_del of pg_stat_user_tables, every table but `jobs`, read {} s after the reconcile)",
        STATS_SETTLE.as_secs()
    );
    println!(
        "  target      one request answered 304, no row written: {}",
        if met { "met" } else { "MISSED" }
    );
    Ok(met)
}
