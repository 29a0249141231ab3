//! Embedded migrations from the workspace's top-level `migrations/` folder.

use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use pm_kernel::Error;

pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Applies pending migrations and returns how many ran. Opens its own connection
/// (migrations hold locks that a pooled connection should not keep).
///
/// Needs a multi-threaded tokio runtime: the harness uses `block_in_place`.
pub async fn run_migrations(database_url: &str) -> Result<usize, Error> {
    let conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| Error::internal_because("connecting to run migrations", e))?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| Error::internal_because("running migrations", e))?;
    Ok(applied.len())
}
