//! `pmhub-demo` (`make demo`): the whole product against a local fake GitHub, step by step.
//!
//! It starts what it needs and stops all of it when done, on failure or on Ctrl-C:
//! a fresh database on the PostgreSQL server of `DATABASE_URL` (dropped at the end), the
//! `github-fake` binary seeded with a user, the organization and a repository of 250 items,
//! and `pmhub serve` pointed at both. Then it walks through the API, printing each request
//! and a compact result: bootstrap → connect a token → list repositories → create a project →
//! import the issues → import again → approve the spec (a private repository is created; a
//! second project's name clash is retried) → create two tasks and push them → sync runs.
//!
//! Needs the release binaries next to it (`make demo` builds them) and no internet.

#![allow(
    clippy::indexing_slicing,
    reason = "JSON answers are serde_json::Value, whose indexing yields Null and never panics"
)]

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use pm_e2e::api::{Api, Reply};
use pm_e2e::db::{ScratchDatabase, redact};
use pm_e2e::process::{Binaries, ChildProcess, free_loopback_port, log_file};
use pm_github_fake::{GenerateIssues, Seed, SeedOrg, SeedRepo, SeedUser};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// alice's (fake) personal access token; alice is a member of the organization.
const GH_TOKEN: &str = "ghp_demoAlice7f3c9a1b2d4e6f8091a2b3c4";
const GH_LOGIN: &str = "alice";
const ORG: &str = pm_e2e::DEFAULT_ORG;
const REPO_NAME: &str = "website";

