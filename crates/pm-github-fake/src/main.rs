//! `github-fake`: serves the in-memory GitHub until Ctrl-C / SIGTERM.
//!
//! Prints the base URL on stdout (one line) once it accepts connections, so scripts can wait
//! for that line; logs go to stderr.

use std::{io::Write as _, path::PathBuf};

use anyhow::Context as _;
use clap::Parser;
use pm_github_fake::{FakeGithub, Seed};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "github-fake",
    about = "An in-memory GitHub REST API for pmhub demos and tests"
)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "GITHUB_FAKE_BIND", default_value = "127.0.0.1:9999")]
    bind: String,
    /// JSON file with users, organizations and repositories to start with (see `Seed`).
    #[arg(long, env = "GITHUB_FAKE_SEED_FILE")]
    seed_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let fake = FakeGithub::new();
    if let Some(path) = &args.seed_file {
        let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let seed: Seed =
            serde_json::from_slice(&raw).with_context(|| format!("parsing {}", path.display()))?;
        fake.apply_seed(&seed)
            .with_context(|| format!("applying {}", path.display()))?;
    }
    let running = fake
        .start(&args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", running.base_url)?;
        out.flush()?;
    }
    tracing::info!(base_url = %running.base_url, "github-fake ready");

    shutdown_signal().await?;
    tracing::info!("stopping");
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
