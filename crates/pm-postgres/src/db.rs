//! The connection pool.

use crate::errors::{self, DbResultExt};
use diesel::connection::InstrumentationEvent;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection, RecyclingMethod,
};
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
    /// Server-side `statement_timeout`, set on every connection when it opens:
    /// PostgreSQL cancels a statement that runs longer (`57014`).
    pub statement_timeout: Duration,
    /// Client-side deadline on one database operation: checking a connection
    /// out of the pool plus every statement run on it. Past it the operation
    /// fails as [`Error::Unavailable`] and the connection is discarded (it may
    /// be mid-protocol), whatever the server or the network does.
    pub operation_timeout: Duration,
    /// Deadline of [`Database::ping`] (readiness probes answer within it).
    pub ping_timeout: Duration,
    /// Opening a TCP connection and logging in.
    pub connect_timeout: Duration,
    /// TCP keepalive idle time; a silent peer is probed after it.
    pub keepalive_idle: Duration,
    /// `TCP_USER_TIMEOUT`: a connection whose sent data stays unacknowledged
    /// this long is closed by the kernel (a black-holed host).
    pub tcp_user_timeout: Duration,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive_idle", &self.keepalive_idle)
            .field("tcp_user_timeout", &self.tcp_user_timeout)
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

    async fn sleep_for(db: &Database, secs: u32) -> Result<(), Error> {
        use diesel_async::RunQueryDsl;
        db.run(async |conn| {
            diesel::sql_query(format!("SELECT pg_sleep({secs})"))
                .execute(conn)
                .await
                .map(|_| ())
                .or_internal()
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn slow_statements_are_cut_server_side_then_client_side() {
        let test = crate::testing::TestDb::new().await;
        // The server's statement_timeout cancels first (the session would stay
        // usable, but `run` discards it like any `Unavailable` one).
        let mut config = DbConfig::new(&test.url);
        config.max_connections = 1;
        config.statement_timeout = Duration::from_millis(200);
        let db = Database::connect(&config).unwrap();
        let started = std::time::Instant::now();
        match sleep_for(&db, 3).await {
            Err(Error::Unavailable(m)) => assert!(m.contains("statement timeout"), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        db.ping().await.unwrap();

        // With a longer statement_timeout, the client deadline fires and the
        // connection is discarded; the pool (of one) opens a fresh one.
        config.statement_timeout = Duration::from_secs(10);
        config.operation_timeout = Duration::from_millis(300);
        let db = Database::connect(&config).unwrap();
        db.ping().await.unwrap();
        let started = std::time::Instant::now();
        match sleep_for(&db, 3).await {
            Err(Error::Unavailable(m)) => assert!(m.contains("did not answer"), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(db.pool.status().size, 0, "the timed-out connection is gone");
        db.ping().await.unwrap();
    }

    #[derive(diesel::QueryableByName)]
    struct BackendPid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }

    async fn backend_pid(db: &Database) -> Result<i32, Error> {
        use diesel_async::RunQueryDsl;
        db.run(async |conn| {
            diesel::sql_query("SELECT pg_backend_pid() AS pid")
                .get_result::<BackendPid>(conn)
                .await
                .map(|r| r.pid)
                .map_err(errors::internal)
        })
        .await
    }

    fn pool_of_one(test: &crate::testing::TestDb) -> Database {
        let mut config = DbConfig::new(&test.url);
        config.max_connections = 1;
        Database::connect(&config).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_checkout_runs_no_statement() {
        let test = crate::testing::TestDb::new().await;
        let db = pool_of_one(&test);
        let first = backend_pid(&db).await.unwrap();
        let before = db.statements_executed();
        for _ in 0..3 {
            assert_eq!(
                backend_pid(&db).await.unwrap(),
                first,
                "the same connection"
            );
        }
        // Three operations of one statement each, and no `SELECT 1` in between.
        assert_eq!(db.statements_executed() - before, 3);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_session_the_server_ended_is_never_handed_out_again() {
        use diesel_async::RunQueryDsl;
        let test = crate::testing::TestDb::new().await;
        let db = pool_of_one(&test);
        let first = backend_pid(&db).await.unwrap();

        // Ended from elsewhere while idle in the pool: its socket closes, the
        // checkout's `is_broken` sees it, and a new session is opened.
        let mut admin = AsyncPgConnection::establish(&test.url).await.unwrap();
        diesel::sql_query(format!("SELECT pg_terminate_backend({first})"))
            .execute(&mut admin)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = backend_pid(&db).await.unwrap();
        assert_ne!(second, first);

        // Ended under an operation: the operation fails as `Unavailable` and
        // `run` drops the connection at once, before anyone can check it out.
        let err = db
            .run(async |conn| {
                diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())")
                    .execute(conn)
                    .await
                    .map(|_| ())
                    .map_err(errors::internal)
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert_eq!(db.pool.status().size, 0, "the dead connection is gone");
        let third = backend_pid(&db).await.unwrap();
        assert!(third != second && third != first);
    }
}

impl DbConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(8),
            ping_timeout: Duration::from_millis(1500),
            connect_timeout: Duration::from_secs(5),
            keepalive_idle: Duration::from_secs(10),
            tcp_user_timeout: Duration::from_secs(10),
        }
    }
}

/// A cloneable handle on the pool.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    statements: Arc<AtomicU64>,
    operation_timeout: Duration,
    ping_timeout: Duration,
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

/// The `tokio_postgres` settings every pool connection is opened with: the
/// URL's, plus the server-side statement timeout and the TCP guards against a
/// dead peer.
fn pg_config(config: &DbConfig) -> Result<tokio_postgres::Config, Error> {
    let mut pg: tokio_postgres::Config = config
        .url
        .parse()
        .map_err(|_| Error::internal("the database URL is not a valid PostgreSQL URL"))?;
    let statement_timeout = format!(
        "-c statement_timeout={}",
        config.statement_timeout.as_millis().max(1)
    );
    let options = match pg.get_options() {
        Some(existing) if !existing.is_empty() => format!("{existing} {statement_timeout}"),
        _ => statement_timeout,
    };
    pg.options(options)
        .connect_timeout(config.connect_timeout)
        .keepalives(true)
        .keepalives_idle(config.keepalive_idle)
        .keepalives_interval(Duration::from_secs(2))
        .keepalives_retries(3)
        .tcp_user_timeout(config.tcp_user_timeout);
    Ok(pg)
}

impl Database {
    /// Builds the pool. Connections are opened lazily, so this does not fail when
    /// the server is down; [`Database::ping`] tells.
    pub fn connect(config: &DbConfig) -> Result<Self, Error> {
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        let pg = Arc::new(pg_config(config)?);
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        // No `SELECT 1` before handing a connection out (the default, `Verified`,
        // costs a round trip per checkout). `Fast` still refuses a connection
        // that diesel-async knows to be unusable: its socket closed (the server
        // went away or terminated it: the connection task has ended) or a
        // transaction it could not roll back. A connection whose operation failed
        // as `Unavailable` or timed out is discarded by [`Database::run`] itself.
        manager_config.recycling_method = RecyclingMethod::Fast;
        // Each connection is opened from the tokio_postgres config above (timeouts,
        // keepalives), and counts every statement it runs: cheap (one atomic add),
        // and it lets tests and the benchmark check statements per page.
        manager_config.custom_setup = Box::new(move |_url| {
            let counter = counter.clone();
            let pg = pg.clone();
            async move {
                let (client, connection) = pg
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                let mut conn =
                    AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
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
            .recycle_timeout(Some(config.acquire_timeout))
            .runtime(deadpool_runtime())
            .build()
            .map_err(|e| Error::internal_because("database pool", e))?;
        Ok(Self {
            pool,
            statements,
            operation_timeout: config.operation_timeout,
            ping_timeout: config.ping_timeout,
        })
    }

    /// Statements run through this pool since it was built (there are no
    /// connection checks: recycling is `Fast`).
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Runs one database operation (`op` may run several statements or a
    /// transaction) on a pooled connection, within the operation deadline. Every
    /// store goes through here, so no request waits on the database longer than
    /// the deadline per operation.
    pub(crate) async fn run<T>(
        &self,
        op: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.run_within(self.operation_timeout, op).await
    }

    async fn run_within<T>(
        &self,
        limit: Duration,
        op: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut conn = tokio::time::timeout_at(deadline, self.pool.get())
            .await
            .map_err(|_| Error::Unavailable(format!("no connection within {limit:?}")))?
            .map_err(errors::pool)?;
        match tokio::time::timeout_at(deadline, op(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                // With `Fast` recycling nothing checks a connection before its
                // next use, so one that may be dead goes now: a closed socket or
                // a broken transaction, and any `Unavailable` (the server shutting
                // down or terminating the session, a lost connection; a statement
                // timeout too, which leaves the session usable, but it is rare and
                // a new connection costs only a login).
                if matches!(err, Error::Unavailable(_)) || conn.is_broken() {
                    drop(Object::take(conn));
                }
                Err(err)
            }
            Err(_) => {
                // The statement may be half sent or its answer half read: never
                // hand this connection to another request. Taking it out of the
                // pool and dropping it closes the socket (the server then rolls
                // back whatever transaction was open).
                drop(Object::take(conn));
                Err(Error::Unavailable(format!(
                    "the database did not answer within {limit:?}"
                )))
            }
        }
    }

    /// Checks that the database answers (`SELECT 1`), for readiness probes,
    /// within the (short) ping deadline.
    pub async fn ping(&self) -> Result<(), Error> {
        use diesel_async::RunQueryDsl;
        self.run_within(self.ping_timeout, async |conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .await
                .map(|_| ())
                .or_internal()
        })
        .await
    }
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}
