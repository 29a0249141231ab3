//! The PostgreSQL adapter: diesel + diesel-async over a deadpool pool. One
//! repository type per domain port; each keeps its row structs private and turns
//! database errors into `pm_kernel::Error` (unique violations become `Conflict`).

mod accounts;
mod cached;
mod db;
mod errors;
mod integrations;
mod job_stats;
mod jobs;
mod journal;
mod leases;
mod merge;
mod migrations;
mod projects;
mod push;
pub mod schema;
mod specs;
mod sync_settings;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;
mod webhooks;

pub use accounts::PgAccountStore;
pub use db::{Database, DbConfig, redact_password};
pub use integrations::{PgCredentialStore, PgSyncStore};
pub use job_stats::{JobSnapshot, job_snapshot};
pub use jobs::{
    JOBS_CHANNEL, PgJobQueue, RERUN_ON_JOIN, enqueue_in, reruns_on_join, spawn_job_listener,
};
pub use journal::PgSyncJournal;
pub use leases::PgProjectLeases;
pub use merge::PgMergeStore;
pub use migrations::run_migrations;
pub use projects::PgProjectRepository;
pub use push::PgPushStore;
pub use specs::PgSpecRepository;
pub use sync_settings::PgSyncSettings;
pub use tasks::PgTaskStore;
pub use throttle::PgGithubThrottle;
pub use webhooks::{PgWebhookStore, delivery_job};
