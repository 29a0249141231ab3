//! Throw-away databases for the demo and the benchmark: a fresh, uniquely named database on
//! the server of `DATABASE_URL`, dropped when done, so a run never sees (or leaves) data of
//! another.
//!
//! Tests use `pm_postgres::testing::TestDb` instead, which clones a migrated template.

use anyhow::{Context, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::time::{SystemTime, UNIX_EPOCH};

/// A database of one's own on an existing server. Dropped (with `FORCE`, so open
/// connections do not keep it alive) by [`ScratchDatabase::drop_now`] or, best effort, on drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// The new database's URL.
    pub url: String,
    name: String,
    admin_url: String,
    dropped: bool,
}

impl ScratchDatabase {
    /// Creates `{prefix}_{unix seconds}_{pid}` on the server of `admin_url` (any database of
    /// that server the role may connect to). `prefix` must be a lowercase SQL identifier.
    pub async fn create(admin_url: &str, prefix: &str) -> anyhow::Result<Self> {
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            bail!("database prefix {prefix:?} must be lowercase letters, digits and `_`");
        }
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let name = format!("{prefix}_{secs}_{}", std::process::id());
        let mut conn = connect(admin_url).await?;
        // The name is built above from checked parts, so interpolating it is safe.
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        Ok(Self {
            url: url_for(admin_url, &name)?,
            name,
            admin_url: admin_url.to_string(),
            dropped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one statement on the server's admin connection, e.g. `ALTER DATABASE … SET …`
    /// for this database (name it with [`ScratchDatabase::name`]).
    pub async fn admin_execute(&self, sql: &str) -> anyhow::Result<()> {
        let mut conn = connect(&self.admin_url).await?;
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .with_context(|| format!("running {sql:?}"))?;
        Ok(())
    }

    /// Drops the database now and reports failures (drop only logs them to stderr).
    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop is synchronous and may run inside a Tokio runtime (where blocking on a
        // future panics): use a thread with a small runtime of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_database(&admin_url, &name))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop database {}: {e:#}", self.name),
            Err(_) => eprintln!("warning: dropping database {} panicked", self.name),
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(url)))
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(admin_url).await?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping database {name}"))?;
    Ok(())
}

/// The URL of database `name` on the server of `base`.
pub fn url_for(base: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(base).context("the database URL is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// `base` without its password, for messages.
pub fn redact(base: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<not a URL>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_for_replaces_the_database_and_keeps_the_rest() {
        assert_eq!(
            url_for(
                "postgres://u:p@127.0.0.1:54329/pmhub?sslmode=disable",
                "x_1"
            )
            .unwrap(),
            "postgres://u:p@127.0.0.1:54329/x_1?sslmode=disable"
        );
    }

    #[test]
    fn redact_hides_the_password() {
        assert_eq!(
            redact("postgres://u:secret@h:1/db"),
            "postgres://u:***@h:1/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
