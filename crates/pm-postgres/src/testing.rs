//! Per-test databases, so tests run in parallel against a real PostgreSQL.
//!
//! The first test of a run migrates a template database (named after a hash of the
//! migration files, so a changed migration gets a fresh template); every test then
//! clones it with `CREATE DATABASE … TEMPLATE`, which takes milliseconds, and drops
//! its clone when the [`TestDb`] is dropped. The server comes from `DATABASE_URL`
//! (`make test` provides it, starting a local cluster if needed).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a broken test setup should stop the test loudly"
)]

use crate::{Database, DbConfig, run_migrations};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Duration;

/// A database of one's own, migrated, dropped on drop.
pub struct TestDb {
    pub url: String,
    pub db: Database,
    name: String,
    admin_url: String,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("name", &self.name).finish()
    }
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
    })
}

/// The URL of database `name` on the server of `base`.
pub fn url_for(base: &str, name: &str) -> String {
    let mut url = url::Url::parse(base).expect("DATABASE_URL is a valid URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn migrations_fingerprint() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut hasher = DefaultHasher::new();
    for path in entries {
        path.file_name().hash(&mut hasher);
        std::fs::read_to_string(path.join("up.sql"))
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

async fn admin_conn(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL ({e}); is it running?"))
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(sql).execute(conn).await
}

#[derive(diesel::QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Creates the migrated template once per server and migration set. An advisory
/// lock makes concurrent test processes (nextest runs one per test) wait for the
/// first one instead of racing it.
async fn ensure_template(admin: &mut AsyncPgConnection, admin_url: &str) -> String {
    let template = format!("pmhub_tpl_{}", migrations_fingerprint());
    exec(admin, "SELECT pg_advisory_lock(74210001)")
        .await
        .expect("advisory lock");
    let exists = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{template}') AS exists"
    ))
    .get_result::<Exists>(admin)
    .await
    .expect("look up template")
    .exists;
    if !exists {
        // Build under a temporary name and rename at the end, so a crash midway
        // never leaves a half-migrated template behind under the real name.
        let building = format!("{template}_building");
        exec(
            admin,
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        )
        .await
        .expect("drop stale template");
        exec(admin, &format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        run_migrations(&url_for(admin_url, &building))
            .await
            .expect("migrate template");
        rename_when_idle(admin, &building, &template).await;
    }
    exec(admin, "SELECT pg_advisory_unlock(74210001)")
        .await
        .expect("advisory unlock");
    template
}

/// The migration connection may still be closing; retry briefly.
async fn rename_when_idle(admin: &mut AsyncPgConnection, from: &str, to: &str) {
    for attempt in 0.. {
        match exec(admin, &format!("ALTER DATABASE {from} RENAME TO {to}")).await {
            Ok(_) => return,
            Err(e) if attempt < 50 => {
                tracing::debug!("template rename retried: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("rename template: {e}"),
        }
    }
}

impl TestDb {
    /// A fresh, migrated database. Needs a multi-threaded runtime
    /// (`#[tokio::test(flavor = "multi_thread")]`): migrations use `block_in_place`.
    pub async fn new() -> Self {
        let admin_url = admin_url();
        let mut admin = admin_conn(&admin_url).await;
        let template = ensure_template(&mut admin, &admin_url).await;
        let name = format!("pmhub_test_{}", uuid::Uuid::now_v7().simple());
        let mut attempt = 0;
        loop {
            match exec(
                &mut admin,
                &format!("CREATE DATABASE {name} TEMPLATE {template}"),
            )
            .await
            {
                Ok(_) => break,
                // "source database is being accessed by other users": a connection
                // to the template is still closing.
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    tracing::debug!("create test database retried: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        let url = url_for(&admin_url, &name);
        let mut config = DbConfig::new(&url);
        config.max_connections = 8;
        let db = Database::connect(&config).expect("pool");
        Self {
            url,
            db,
            name,
            admin_url,
        }
    }

    /// A fresh database with nothing in it, not even the migrations (to test what
    /// runs them); dropped on drop like [`TestDb::new`]'s.
    pub async fn empty() -> Self {
        let admin_url = admin_url();
        let mut admin = admin_conn(&admin_url).await;
        let name = format!("pmhub_test_{}", uuid::Uuid::now_v7().simple());
        exec(&mut admin, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create empty test database: {e}"));
        let url = url_for(&admin_url, &name);
        let mut config = DbConfig::new(&url);
        config.max_connections = 8;
        let db = Database::connect(&config).expect("pool");
        Self {
            url,
            db,
            name,
            admin_url,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop is synchronous and may run inside a runtime: use a thread with its
        // own small runtime. Best effort: a leftover database is harmless.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url).await {
                    let _ = exec(
                        &mut conn,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    )
                    .await;
                }
            });
        })
        .join();
    }
}
