//! The connection pool.

use crate::errors;
use diesel::connection::InstrumentationEvent;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::FutureExt;
use pm_kernel::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone)]
pub struct DbConfig {
    pub url: String,
    pub max_connections: usize,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// The URL with its password (if any) replaced, for logs and `Debug`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://app:s3cr3t@db:5432/pmhub"),
            "postgres://app:***@db:5432/pmhub"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1/pmhub"),
            "postgres://postgres@127.0.0.1/pmhub"
        );
        let config = DbConfig::new("postgres://app:s3cr3t@db/pmhub");
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}

impl DbConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A cloneable handle on the pool.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    statements: Arc<AtomicU64>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("Database")
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl Database {
    /// Builds the pool. Connections are opened lazily, so this does not fail when
    /// the server is down; [`Database::ping`] tells.
    pub fn connect(config: &DbConfig) -> Result<Self, Error> {
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        // Count every statement the pool's connections run: cheap (one atomic
        // add), and it lets tests and the benchmark check statements per page.
        manager_config.custom_setup = Box::new(move |url| {
            let counter = counter.clone();
            async move {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                    if let InstrumentationEvent::StartQuery { .. } = event {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                });
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            &config.url,
            manager_config,
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.acquire_timeout))
            .runtime(deadpool_runtime())
            .build()
            .map_err(errors::pool)?;
        Ok(Self { pool, statements })
    }

    /// Statements run through this pool since it was built (including the
    /// pool's own connection checks).
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, Error> {
        self.pool.get().await.map_err(errors::pool)
    }

    /// Checks that the database answers (`SELECT 1`), for readiness probes.
    pub async fn ping(&self) -> Result<(), Error> {
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(errors::internal)
    }
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}
