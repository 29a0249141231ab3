//! What handlers reach: the domain services, built once at start-up.

use pm_accounts::AccountService;
use pm_integrations::{ConnectionService, IssueImporter, PushService, RepoService, SyncJobs};
use pm_postgres::Database;
use pm_projects::ProjectService;
use pm_specs::SpecService;
use pm_tasks::TaskService;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub accounts: AccountService,
    pub projects: ProjectService,
    pub specs: SpecService,
    pub tasks: TaskService,
    pub connections: ConnectionService,
    pub repos: RepoService,
    pub importer: IssueImporter,
    pub pusher: PushService,
    /// Imports and pushes as background jobs (what the routes use).
    pub sync_jobs: SyncJobs,
    /// The job handlers of two-way sync (registered by `jobs::registry`).
    pub two_way_jobs: TwoWayJobs,
    pub github: std::sync::Arc<dyn pm_integrations::GithubApi>,
    pub webhooks: pm_integrations::WebhookService,
    /// Two-way sync's settings, journal, conflicts and health.
    pub two_way: pm_integrations::two_way::TwoWayService,
}

/// The handlers of two-way sync's jobs, built with the rest of the state so they
/// share its GitHub client and stores.
#[derive(Clone)]
pub struct TwoWayJobs {
    /// `github.merge`: a project's dirty issues.
    pub merge: std::sync::Arc<pm_integrations::two_way::MergeJobHandler>,
    /// `github.reconcile`: one project's repository.
    pub reconcile: std::sync::Arc<pm_integrations::two_way::ReconcileJobHandler>,
    /// `github.reconcile_tick`: a reconcile per two-way project.
    pub tick: std::sync::Arc<pm_integrations::two_way::ReconcileTickHandler>,
}
