//! The `pmhub` binary: serve the API, run migrations, bootstrap the first
//! workspace.

use anyhow::Context;
use clap::{Parser, Subcommand};
use pm_api::{Application, Settings, telemetry};
use secrecy::ExposeSecret;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pmhub",
    version,
    about = "Projects, specs and tasks in step with GitHub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API.
    Serve {
        /// Do not apply migrations first.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Run job workers only (no HTTP server) until SIGTERM/SIGINT. Does not migrate.
    Worker,
    /// Apply pending migrations and exit.
    Migrate,
    /// Apply pending migrations, then create a workspace and its first admin; prints
    /// the admin's API token alone on stdout (messages go to stderr).
    Bootstrap {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
    },
    /// Print the OpenAPI document (JSON) and exit; needs no database, server or
    /// configuration (the TypeScript client is generated from it).
    Openapi,
    /// Encryption key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-encrypt every stored GitHub token with the current key
    /// (PMHUB_ENCRYPTION_KEY); the previous key must be in PMHUB_ENCRYPTION_OLD_KEYS.
    Rotate,
    /// Print a fresh random key (base64 of 32 bytes) for PMHUB_ENCRYPTION_KEY.
    Generate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        return match pm_api::openapi::document().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pmhub: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pmhub: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    // reqwest is built without a default TLS provider; pick ring's once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmhub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_migrate } => {
            if !no_migrate {
                migrate(&settings).await?;
            }
            let app = Application::build(&settings).await?;
            // Job workers beside the HTTP server unless jobs.enabled = false; both
            // start their graceful shutdown on the same signal.
            let jobs = if settings.jobs.enabled {
                let jobs = pm_api::jobs::start_sharing(&settings, Some(app.github()))?;
                jobs.stop_on_signal();
                Some(jobs)
            } else {
                None
            };
            tracing::info!(bind = %settings.server.bind, port = app.port(), "pmhub is serving");
            let served = app.run_until_stopped().await;
            if let Some(jobs) = jobs {
                jobs.shutdown().await;
            }
            served?;
            tracing::info!("pmhub stopped");
            Ok(())
        }
        Command::Worker => {
            pm_api::jobs::start(&settings)?.run_until_signal().await;
            tracing::info!("pmhub worker stopped");
            Ok(())
        }
        Command::Migrate => migrate(&settings).await,
        Command::Openapi => unreachable!("handled before the configuration is read"),
        Command::Bootstrap { workspace, email } => {
            // A new database works as it is: migrate first, as `serve` does.
            migrate(&settings).await?;
            // Only the account service: bootstrapping needs no GitHub client and
            // no encryption key.
            let db = pm_api::startup::connect(&settings)?;
            let created = pm_api::startup::account_service(&db)
                .bootstrap(&workspace, &email)
                .await
                .map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
            eprintln!(
                "created workspace {:?} with admin {}; the token below is shown only once",
                created.workspace.name.as_str(),
                created.admin.email
            );
            println!("{}", created.token.expose_secret());
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Generate,
        } => {
            println!("{}", pm_crypto::Keyring::generate_encoded_key());
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let db = pm_api::startup::connect(&settings)?;
            let state = pm_api::startup::build_state(&settings, db)?;
            let report = state
                .connections
                .rotate_keys()
                .await
                .map_err(|e| anyhow::anyhow!("key rotation failed: {e}"))?;
            eprintln!(
                "re-encrypted {} credential(s); {} already used the current key; {} changed meanwhile (already current)",
                report.resealed, report.already_current, report.skipped
            );
            Ok(())
        }
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let url = settings
        .database
        .url
        .as_deref()
        .context("no database URL: set DATABASE_URL")?;
    let applied = pm_postgres::run_migrations(url).await?;
    tracing::info!(applied, "migrations applied");
    Ok(())
}
