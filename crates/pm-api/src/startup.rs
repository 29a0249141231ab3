//! Building the application: adapters → services → HTTP server.

use crate::config::Settings;
use crate::deadline::{BodyTimeout, body_deadline};
use crate::extract::{MAX_BODY_BYTES, authenticate};
use crate::pacer::Unpaced;
use crate::problem::ApiError;
use crate::problem::problem_fallback;
use crate::state::{AppState, TwoWayJobs};
use crate::{openapi, routes, server};
use actix_web::body::MessageBody;
use actix_web::dev::{Server, Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::ErrorHandlers;
use actix_web::{App, HttpMessage, HttpResponse, web};
use anyhow::Context;
use pm_accounts::AccountService;
use pm_crypto::Keyring;
use pm_crypto::RingTokenIssuer;
use pm_github::{GithubClient, GithubConfig};
use pm_integrations::{
    ConnectionService, GithubApi, GithubRepoProvisioner, IssueImporter, PushService, RepoService,
    SyncJobs, TokenSource,
    two_way::{
        MergeJobHandler, MergeStore, ReconcileJobHandler, ReconcileTickHandler, SyncSettingsStore,
        TwoWayMerger, TwoWayService, TwoWaySync,
    },
};
use pm_postgres::{
    Database, DbConfig, PgAccountStore, PgCredentialStore, PgJobQueue, PgMergeStore,
    PgProjectLeases, PgProjectRepository, PgPushStore, PgSpecRepository, PgSyncJournal,
    PgSyncSettings, PgSyncStore, PgTaskStore,
};
use pm_projects::ProjectService;
use pm_specs::SpecService;
use pm_tasks::TaskService;
use secrecy::ExposeSecret;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Duration;
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_swagger_ui::SwaggerUi;

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    github: Arc<dyn GithubApi>,
}