#[derive(Debug, Parser)]
#[command(
    name = "pmhub-demo",
    about = "Walks through pmhub against a local fake GitHub (make demo)"
)]
struct Args {
    /// PostgreSQL server to create a throw-away database on (`make demo` passes the local
    /// cluster's URL).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Folder holding the `pmhub` and `github-fake` binaries; default: this program's folder.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The fake's seed file and both servers' logs are written here.
    #[arg(long, default_value = "target/pmhub-demo")]
    work_dir: PathBuf,
    /// Items (issues and pull requests) in the demo repository.
    #[arg(long, default_value_t = 250)]
    items: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    pm_e2e::install_tls_provider();
    let args = Args::parse();
    // Dropping `run`'s future (on a signal) drops the processes and the database it holds,
    // which stops and removes them.
    let outcome = tokio::select! {
        result = run(&args) => result,
        signal = interrupted() => Err(anyhow!("interrupted by {signal}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\npmhub-demo failed: {e:#}");
            eprintln!(
                "Everything it started was stopped; logs are in {}.",
                args.work_dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn interrupted() -> &'static str {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        // Without a SIGTERM handler, Ctrl-C still works.
        let _ = tokio::signal::ctrl_c().await;
        return "Ctrl-C";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    println!("pmhub demo: the whole flow against a local fake GitHub\n");
    let stack = Stack::start(args).await?;
    let result = Walkthrough::new(&stack)?.run().await;
    stack.shutdown().await?;
    result
}

/// What the demo starts. Field order is drop order: pmhub, then the fake, then the database.
struct Stack {
    pmhub: ChildProcess,
    github: ChildProcess,
    db: ScratchDatabase,
    pmhub_bin: PathBuf,
    /// The environment pmhub runs with (also used for `pmhub bootstrap`).
    pmhub_env: Vec<(&'static str, String)>,
    pmhub_url: String,
    github_url: String,
    work_dir: PathBuf,
}

impl Stack {
    async fn start(args: &Args) -> anyhow::Result<Self> {
        let binaries = Binaries::locate(
            args.bin_dir.as_deref(),
            "make demo does: cargo build --release -p pm-api -p pm-github-fake",
        )?;
        let (pmhub_bin, fake_bin) = (binaries.pmhub, binaries.github_fake);
        std::fs::create_dir_all(&args.work_dir)
            .with_context(|| format!("creating {}", args.work_dir.display()))?;

        let db = ScratchDatabase::create(&args.database_url, "pmhub_demo").await?;
        println!(
            "  PostgreSQL   {}  (fresh database, dropped at the end)",
            redact(&db.url)
        );

        let seed_path = args.work_dir.join("github-seed.json");
        std::fs::write(&seed_path, serde_json::to_vec_pretty(&seed(args.items))?)
            .with_context(|| format!("writing {}", seed_path.display()))?;
        let mut github = ChildProcess::spawn(
            "github-fake",
            Command::new(&fake_bin)
                .arg("--bind")
                .arg("127.0.0.1:0")
                .arg("--seed-file")
                .arg(&seed_path)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stderr(log_file(&args.work_dir, "github-fake.log")?),
        )?;
        // The fake prints its base URL once it accepts connections.
        let github_url = github.first_line(Duration::from_secs(30))?;
        println!(
            "  GitHub fake  {github_url}  (user {GH_LOGIN}, org {ORG}, {ORG}/{REPO_NAME} with {} items)",
            args.items
        );

        let port = free_loopback_port()?;
        let pmhub_url = format!("http://127.0.0.1:{port}");
        let pmhub_env = vec![
            // DATABASE_URL wins over PMHUB__DATABASE__URL, so it is the one to replace.
            ("DATABASE_URL", db.url.clone()),
            ("PMHUB__SERVER__BIND", format!("127.0.0.1:{port}")),
            ("PMHUB__GITHUB__API_URL", github_url.clone()),
            ("GITHUB_ORG", ORG.to_string()),
            (
                "PMHUB_ENCRYPTION_KEY",
                pm_crypto::Keyring::generate_encoded_key(),
            ),
        ];
        let pmhub_log = args.work_dir.join("pmhub.log");
        let mut command = Command::new(&pmhub_bin);
        command
            .arg("serve")
            .envs(pmhub_env.iter().map(|(k, v)| (*k, v)))
            // The workspace's connection must be what grants access, not a server token.
            .env_remove("GITHUB_TOKEN")
            .stdin(Stdio::null())
            .stderr(log_file(&args.work_dir, "pmhub.log")?);
        let mut pmhub = ChildProcess::spawn("pmhub serve", &mut command)?;
        let started = Instant::now();
        wait_ready(&mut pmhub, &pmhub_url, &pmhub_log).await?;
        println!(
            "  pmhub        {pmhub_url}  (migrated and ready in {:.1} s; log: {})",
            started.elapsed().as_secs_f64(),
            pmhub_log.display()
        );
        println!(
            "  web UI       {pmhub_url}/ui/  (while the demo runs; after `make run`: http://127.0.0.1:8080/ui/)"
        );
        Ok(Self {
            pmhub,
            github,
            db,
            pmhub_bin,
            pmhub_env,
            pmhub_url,
            github_url,
            work_dir: args.work_dir.clone(),
        })
    }

    /// `pmhub bootstrap`: the admin's token is the only thing it prints on stdout.
    fn bootstrap(&self, workspace: &str, email: &str) -> anyhow::Result<String> {
        let output = Command::new(&self.pmhub_bin)
            .args(["bootstrap", "--workspace", workspace, "--email", email])
            .envs(self.pmhub_env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stderr(log_file(&self.work_dir, "pmhub-bootstrap.log")?)
            .output()
            .context("running pmhub bootstrap")?;
        if !output.status.success() {
            bail!(
                "pmhub bootstrap failed ({}); see {}",
                output.status,
                self.work_dir.join("pmhub-bootstrap.log").display()
            );
        }
        let token = String::from_utf8(output.stdout)?.trim().to_string();
        if token.is_empty() || token.contains(char::is_whitespace) {
            bail!("pmhub bootstrap printed {token:?}, not a token");
        }
        Ok(token)
    }

    async fn shutdown(mut self) -> anyhow::Result<()> {
        println!(
            "\nStopping pmhub and the fake GitHub; dropping {}.",
            self.db.name()
        );
        self.pmhub.stop();
        self.github.stop();
        self.db.drop_now().await
    }
}

async fn wait_ready(pmhub: &mut ChildProcess, url: &str, log: &Path) -> anyhow::Result<()> {
    let api = Api::new(url)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if pmhub.exited().is_some() {
            bail!(
                "pmhub exited during start-up; see {} (is port {} taken?)",
                log.display(),
                url.rsplit(':').next().unwrap_or("?")
            );
        }
        if let Ok(reply) = api.get("/readyz").await
            && reply.status == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("pmhub was not ready within 60 s; see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// alice in the organization, and a private repository of `items` items: every 10th a pull
/// request, every 4th closed (as not planned when also a multiple of 3).
fn seed(items: u64) -> Seed {
    Seed {
        users: vec![SeedUser {
            token: GH_TOKEN.into(),
            login: GH_LOGIN.into(),
        }],
        orgs: vec![SeedOrg {
            login: ORG.into(),
            members: vec![GH_LOGIN.into()],
        }],
        repos: vec![SeedRepo {
            owner: ORG.into(),
            name: REPO_NAME.into(),
            private: true,
            description: Some("Marketing site".into()),
            issues: Some(
                GenerateIssues::new(items)
                    .pull_request_every(10)
                    .closed_every(4)
                    .not_planned_every(3)
                    .labels(["bug", "enhancement", "documentation"]),
            ),
        }],
    }
}

/// The narrated calls.
struct Walkthrough<'a> {
    stack: &'a Stack,
    /// pmhub, as the admin once bootstrapped.
    api: Api,
    /// The fake's control API (`/_fake/...`).
    fake: Api,
    step: u32,
}

impl<'a> Walkthrough<'a> {
    fn new(stack: &'a Stack) -> anyhow::Result<Self> {
        Ok(Self {
            stack,
            api: Api::new(&stack.pmhub_url)?,
            fake: Api::new(&stack.github_url)?,
            step: 0,
        })
    }

    fn heading(&mut self, title: &str) {
        self.step += 1;
        println!("\n[{}] {title}", self.step);
    }

    /// Prints the request, sends it, and fails unless the status is `expected`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> anyhow::Result<Reply> {
        match body {
            Some(b) => println!("  → {method} {path} {}", shown(b)),
            None => println!("  → {method} {path}"),
        }
        let reply = self.api.send(method, path, body).await?;
        if reply.status != expected {
            println!("  ← {} {}", reply.status, reply.body);
            bail!("{path}: expected HTTP {expected}, got {}", reply.status);
        }
        Ok(reply)
    }

    /// `POST` with `Prefer: wait=60`, expecting 200.
    async fn call_waiting(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        println!("  → POST {path} {} (Prefer: wait=60)", shown(body));
        let reply = self.api.post_and_wait(path, body).await?;
        if reply.status != 200 {
            println!("  ← {} {}", reply.status, reply.body);
            bail!("{path}: expected HTTP 200, got {}", reply.status);
        }
        Ok(reply)
    }

    /// Polls a background run (`GET …/sync-runs/{id}`), printing its progress as it
    /// changes, until it finished; the finished run.
    async fn follow_run(&self, location: &str) -> anyhow::Result<Reply> {
        println!("  → GET {location} (every 100 ms until it finished)");
        let mut last = String::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let run = self.api.get(location).await?;
            if run.status != 200 {
                bail!(
                    "{location}: expected HTTP 200, got {} {}",
                    run.status,
                    run.body
                );
            }
            let status = text(&run.body["status"]).to_string();
            let line = format!(
                "{status}: {} pages stored, {} tasks created, attempt {}",
                run.body["progress"]["pages"], run.body["created"], run.body["attempts"]
            );
            if line != last {
                println!("  ← 200  {line}");
                last = line;
            }
            match status.as_str() {
                "succeeded" => return Ok(run),
                "failed" | "canceled" => bail!("the run ended {status}: {}", run.body),
                _ if Instant::now() > deadline => bail!("the run did not finish in 120 s"),
                _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }

    /// A call to the fake's control API (what a test would do to GitHub).
    async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        match body {
            Some(b) => println!("  ⚙ github-fake: {method} {path} {}", shown(b)),
            None => println!("  ⚙ github-fake: {method} {path}"),
        }
        let reply = self.fake.send(method, path, body).await?;
        if !reply.status.is_success() {
            bail!("github-fake {path}: HTTP {} {}", reply.status, reply.body);
        }
        Ok(reply)
    }

    fn answer(reply: &Reply, summary: impl std::fmt::Display) {
        println!("  ← {}  {summary}", reply.status);
    }

    async fn run(mut self) -> anyhow::Result<()> {
        self.bootstrap().await?;
        self.connect_github().await?;
        self.list_repos().await?;
        let slug = self.create_project().await?;
        self.import_twice(&slug).await?;
        let full_name = self.approve_first_spec(&slug).await?;
        self.retried_repository_name().await?;
        self.push_tasks(&slug, &full_name).await?;
        self.two_way(&slug, &full_name).await?;
        self.show_runs(&slug).await?;
        println!("\nDone: every step answered as expected.");
        Ok(())
    }

    /// Bootstraps the workspace and switches to the admin token.
    async fn bootstrap(&mut self) -> anyhow::Result<()> {
        self.heading("Bootstrap the first workspace and its admin");
        println!("  $ pmhub bootstrap --workspace demo --email admin@demo.example");
        let token = self.stack.bootstrap("demo", "admin@demo.example")?;
        println!(
            "  ← admin token {}… (printed alone on stdout, shown once, stored as a hash)",
            token.chars().take(8).collect::<String>()
        );
        self.api = self.api.with_token(token);
        let me = self.call(Method::GET, "/api/v1/me", None, 200).await?;
        Self::answer(
            &me,
            format!(
                "{} is {} of workspace {:?}",
                text(&me.body["email"]),
                text(&me.body["role"]),
                text(&me.body["workspace"]["name"])
            ),
        );

        Ok(())
    }

    /// Connects GitHub with a personal access token.
    async fn connect_github(&mut self) -> anyhow::Result<()> {
        self.heading("Connect GitHub with a personal access token");
        let connected = self
            .call(
                Method::POST,
                "/api/v1/integrations/github",
                Some(&json!({ "token": GH_TOKEN })),
                201,
            )
            .await?;
        Self::answer(
            &connected,
            format!(
                "verified with GitHub as {}; stored encrypted, token_hint {:?}",
                text(&connected.body["account_login"]),
                text(&connected.body["token_hint"])
            ),
        );

        Ok(())
    }

    /// Lists the repositories the token can access.
    async fn list_repos(&mut self) -> anyhow::Result<()> {
        self.heading("List the repositories the token can access");
        let repos = self
            .call(Method::GET, "/api/v1/github/repos", None, 200)
            .await?;
        let names: Vec<String> = items(&repos.body)
            .iter()
            .map(|r| {
                let visibility = if r["private"] == true {
                    "private"
                } else {
                    "public"
                };
                format!("{} ({visibility})", text(&r["full_name"]))
            })
            .collect();
        Self::answer(&repos, names.join(", "));

        Ok(())
    }

    /// Creates the first project; returns its slug.
    async fn create_project(&mut self) -> anyhow::Result<String> {
        self.heading("Create a project");
        let project = self
            .call(
                Method::POST,
                "/api/v1/projects",
                Some(&json!({ "name": "Website Revamp", "description": "The new marketing site" })),
                201,
            )
            .await?;
        let slug = text(&project.body["slug"]).to_string();
        Self::answer(
            &project,
            format!("slug {slug}, github_repo {}", project.body["github_repo"]),
        );

        Ok(slug)
    }

    /// Imports the repository's issues, then again with nothing changed.
    async fn import_twice(&mut self, slug: &str) -> anyhow::Result<()> {
        let repo = format!("{ORG}/{REPO_NAME}");
        self.heading(&format!("Import {repo}'s issues as tasks"));
        let before = self.issue_list_requests().await?;
        let started = Instant::now();
        let sync_path = format!("/api/v1/projects/{slug}/github/sync");
        let accepted = self
            .call(
                Method::POST,
                &sync_path,
                Some(&json!({ "repo": repo })),
                202,
            )
            .await?;
        let location = accepted
            .header("location")
            .context("202 without Location")?
            .to_string();
        println!(
            "  ← 202  run {} is {}; Location: {location}",
            text(&accepted.body["id"]),
            text(&accepted.body["status"])
        );
        let first = self.follow_run(&location).await?;
        let took = started.elapsed();
        let pages = self.issue_list_requests().await? - before;
        Self::answer(&first, sync_summary(&first.body));
        println!(
            "     in {} ms; GitHub served {pages} issue-list requests (pages of 100, following `Link: rel=\"next\"`)",
            took.as_millis()
        );
        self.show_tasks(slug).await?;

        self.heading("Import again: nothing changed on GitHub");
        let before = self.issue_list_requests().await?;
        let used_before = self.rate_limit_used().await?;
        println!(
            "  (Prefer: wait=60: one call, answered 200 with the counts once the run finished)"
        );
        let second = self
            .call_waiting(&sync_path, &json!({ "repo": repo }))
            .await?;
        let pages = self.issue_list_requests().await? - before;
        let charged = self.rate_limit_used().await? - used_before;
        Self::answer(&second, sync_summary(&second.body));
        println!(
            "     {pages} issue-list requests with If-None-Match, {charged} charged to the rate limit (GitHub does not charge a 304)"
        );

        Ok(())
    }

    /// Writes, submits and approves the first spec; returns the repository created.
    async fn approve_first_spec(&mut self, slug: &str) -> anyhow::Result<String> {
        self.heading("Write, submit and approve the spec: a private repository is created");
        let spec = self
            .call(
                Method::PUT,
                &format!("/api/v1/projects/{slug}/spec"),
                Some(&json!({ "content": "# Goals\n- ship the new site\n- keep SEO" })),
                200,
            )
            .await?;
        Self::answer(&spec, format!("spec {}", text(&spec.body["status"])));
        let full_name = self.submit_and_approve(slug).await?;
        let created = self
            .control(Method::GET, &format!("/_fake/repos/{full_name}"), None)
            .await?;
        println!(
            "     on GitHub: {} exists, private: {}",
            text(&created.body["full_name"]),
            created.body["private"]
        );

        Ok(full_name)
    }

    /// A second project whose repository name is taken once.
    async fn retried_repository_name(&mut self) -> anyhow::Result<()> {
        self.heading("A second project whose repository name is taken once: retried with a suffix");
        let other = self
            .call(
                Method::POST,
                "/api/v1/projects",
                Some(&json!({ "name": "Billing" })),
                201,
            )
            .await?;
        let other_slug = text(&other.body["slug"]).to_string();
        Self::answer(&other, format!("slug {other_slug}"));
        self.control(
            Method::POST,
            &format!("/_fake/orgs/{ORG}/reject-names"),
            Some(&json!({ "count": 1 })),
        )
        .await?;
        println!(
            "     (the next repository creation in {ORG} answers 422 \"name already exists\")"
        );
        self.submit_and_approve(&other_slug).await?;

        Ok(())
    }

    /// Creates two tasks and pushes them to GitHub, twice.
    async fn push_tasks(&mut self, slug: &str, full_name: &str) -> anyhow::Result<()> {
        self.heading(&format!(
            "Create two tasks in {slug} and push them to {full_name}"
        ));
        for (title, priority) in [
            ("Draft the launch checklist", "high"),
            ("Review the new pricing page", "medium"),
        ] {
            let task = self
                .call(
                    Method::POST,
                    &format!("/api/v1/projects/{slug}/tasks"),
                    Some(&json!({ "title": title, "priority": priority })),
                    201,
                )
                .await?;
            Self::answer(
                &task,
                format!(
                    "task #{} {:?}, source {}",
                    task.body["number"],
                    text(&task.body["title"]),
                    text(&task.body["source"])
                ),
            );
        }
        self.push_twice(slug, full_name).await
    }

    /// Pushes the project's tasks, shows the issues on GitHub, then pushes again.
    async fn push_twice(&self, slug: &str, full_name: &str) -> anyhow::Result<()> {
        let push_path = format!("/api/v1/projects/{slug}/github/push");
        let started = Instant::now();
        println!("  → POST {push_path} {{}}");
        let pushed = self.api.post_and_wait(&push_path, &json!({})).await?;
        // The project exists, so a 404 here means the route does not (a pmhub without push).
        if pushed.status == 404 {
            println!("  ← 404  push is not available in this build of pmhub; skipped");
        } else {
            if pushed.status != 200 {
                println!("  ← {} {}", pushed.status, pushed.body);
                bail!("push: expected HTTP 200, got {}", pushed.status);
            }
            Self::answer(
                &pushed,
                format!(
                    "created {}, skipped {} in {} ms (creates are paced for GitHub's secondary limits)",
                    pushed.body["created"],
                    pushed.body["skipped"],
                    started.elapsed().as_millis()
                ),
            );
            let issues = self
                .control(
                    Method::GET,
                    &format!("/_fake/repos/{full_name}/issues"),
                    None,
                )
                .await?;
            for issue in issues
                .body
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                println!(
                    "     on GitHub: {full_name}#{} {:?}",
                    issue["number"],
                    text(&issue["title"])
                );
            }
            println!("  → POST {push_path} {{}}");
            let again = self.api.post_and_wait(&push_path, &json!({})).await?;
            if again.status != 200 {
                println!("  ← {} {}", again.status, again.body);
                bail!("push again: expected HTTP 200, got {}", again.status);
            }
            Self::answer(
                &again,
                format!(
                    "created {}, skipped {}: pushing twice creates no second issue",
                    again.body["created"], again.body["skipped"]
                ),
            );
        }

        Ok(())
    }

    /// Two-way sync: an issue closed on GitHub closes its task at the next sync, and a
    /// task retitled in pmhub retitles its issue with one PATCH.
    async fn two_way(&mut self, slug: &str, full_name: &str) -> anyhow::Result<()> {
        self.heading(&format!(
            "Two-way sync: close {full_name}#1 on GitHub, retitle the task of #2 in pmhub"
        ));
        let settings_path = format!("/api/v1/projects/{slug}/github/settings");
        let settings = self.call(Method::GET, &settings_path, None, 200).await?;
        Self::answer(
            &settings,
            format!(
                "direction {}, conflict_policy {}",
                text(&settings.body["direction"]),
                text(&settings.body["conflict_policy"])
            ),
        );
        self.control(
            Method::POST,
            &format!("/_fake/repos/{full_name}/issues/1/close"),
            Some(&json!({ "reason": "completed" })),
        )
        .await?;
        let sync_path = format!("/api/v1/projects/{slug}/github/sync");
        let synced = self.call_waiting(&sync_path, &json!({})).await?;
        Self::answer(
            &synced,
            format!(
                "updated {}, unchanged {}, conflicts {} (the same merge a webhook runs)",
                synced.body["updated"], synced.body["unchanged"], synced.body["conflicts"]
            ),
        );
        let tasks = self
            .call(
                Method::GET,
                &format!("/api/v1/projects/{slug}/tasks?limit=100&source=manual"),
                None,
                200,
            )
            .await?;
        let linked_to = |n: u64| {
            items(&tasks.body).iter().find(|t| {
                t["external_links"][0]["reference"] == format!("{full_name}#{n}").as_str()
            })
        };
        let (Some(first), Some(second)) = (linked_to(1), linked_to(2)) else {
            bail!("the pushed tasks are not linked to {full_name}#1 and #2");
        };
        println!(
            "     task #{} is now {} (its issue was closed as completed)",
            first["number"],
            text(&first["status"])
        );
        if first["status"] != "done" {
            bail!("the task of the closed issue is {}", first["status"]);
        }
        let number = second["number"].as_u64().unwrap_or_default();
        let retitled = "Review the new pricing page (with numbers)";
        self.call(
            Method::PATCH,
            &format!("/api/v1/projects/{slug}/tasks/{number}"),
            Some(&json!({ "title": retitled })),
            200,
        )
        .await?;
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let issues = self
                .fake
                .send(
                    Method::GET,
                    &format!("/_fake/repos/{full_name}/issues"),
                    None,
                )
                .await?;
            let on_github = items_of(&issues.body)
                .iter()
                .any(|i| i["number"] == 2 && i["title"] == retitled);
            if on_github {
                break;
            }
            if Instant::now() > deadline {
                bail!("{full_name}#2 was not retitled within 10 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let patches = self.control(Method::GET, "/_fake/patches", None).await?;
        println!(
            "     on GitHub: {full_name}#2 {retitled:?} ({} PATCH in all: one per edit)",
            patches.body["total"]
        );
        let events = self
            .call(
                Method::GET,
                &format!("/api/v1/projects/{slug}/tasks/{number}/sync-events"),
                None,
                200,
            )
            .await?;
        for event in items(&events.body).iter().take(3) {
            println!(
                "     journal: {} {} {} {} → {}",
                text(&event["kind"]),
                event["direction"].as_str().unwrap_or(""),
                event["field"].as_str().unwrap_or(""),
                event["from_value"],
                event["to_value"]
            );
        }
        Ok(())
    }

    /// Shows the project's sync runs.
    async fn show_runs(&mut self, slug: &str) -> anyhow::Result<()> {
        self.heading("The project's sync runs, newest first");
        let runs = self
            .call(
                Method::GET,
                &format!("/api/v1/projects/{slug}/github/sync-runs"),
                None,
                200,
            )
            .await?;
        Self::answer(&runs, format!("{} runs", items(&runs.body).len()));
        let width = items(&runs.body)
            .iter()
            .map(|run| text(&run["repo"]).len())
            .max()
            .unwrap_or(0);
        for run in items(&runs.body) {
            println!(
                "     {:<6} {:<9} {:<width$}  created {:>3}  skipped {:>3}{}",
                text(&run["kind"]),
                text(&run["status"]),
                text(&run["repo"]),
                run["created"],
                run["skipped"],
                match run["error_code"].as_str() {
                    Some(code) => format!("  error {code}"),
                    None => String::new(),
                }
            );
        }
        Ok(())
    }

    /// Submits and approves the spec; returns the repository created for the project.
    async fn submit_and_approve(&self, slug: &str) -> anyhow::Result<String> {
        let submitted = self
            .call(
                Method::POST,
                &format!("/api/v1/projects/{slug}/spec/submit"),
                None,
                200,
            )
            .await?;
        Self::answer(
            &submitted,
            format!("spec {}", text(&submitted.body["status"])),
        );
        let approved = self
            .call(
                Method::POST,
                &format!("/api/v1/projects/{slug}/approve"),
                None,
                200,
            )
            .await?;
        let repository = &approved.body["repository"];
        Self::answer(
            &approved,
            format!(
                "spec {}; repository {} {}",
                text(&approved.body["spec"]["status"]),
                text(&repository["outcome"]),
                repository["full_name"]
            ),
        );
        if repository["outcome"] != "created" {
            bail!("no repository was created: {repository}");
        }
        Ok(text(&repository["full_name"]).to_string())
    }

    /// A glance at the imported tasks: the first three, and how many of each status.
    async fn show_tasks(&self, slug: &str) -> anyhow::Result<()> {
        let path = format!("/api/v1/projects/{slug}/tasks?limit=3");
        let first = self.call(Method::GET, &path, None, 200).await?;
        Self::answer(&first, "the first three tasks:");
        for task in items(&first.body) {
            println!(
                "     #{:<3} {:<8} {:<46} ← {}",
                task["number"],
                text(&task["status"]),
                format!("{:?}", text(&task["title"])),
                text(&task["external_links"][0]["reference"])
            );
        }
        let tasks_path = format!("/api/v1/projects/{slug}/tasks");
        println!("  → GET {tasks_path}?limit=200 (following next_cursor)");
        let all = self.api.tasks(slug).await?;
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for task in &all {
            *by_status
                .entry(text(&task["status"]).to_string())
                .or_default() += 1;
        }
        let breakdown: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let numbers_ok = all
            .iter()
            .zip(1u64..)
            .all(|(task, n)| task["number"].as_u64() == Some(n));
        println!(
            "  ← 200 OK  {} tasks numbered 1..{}{}: {}",
            all.len(),
            all.len(),
            if numbers_ok { "" } else { " (with gaps!)" },
            breakdown.join(", ")
        );
        Ok(())
    }

    /// How much of alice's primary rate limit is used (`GET /rate_limit` itself is free).
    async fn rate_limit_used(&self) -> anyhow::Result<u64> {
        let reply = self
            .fake
            .with_token(GH_TOKEN)
            .get("/rate_limit")
            .await?
            .expect_status(200)?;
        reply.body["rate"]["used"]
            .as_u64()
            .context("`rate.used` in the fake's GET /rate_limit")
    }

    /// Issue-list requests the fake has served so far (both URL shapes GitHub uses).
    async fn issue_list_requests(&self) -> anyhow::Result<u64> {
        let stats = self.fake.get("/_fake/stats").await?.expect_status(200)?;
        Ok(stats.body["by_route"]
            .as_object()
            .map(|routes| {
                routes
                    .iter()
                    .filter(|(route, _)| route.starts_with("GET ") && route.ends_with("/issues"))
                    .filter_map(|(_, n)| n.as_u64())
                    .sum()
            })
            .unwrap_or(0))
    }
}

fn sync_summary(body: &Value) -> String {
    format!(
        "created {}, skipped {}, pull requests ignored {}, seen {}",
        body["created"], body["skipped"], body["pull_requests_ignored"], body["total_seen"]
    )
}

fn items(body: &Value) -> &[Value] {
    body["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A JSON array's items (the fake's control API answers bare arrays).
fn items_of(body: &Value) -> &[Value] {
    body.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}

/// A request body as printed: compact, with any `token` shortened to a hint.
fn shown(body: &Value) -> String {
    let mut body = body.clone();
    if let Some(token) = body.get_mut("token")
        && let Some(t) = token.as_str()
    {
        let hint = pm_kernel::secret_hint(t, 4);
        *token = Value::String(format!("…{hint}"));
    }
    let text = body.to_string();
    if text.chars().count() > 110 {
        let cut: String = text.chars().take(107).collect();
        format!("{cut}…")
    } else {
        text
    }
}
