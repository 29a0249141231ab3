//! `pmhub-stack`: pmhub, a fake GitHub and a fresh database, started for the browser tests
//! (`tests/browser`) or for trying the web UI by hand; stopped again when its standard input
//! closes, on Ctrl-C or on SIGTERM.
//!
//! Once everything is ready it prints one JSON line on stdout:
//! `{"pmhub_url", "ui_url", "github_url", "admin_token", "github_token", "org", "repo",
//!   "hidden_repo", "items"}`; logs go to files in `--work-dir`. The fake is seeded with
//! alice (`github_token`), a member of `org`; `org/repo` has `--items` items (every 10th a
//! pull request); `hidden_repo` is a private repository of another user, which alice's
//! token cannot see. Pushes are not paced.

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use pm_e2e::api::Api;
use pm_e2e::db::ScratchDatabase;
use pm_e2e::process::{Binaries, ChildProcess, free_loopback_port, log_file};
use pm_github_fake::{GenerateIssues, Seed, SeedOrg, SeedRepo, SeedUser};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

const GH_TOKEN: &str = "ghp_browserAlice5e1d7c3b9a0f2e4d6c8b0a1f";
const GH_LOGIN: &str = "alice";
const ORG: &str = pm_e2e::DEFAULT_ORG;
const REPO: &str = "website";
const HIDDEN_OWNER: &str = "mallory";
const HIDDEN_REPO: &str = "secret-plans";

#[derive(Debug, Parser)]
#[command(
    name = "pmhub-stack",
    about = "Starts pmhub + a fake GitHub + a fresh database until stdin closes (browser tests)"
)]
struct Args {
    /// PostgreSQL server to create the throw-away database on.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Folder holding the `pmhub` and `github-fake` binaries; default: this program's folder.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Logs and the fake's seed file go here.
    #[arg(long, default_value = "target/pmhub-stack")]
    work_dir: PathBuf,
    /// Items (issues and pull requests) in `org/repo`.
    #[arg(long, default_value_t = 250)]
    items: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    pm_e2e::install_tls_provider();
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "pmhub-stack failed: {e:#} (logs in {})",
                args.work_dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let binaries = Binaries::locate(
        args.bin_dir.as_deref(),
        "cargo build -p pm-api -p pm-github-fake",
    )?;
    let (pmhub_bin, fake_bin) = (binaries.pmhub, binaries.github_fake);
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("creating {}", args.work_dir.display()))?;

    // Field order of the locals is irrelevant: everything is stopped explicitly below, and
    // dropping (on an error) stops processes and drops the database too.
    let db = ScratchDatabase::create(&args.database_url, "pmhub_browser").await?;
    let seed_path = args.work_dir.join("github-seed.json");
    std::fs::write(&seed_path, serde_json::to_vec_pretty(&seed(args.items))?)?;
    let mut github = ChildProcess::spawn(
        "github-fake",
        Command::new(&fake_bin)
            .args(["--bind", "127.0.0.1:0", "--seed-file"])
            .arg(&seed_path)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stderr(log_file(&args.work_dir, "github-fake.log")?),
    )?;
    let github_url = github.first_line(Duration::from_secs(30))?;

    let port = free_loopback_port()?;
    let pmhub_url = format!("http://127.0.0.1:{port}");
    let env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", db.url.clone()),
        ("PMHUB__SERVER__BIND", format!("127.0.0.1:{port}")),
        ("PMHUB__SERVER__WORKERS", "2".into()),
        ("PMHUB__GITHUB__API_URL", github_url.clone()),
        ("PMHUB__GITHUB__PUSH_INTERVAL_MS", "0".into()),
        ("GITHUB_ORG", ORG.into()),
        (
            "PMHUB_ENCRYPTION_KEY",
            pm_crypto::Keyring::generate_encoded_key(),
        ),
    ];
    let mut pmhub = ChildProcess::spawn(
        "pmhub serve",
        Command::new(&pmhub_bin)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .env_remove("GITHUB_TOKEN")
            .stdin(Stdio::null())
            .stderr(log_file(&args.work_dir, "pmhub.log")?),
    )?;
    wait_until_ready(&mut pmhub, &pmhub_url).await?;
    let admin_token = bootstrap_admin(&pmhub_bin, &env, &args.work_dir)?;

    println!(
        "{}",
        json!({
            "pmhub_url": pmhub_url,
            "ui_url": format!("{pmhub_url}/ui/"),
            "github_url": github_url,
            "admin_token": admin_token,
            "github_token": GH_TOKEN,
            "org": ORG,
            "repo": REPO,
            "hidden_repo": format!("{HIDDEN_OWNER}/{HIDDEN_REPO}"),
            "items": args.items,
        })
    );

    until_told_to_stop().await?;
    pmhub.stop();
    github.stop();
    db.drop_now()
        .await
        .map_err(|e| anyhow!("dropping the database: {e:#}"))
}

/// Polls `/readyz` for up to 60 s, failing early if pmhub exits.
async fn wait_until_ready(pmhub: &mut ChildProcess, pmhub_url: &str) -> anyhow::Result<()> {
    let api = Api::new(pmhub_url)?;
    for _ in 0..600 {
        pmhub.ensure_running()?;
        if api.get("/readyz").await.is_ok_and(|r| r.status == 200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("pmhub was not ready within 60 s")
}

/// Runs `pmhub bootstrap`; returns the admin token it prints.
fn bootstrap_admin(
    pmhub_bin: &Path,
    env: &[(&str, String)],
    work_dir: &Path,
) -> anyhow::Result<String> {
    let output = Command::new(pmhub_bin)
        .args([
            "bootstrap",
            "--workspace",
            "browser",
            "--email",
            "admin@browser.example",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stderr(log_file(work_dir, "pmhub-bootstrap.log")?)
        .output()
        .context("running pmhub bootstrap")?;
    if !output.status.success() {
        bail!("pmhub bootstrap failed ({})", output.status);
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_string())
}

/// Until stdin closes (the test runner exits) or a signal arrives.
async fn until_told_to_stop() -> anyhow::Result<()> {
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = stdin_closed => {},
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    Ok(())
}

fn seed(items: u64) -> Seed {
    Seed {
        users: vec![
            SeedUser {
                token: GH_TOKEN.into(),
                login: GH_LOGIN.into(),
            },
            SeedUser {
                token: "ghp_browserMallory0000000000000000000000".into(),
                login: HIDDEN_OWNER.into(),
            },
        ],
        orgs: vec![SeedOrg {
            login: ORG.into(),
            members: vec![GH_LOGIN.into()],
        }],
        repos: vec![
            SeedRepo {
                owner: ORG.into(),
                name: REPO.into(),
                private: true,
                description: Some("Marketing site".into()),
                issues: Some(
                    GenerateIssues::new(items)
                        .pull_request_every(10)
                        .closed_every(4)
                        .labels(["bug", "enhancement", "documentation"]),
                ),
            },
            SeedRepo {
                owner: ORG.into(),
                name: "handbook".into(),
                private: false,
                description: Some("Team handbook".into()),
                issues: Some(GenerateIssues::new(3)),
            },
            SeedRepo {
                owner: HIDDEN_OWNER.into(),
                name: HIDDEN_REPO.into(),
                private: true,
                description: None,
                issues: Some(GenerateIssues::new(2)),
            },
        ],
    }
}
