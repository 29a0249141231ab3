//! A fleet of real `pmhub serve` processes on one database with the in-memory GitHub:
//! what the job and two-way sync tests share.
//!
//! These tests need the `pmhub` binary next to the test binary's folder
//! (`target/debug/pmhub`): `cargo nextest run --workspace` builds it; with `-p pm-e2e`
//! alone, run `cargo build -p pm-api --bin pmhub` first.

use crate::support::{GH_LOGIN, GH_TOKEN, ORG, REPO};
use pm_e2e::api::{Api, Reply};
use pm_e2e::process::{ChildProcess, free_loopback_port};
use pm_github_fake::{FakeGithub, GenerateIssues, Running};
use pm_postgres::testing::TestDb;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn pmhub_binary() -> std::path::PathBuf {
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
pub struct Fleet {
    pub fake: FakeGithub,
    pub github: Running,
    key: String,
    push_interval_ms: u64,
    pub admin_token: String,
    pub db: TestDb,
}

/// One `pmhub serve` process.
pub struct Server {
    pub process: ChildProcess,
    pub api: Api,
}

impl Fleet {
    pub async fn start(issues: u64, push_interval_ms: u64) -> Self {
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
    pub async fn serve(&self) -> Server {
        self.serve_with(&[]).await
    }

    /// [`Fleet::serve`] with more settings (`PMHUB__…` variables); `{port}` in a value is
    /// replaced by the process's port (e.g. for `PMHUB__SERVER__PUBLIC_URL`).
    pub async fn serve_with(&self, env: &[(&str, &str)]) -> Server {
        let port = free_loopback_port().expect("port");
        let mut command = Command::new(pmhub_binary());
        for (name, value) in env {
            command.env(name, value.replace("{port}", &port.to_string()));
        }
        let process = ChildProcess::spawn(
            "pmhub serve",
            command
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

    pub fn issue_list_requests(&self) -> u64 {
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
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.process.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits until the process has exited (after SIGTERM).
    pub async fn exited(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.process.exited().is_none() {
            assert!(Instant::now() < deadline, "pmhub did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn connect_and_project(api: &Api) -> String {
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

pub fn sync_path(slug: &str) -> String {
    format!("/api/v1/projects/{slug}/github/sync")
}

pub async fn start_sync(api: &Api, slug: &str) -> Reply {
    api.post(&sync_path(slug), &json!({ "repo": REPO }))
        .await
        .expect("sync")
}

pub async fn run_at(api: &Api, location: &str) -> Value {
    let run = api.get(location).await.expect("run");
    assert_eq!(run.status, 200, "{}", run.body);
    run.body
}

/// Polls until `done(run)` holds.
pub async fn until(
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

pub fn finished(run: &Value) -> bool {
    ["succeeded", "failed", "canceled"].contains(&run["status"].as_str().unwrap_or(""))
}

pub async fn task_count(api: &Api, slug: &str) -> usize {
    api.tasks(slug).await.expect("tasks").len()
}
