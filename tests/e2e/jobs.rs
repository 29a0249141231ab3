//! Imports and pushes as durable jobs, through the real `pmhub serve` binary (one or two
//! processes on one database), the in-memory GitHub and PostgreSQL: answered at once,
//! resumed after `kill -9` and SIGTERM, parked by rate limits, one run per project
//! across processes.
//!
//! These tests need the `pmhub` binary next to the test binary's folder
//! (`target/debug/pmhub`): `cargo nextest run --workspace` builds it; with `-p pm-e2e`
//! alone, run `cargo build -p pm-api --bin pmhub` first.

use crate::support::{GH_LOGIN, GH_TOKEN, ORG, REPO};
use pm_e2e::api::{Api, Reply};
use pm_e2e::process::{ChildProcess, free_loopback_port};
use pm_github_fake::{FakeGithub, FaultSettings, GenerateIssues, Running};
use pm_postgres::testing::TestDb;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pmhub_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target folder");
    let bin = dir.join("pmhub");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p pm-api --bin pmhub` first",
        bin.display()
    );
    bin
}

/// A database, a fake GitHub with `issues` items in [`REPO`], an admin, and any number of
/// `pmhub serve` processes on that database.
struct Fleet {
    fake: FakeGithub,
    github: Running,
    key: String,
    push_interval_ms: u64,
    admin_token: String,
    db: TestDb,
}

/// One `pmhub serve` process.
struct Server {
    process: ChildProcess,
    api: Api,
}

impl Fleet {
    async fn start(issues: u64, push_interval_ms: u64) -> Self {
        let fake = FakeGithub::new();
        fake.add_user(GH_TOKEN, GH_LOGIN).expect("user");
        fake.add_org(ORG).expect("org");
        fake.add_org_member(ORG, GH_LOGIN).expect("member");
        let (owner, name) = REPO.split_once('/').expect("owner/name");
        fake.add_repo(owner, name, true).expect("repo");
        if issues > 0 {
            fake.add_issues(REPO, &GenerateIssues::new(issues))
                .expect("issues");
        }
        let github = fake.clone().start("127.0.0.1:0").await.expect("fake");
        let db = TestDb::new().await;
        let admin = pm_api::startup::account_service(&db.db)
            .bootstrap("jobs", "admin@jobs.example")
            .await
            .expect("bootstrap");
        Self {
            fake,
            github,
            key: pm_crypto::Keyring::generate_encoded_key(),
            push_interval_ms,
            admin_token: admin.token.expose_secret().to_string(),
            db,
        }
    }

    /// Starts `pmhub serve` (short job lease and poll, so take-overs are quick) and waits
    /// until it is ready.
    async fn serve(&self) -> Server {
        let port = free_loopback_port().expect("port");
        let process = ChildProcess::spawn(
            "pmhub serve",
            Command::new(pmhub_binary())
                .arg("serve")
                .env("DATABASE_URL", &self.db.url)
                .env("PMHUB__SERVER__BIND", format!("127.0.0.1:{port}"))
                .env("PMHUB__SERVER__WORKERS", "2")
                .env("PMHUB__SERVER__SHUTDOWN_TIMEOUT_SECS", "10")
                .env("PMHUB__GITHUB__API_URL", &self.github.base_url)
                .env(
                    "PMHUB__GITHUB__PUSH_INTERVAL_MS",
                    self.push_interval_ms.to_string(),
                )
                .env("PMHUB__JOBS__LEASE_SECS", "4")
                .env("PMHUB__JOBS__HEARTBEAT_SECS", "1")
                .env("PMHUB__JOBS__POLL_INTERVAL_MS", "100")
                .env("GITHUB_ORG", ORG)
                .env("PMHUB_ENCRYPTION_KEY", &self.key)
                .env("RUST_LOG", "warn")
                .env_remove("GITHUB_TOKEN")
                .stdin(Stdio::null())
                .stderr(Stdio::inherit()),
        )
        .expect("pmhub serve");
        let api = Api::new(format!("http://127.0.0.1:{port}"))
            .expect("client")
            .with_token(&self.admin_token);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !api.get("/readyz").await.is_ok_and(|r| r.status == 200) {
            assert!(Instant::now() < deadline, "pmhub was not ready in 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { process, api }
    }

    fn issue_list_requests(&self) -> u64 {
        self.fake
            .stats()
            .by_route
            .iter()
            .filter(|(route, _)| route.starts_with("GET ") && route.ends_with("/issues"))
            .map(|(_, n)| n)
            .sum()
    }
}

impl Server {
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.process.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits until the process has exited (after SIGTERM).
    async fn exited(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.process.exited().is_none() {
            assert!(Instant::now() < deadline, "pmhub did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn connect_and_project(api: &Api) -> String {
    let connected = api
        .post("/api/v1/integrations/github", &json!({ "token": GH_TOKEN }))
        .await
        .expect("connect");
    assert_eq!(connected.status, 201, "{}", connected.body);
    let project = api
        .post(
            "/api/v1/projects",
            &json!({ "name": "Jobs", "description": "e2e" }),
        )
        .await
        .expect("project");
    assert_eq!(project.status, 201, "{}", project.body);
    project.body["slug"].as_str().expect("slug").to_string()
}

fn sync_path(slug: &str) -> String {
    format!("/api/v1/projects/{slug}/github/sync")
}

async fn start_sync(api: &Api, slug: &str) -> Reply {
    api.post(&sync_path(slug), &json!({ "repo": REPO }))
        .await
        .expect("sync")
}

async fn run_at(api: &Api, location: &str) -> Value {
    let run = api.get(location).await.expect("run");
    assert_eq!(run.status, 200, "{}", run.body);
    run.body
}

/// Polls until `done(run)` holds.
async fn until(
    api: &Api,
    location: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(run) = api.get(location).await
            && run.status == 200
            && done(&run.body)
        {
            return run.body;
        }
        assert!(Instant::now() < deadline, "gave up waiting at {location}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished(run: &Value) -> bool {
    ["succeeded", "failed", "canceled"].contains(&run["status"].as_str().unwrap_or(""))
}

async fn task_count(api: &Api, slug: &str) -> usize {
    api.tasks(slug).await.expect("tasks").len()
}

const TEN_THOUSAND: u64 = 10_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_answers_202_at_once_while_a_10000_issue_import_runs_and_counts_grow() {
    let fleet = Fleet::start(TEN_THOUSAND, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;

    let started = start_sync(&server.api, &slug).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    assert_eq!(
        location,
        format!(
            "/api/v1/projects/{slug}/github/sync-runs/{}",
            started.body["id"].as_str().unwrap()
        )
    );
    // While it runs, another sync answers 202 with the same run, well under 100 ms.
    let running = until(&server.api, &location, Duration::from_secs(60), |r| {
        r["status"] == "running" && r["progress"]["pages"].as_u64() >= Some(1)
    })
    .await;
    let mut latencies = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let again = start_sync(&server.api, &slug).await;
        latencies.push(t.elapsed());
        assert_eq!(again.status, 202, "{}", again.body);
        assert_eq!(again.body["id"], started.body["id"]);
    }
    latencies.sort();
    // A debug build on a busy 2-core machine has outliers: the median must be well under
    // 100 ms and none slow (the release figures, p99 included, are `make bench`'s).
    assert!(
        latencies[5] < Duration::from_millis(100),
        "median 202: {latencies:?}"
    );
    assert!(
        latencies[10] < Duration::from_secs(1),
        "slowest 202: {latencies:?}"
    );
    let later = until(&server.api, &location, Duration::from_secs(120), |r| {
        r["created"].as_u64() > running["created"].as_u64() || finished(r)
    })
    .await;
    assert!(
        later["created"].as_u64() > running["created"].as_u64(),
        "counts grow: {running} → {later}"
    );
    let done = until(&server.api, &location, Duration::from_secs(300), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["created"].as_u64(), Some(TEN_THOUSAND));
    assert_eq!(done["progress"]["pages"], 100);
    assert_eq!(fleet.issue_list_requests(), 100);

    // `Prefer: wait=60`: the one-call flow answers 200 with the counts.
    let waited = server
        .api
        .send_with(
            Method::POST,
            &sync_path(&slug),
            Some(&json!({ "repo": REPO })),
            &[("prefer", "wait=60")],
        )
        .await
        .expect("sync");
    assert_eq!(waited.status, 200, "{}", waited.body);
    assert_eq!(waited.header("preference-applied"), Some("wait=60"));
    assert_eq!(waited.body["created"], 0);
    assert_eq!(waited.body["skipped"].as_u64(), Some(TEN_THOUSAND));
    assert_ne!(waited.body["sync_run_id"], started.body["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_import_then_restart_resumes_the_same_run_from_its_checkpoint() {
    let fleet = Fleet::start(TEN_THOUSAND, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    let started = start_sync(&server.api, &slug).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    until(&server.api, &location, Duration::from_secs(120), |r| {
        r["progress"]["pages"].as_u64() >= Some(10)
    })
    .await;
    server.signal("-KILL");
    drop(server);
    let listed_before_restart = fleet.issue_list_requests();

    let server = fleet.serve().await;
    let done = until(&server.api, &location, Duration::from_secs(300), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["id"], started.body["id"], "the same run");
    assert!(done["attempts"].as_u64() >= Some(2), "{done}");
    assert_eq!(task_count(&server.api, &slug).await, TEN_THOUSAND as usize);
    let after = fleet.issue_list_requests() - listed_before_restart;
    assert!(after < 100, "listed {after} pages after the restart");
    let runs = server.api.sync_runs(&slug).await.expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_parks_the_run_waiting_then_it_finishes_by_itself() {
    let fleet = Fleet::start(250, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    fleet.fake.set_faults(FaultSettings {
        primary_limit_after: Some(2),
        primary_reset_secs: Some(3),
        ..FaultSettings::default()
    });
    let started = start_sync(&server.api, &slug).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    let waiting = until(&server.api, &location, Duration::from_secs(30), |r| {
        r["status"] == "waiting" || finished(r)
    })
    .await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    assert!(waiting["resumes_at"].is_string(), "{waiting}");
    assert_eq!(waiting["error_code"], "GITHUB_RATE_LIMITED");
    fleet.fake.clear_faults();
    // No further call: the run continues when GitHub allows.
    let done = until(&server.api, &location, Duration::from_secs(60), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["created"], 250, "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_eight_concurrent_syncs_one_import_every_caller_the_same_run() {
    let fleet = Fleet::start(250, 0).await;
    let a = fleet.serve().await;
    let b = fleet.serve().await;
    let slug = connect_and_project(&a.api).await;
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let api = if i % 2 == 0 {
                a.api.clone()
            } else {
                b.api.clone()
            };
            let slug = slug.clone();
            tokio::spawn(async move {
                api.send_with(
                    Method::POST,
                    &sync_path(&slug),
                    Some(&json!({ "repo": REPO })),
                    &[("prefer", "wait=60")],
                )
                .await
                .expect("sync")
            })
        })
        .collect();
    let mut replies = Vec::new();
    for call in calls {
        replies.push(call.await.expect("call"));
    }
    let first = &replies[0].body["sync_run_id"];
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            &reply.body["sync_run_id"], first,
            "every caller gets the same run"
        );
    }
    assert_eq!(task_count(&a.api, &slug).await, 250);
    assert_eq!(a.api.sync_runs(&slug).await.expect("runs").len(), 1);
    assert_eq!(fleet.issue_list_requests(), 3, "one import: 3 pages");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_push_of_20_tasks_then_the_restarted_process_completes_it() {
    let fleet = Fleet::start(0, 200).await;
    let mut server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    let linked = server
        .api
        .put(
            &format!("/api/v1/projects/{slug}/github-repo"),
            &json!({ "full_name": REPO }),
        )
        .await
        .expect("link");
    assert_eq!(linked.status, 200, "{}", linked.body);
    for i in 0..20 {
        let task = server
            .api
            .post(
                &format!("/api/v1/projects/{slug}/tasks"),
                &json!({ "title": format!("Task {i}") }),
            )
            .await
            .expect("task");
        assert_eq!(task.status, 201, "{}", task.body);
    }
    let started = server
        .api
        .post(&format!("/api/v1/projects/{slug}/github/push"), &json!({}))
        .await
        .expect("push");
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    until(&server.api, &location, Duration::from_secs(60), |r| {
        r["progress"]["tasks_done"].as_u64() >= Some(3)
    })
    .await;
    server.signal("-TERM");
    server.exited(Duration::from_secs(30)).await;
    drop(server);

    let server = fleet.serve().await;
    let done = until(&server.api, &location, Duration::from_secs(120), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["progress"]["tasks_remaining"], 0, "{done}");
    let tasks = server.api.tasks(&slug).await.expect("tasks");
    assert_eq!(tasks.len(), 20);
    for task in &tasks {
        let links = task["external_links"].as_array().expect("links");
        assert_eq!(
            links.len(),
            1,
            "each task linked to exactly one issue: {task}"
        );
    }
    let issues = fleet.fake.issues_of(REPO).expect("repo");
    assert_eq!(issues.len(), 20, "no issue created twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_another_workspace_is_404_and_a_queued_run_can_be_canceled() {
    let fleet = Fleet::start(250, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    // Slow GitHub down so the run is still going when canceled.
    fleet.fake.set_faults(FaultSettings {
        latency_ms: Some(500),
        ..FaultSettings::default()
    });
    let started = start_sync(&server.api, &slug).await;
    let location = started.header("location").expect("Location").to_string();
    let other = pm_api::startup::account_service(&fleet.db.db)
        .bootstrap("other", "admin@other.example")
        .await
        .expect("bootstrap");
    let stranger = server.api.with_token(other.token.expose_secret());
    let seen = stranger.get(&location).await.expect("get");
    assert_eq!(seen.status, 404, "{}", seen.body);
    let canceled = stranger.delete(&location).await.expect("delete");
    assert_eq!(canceled.status, 404, "{}", canceled.body);

    let cancel = server.api.delete(&location).await.expect("delete");
    assert!(
        [200, 202].contains(&cancel.status.as_u16()),
        "{}",
        cancel.body
    );
    let done = until(&server.api, &location, Duration::from_secs(30), finished).await;
    assert_eq!(done["status"], "canceled", "{done}");
    assert!(task_count(&server.api, &slug).await < 250);
    let again = server.api.delete(&location).await.expect("delete");
    assert_eq!(again.status, 200, "{}", again.body);
    let _ = run_at(&server.api, &location).await;
}