impl Application {
    /// Connects the pool, wires the services and binds `server.bind` (port 0 picks
    /// a free port, as tests do). Migrations are the caller's business.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_wrapping(settings, |github| github).await
    }

    /// [`Application::build`] with the GitHub client passed through `wrap` first
    /// (tests put a double in front of one of its calls).
    pub async fn build_wrapping(
        settings: &Settings,
        wrap: impl FnOnce(Arc<dyn GithubApi>) -> Arc<dyn GithubApi>,
    ) -> anyhow::Result<Self> {
        let db = connect(settings)?;
        let github = wrap(Arc::new(github_client(settings, &db)?));
        let state = build_state_with(settings, db, github)?;
        let github = state.github.clone();
        crate::webhooks::log_configuration(settings);

        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("binding {}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let server_settings = &settings.server;
        let body_timeout = Duration::from_secs(server_settings.body_timeout_secs);
        let metrics_token = routes::metrics::MetricsToken(settings.metrics.token.clone());
        let factory = move || app(state.clone(), body_timeout, metrics_token.clone());
        // Bounds on what a client can hold (head, keep-alive, disconnect, connections
        // per worker) and the rewriting of the dispatcher's own errors: see
        // [`server::serve`]. Bodies: see [`body_deadline`].
        let server = server::serve(server_settings, listener, factory)?;
        Ok(Self {
            port,
            server,
            github,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The GitHub client the server uses; job workers in the same process share it
    /// (and with it its per-token rate-limit gate and ETag cache).
    pub fn github(&self) -> Arc<dyn GithubApi> {
        self.github.clone()
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// The application with its middleware stack, the one both the server
/// ([`Application::build`]) and the benchmark's in-process server (pm-e2e) run. From the
/// outside in: `TracingLogger` (a span and a request id per request), the `x-request-id`
/// response header, [`problem_fallback`] (the framework's own plain-text errors become
/// problem+json), and [`body_deadline`] (a body must arrive within `body_timeout`, else
/// 408); inside them the routes of [`configure_app`].
pub fn app(
    state: AppState,
    body_timeout: Duration,
    metrics_token: routes::metrics::MetricsToken,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .configure(|cfg| configure_app(cfg, state))
        .app_data(web::Data::new(BodyTimeout(body_timeout)))
        .app_data(web::Data::new(metrics_token))
        .wrap(actix_web::middleware::from_fn(body_deadline))
        .wrap(ErrorHandlers::new().default_handler(problem_fallback))
        .wrap_fn(|req, srv| {
            let request_id = req.extensions().get::<RequestId>().copied();
            let response = srv.call(req);
            async move {
                let mut response = response.await?;
                if let Some(value) =
                    request_id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok())
                {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-request-id"), value);
                }
                Ok(response)
            }
        })
        .wrap(TracingLogger::default())
        .wrap(actix_web::middleware::from_fn(crate::metrics::record_http))
}

/// The connection pool for the configured database.
pub fn connect(settings: &Settings) -> anyhow::Result<Database> {
    let url = settings
        .database
        .url
        .clone()
        .context("no database URL: set DATABASE_URL (make run starts a local PostgreSQL)")?;
    let mut db_config = DbConfig::new(url);
    let database = &settings.database;
    db_config.max_connections = database.max_connections;
    db_config.statement_timeout = Duration::from_millis(database.statement_timeout_ms);
    db_config.operation_timeout = Duration::from_millis(database.operation_timeout_ms);
    db_config.ping_timeout = Duration::from_millis(database.ping_timeout_ms);
    Ok(Database::connect(&db_config)?)
}

/// Workspaces, users and tokens on the given database.
pub fn account_service(db: &Database) -> AccountService {
    AccountService::new(
        Arc::new(PgAccountStore::new(db.clone())),
        Arc::new(RingTokenIssuer::new()),
    )
}

/// Adapters wired into the domain services.
pub fn build_state(settings: &Settings, db: Database) -> anyhow::Result<AppState> {
    let github = Arc::new(github_client(settings, &db)?);
    build_state_with(settings, db, github)
}

/// [`build_state`] with a given GitHub client (shared by the server and the job
/// workers of one process).
pub fn build_state_with(
    settings: &Settings,
    db: Database,
    github: Arc<dyn GithubApi>,
) -> anyhow::Result<AppState> {
    let projects_repo = Arc::new(PgProjectRepository::new(db.clone()));
    let accounts = account_service(&db);
    let cipher = Arc::new(keyring(settings)?);
    let credentials = Arc::new(PgCredentialStore::new(db.clone()));
    let tokens = TokenSource::new(
        credentials.clone(),
        cipher.clone(),
        settings.github.token.clone(),
    );
    let hooks = crate::webhooks::hook_config(settings);
    let provisioner = GithubRepoProvisioner::new(
        projects_repo.clone(),
        github.clone(),
        tokens.clone(),
        settings.github.org.clone(),
    )
    .with_hooks(hooks.clone());
    let leases = Arc::new(PgProjectLeases::new(db.clone()));
    let specs = SpecService::new(
        projects_repo.clone(),
        Arc::new(PgSpecRepository::new(db.clone())),
        Arc::new(provisioner),
        leases.clone(),
    );
    let tasks = TaskService::new(
        projects_repo.clone(),
        Arc::new(PgTaskStore::new(db.clone())),
    );
    let runs = Arc::new(PgSyncStore::new(db.clone()));
    let pusher = PushService::new(
        projects_repo.clone(),
        github.clone(),
        tokens.clone(),
        runs.clone(),
        Arc::new(PgPushStore::new(db.clone())),
        // Creates are paced per token, across instances, by the GitHub adapter.
        Arc::new(Unpaced),
        leases.clone(),
    );
    // Two-way sync: one merger for the manual sync, the merge and the reconcile.
    let merge_store: Arc<dyn MergeStore> = Arc::new(PgMergeStore::new(db.clone()));
    let sync_settings: Arc<dyn SyncSettingsStore> = Arc::new(PgSyncSettings::new(db.clone()));
    // PATCHes are paced per token, across instances, by the GitHub adapter.
    let merger = TwoWayMerger::new(github.clone(), merge_store.clone(), Arc::new(Unpaced));
    let two_way_sync = TwoWaySync::new(merger.clone(), sync_settings.clone(), merge_store.clone());
    let queue = Arc::new(PgJobQueue::new(db.clone()));
    let sync_jobs = SyncJobs::new(
        projects_repo.clone(),
        github.clone(),
        tokens.clone(),
        runs.clone(),
        queue.clone(),
        pusher.clone(),
        leases,
    )
    .with_two_way(two_way_sync.clone());
    let two_way_jobs = TwoWayJobs {
        merge: Arc::new(
            MergeJobHandler::new(
                merger.clone(),
                merge_store.clone(),
                Arc::new(pm_postgres::PgWebhookStore::new(db.clone())),
                sync_settings.clone(),
                tokens.clone(),
            )
            .with_push(sync_jobs.clone(), Arc::new(PgPushStore::new(db.clone()))),
        ),
        reconcile: Arc::new(ReconcileJobHandler::new(
            merger,
            merge_store.clone(),
            runs.clone(),
            sync_settings.clone(),
            github.clone(),
            tokens.clone(),
        )),
        tick: Arc::new(ReconcileTickHandler::new(merge_store, queue)),
    };
    Ok(AppState {
        accounts,
        projects: ProjectService::new(projects_repo.clone()),
        specs,
        tasks,
        connections: ConnectionService::new(github.clone(), credentials, cipher),
        repos: RepoService::new(projects_repo.clone(), github.clone(), tokens.clone())
            .with_hooks(hooks),
        two_way: TwoWayService::new(
            projects_repo.clone(),
            sync_settings,
            Arc::new(PgSyncJournal::new(db.clone())),
            runs.clone(),
        ),
        importer: IssueImporter::new(projects_repo, github.clone(), tokens, runs)
            .with_two_way(two_way_sync),
        pusher,
        sync_jobs,
        two_way_jobs,
        github,
        webhooks: crate::webhooks::service(settings, &db),
        db,
    })
}

/// The GitHub adapter, its rate-limit gate and create pacing shared through
/// PostgreSQL with every other instance (ADR 0021).
fn github_client(settings: &Settings, db: &Database) -> anyhow::Result<GithubClient> {
    let api_url = url::Url::parse(&settings.github.api_url)
        .with_context(|| format!("github.api_url {:?} is not a URL", settings.github.api_url))?;
    let client =
        GithubClient::new(GithubConfig::new(api_url)).context("building the GitHub client")?;
    Ok(client.with_shared_throttle(pm_github::SharedThrottle {
        throttle: Arc::new(pm_postgres::PgGithubThrottle::new(db.clone())),
        fingerprint: Arc::new(pm_crypto::Sha256Fingerprint),
        create_interval: Duration::from_millis(settings.github.push_interval_ms),
    }))
}

/// The encryption keyring: `PMHUB_ENCRYPTION_KEY` (+ old keys). Outside production
/// a missing key is generated once into the local data folder, so `make run` works
/// out of the box; production refuses to start without one.
pub fn keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let old = settings
        .crypto
        .old_keys
        .as_ref()
        .map(|k| k.expose_secret().to_string());
    let current = match &settings.crypto.key {
        Some(key) => key.expose_secret().to_string(),
        None if settings.is_production() => anyhow::bail!(
            "PMHUB_ENCRYPTION_KEY is required in production (base64 of 32 bytes, optionally `kid:base64`)"
        ),
        None => dev_key(&settings.crypto.dev_key_file)?,
    };
    Keyring::from_config(&current, old.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))
}

fn dev_key(path: &std::path::Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_string());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = Keyring::generate_encoded_key();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the development key file {}", path.display()))?;
    file.write_all(key.as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "no PMHUB_ENCRYPTION_KEY: generated a development key (never use this in production)"
    );
    Ok(key)
}

/// Routes, extractor configuration and fallbacks; shared by the server and tests.
pub fn configure_app(cfg: &mut web::ServiceConfig, state: AppState) {
    cfg.app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .configure(routes::health::configure)
        .configure(routes::metrics::configure)
        .configure(routes::webhooks::configure) // signed by GitHub: before the token scope
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(authenticate))
                .configure(routes::accounts::configure)
                .configure(routes::github::configure)
                .configure(routes::projects::configure)
                .configure(routes::specs::configure)
                .configure(routes::sync::configure)
                .configure(routes::tasks::configure),
        )
        .service(web::resource("/docs").route(web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("location", "/docs/"))
                .finish()
        })))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::document()))
        .configure(pm_web::configure)
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::RouteNotFound)
        }));
}
