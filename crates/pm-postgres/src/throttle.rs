//! `PgGithubThrottle`: the shared GitHub rate-limit gate and create pacing
//! (`github_throttle`; ADR 0021). Each call is one short statement; every time is
//! the database's clock, so instances on several machines agree.

use crate::{Database, errors};
use async_trait::async_trait;
use diesel::prelude::{OptionalExtension, QueryableByName};
use diesel::sql_types::{Int8, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use pm_integrations::{GithubThrottle, TokenKey};
use pm_kernel::Result;
use std::time::Duration;
use time::OffsetDateTime;

/// Rows untouched for this long, with nothing pending, are deleted (one row per
/// token ever used; tokens are rotated and revoked).
const PRUNE_AFTER: &str = "interval '1 day'";

#[derive(Clone)]
pub struct PgGithubThrottle {
    db: Database,
}

#[derive(QueryableByName)]
struct WaitRow {
    #[diesel(sql_type = Int8)]
    wait_ms: i64,
}

#[derive(QueryableByName)]
struct SlotRow {
    #[diesel(sql_type = Timestamptz)]
    slot: OffsetDateTime,
    #[diesel(sql_type = Int8)]
    wait_ms: i64,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn wait(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl PgGithubThrottle {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Reserves the token's next create slot and returns it (database time) with
    /// the wait until it. The upsert locks the token's row, so concurrent callers
    /// on any number of pools queue on it and each gets a slot `interval` after
    /// the one before: `GREATEST(next, now()) + interval`, the slot being the
    /// value before the addition.
    pub async fn reserve_slot(
        &self,
        token: &TokenKey,
        interval: Duration,
    ) -> Result<(OffsetDateTime, Duration)> {
        let key = token.as_str().to_string();
        let interval_ms = millis(interval);
        let row: SlotRow = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "INSERT INTO github_throttle AS t (token_key, next_create_at, updated_at) \
                     VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond', clock_timestamp()) \
                     ON CONFLICT (token_key) DO UPDATE SET \
                       next_create_at = GREATEST(t.next_create_at, clock_timestamp()) \
                                        + $2 * interval '1 millisecond', \
                       updated_at = clock_timestamp() \
                     RETURNING t.next_create_at - $2 * interval '1 millisecond' AS slot, \
                       GREATEST(0, CEIL(EXTRACT(EPOCH FROM \
                         (t.next_create_at - $2 * interval '1 millisecond' - clock_timestamp())) \
                         * 1000))::int8 AS wait_ms",
                )
                .bind::<Text, _>(key)
                .bind::<Int8, _>(interval_ms)
                .get_result(conn)
                .await
                .map_err(errors::internal)
            })
            .await?;
        Ok((row.slot, wait(row.wait_ms)))
    }
}

#[async_trait]
impl GithubThrottle for PgGithubThrottle {
    async fn blocked_for(&self, token: &TokenKey) -> Result<Option<Duration>> {
        let key = token.as_str().to_string();
        let row: Option<WaitRow> = self
            .db
            .run(async |conn| {
                diesel::sql_query(
                    "SELECT CEIL(EXTRACT(EPOCH FROM (blocked_until - clock_timestamp())) * 1000)::int8 \
                       AS wait_ms \
                     FROM github_throttle \
                     WHERE token_key = $1 AND blocked_until > clock_timestamp()",
                )
                .bind::<Text, _>(key)
                .get_result(conn)
                .await
                .optional()
                .map_err(errors::internal)
            })
            .await?;
        Ok(row.map(|r| wait(r.wait_ms)).filter(|w| !w.is_zero()))
    }

    async fn block_for(&self, token: &TokenKey, wait: Duration) -> Result<()> {
        let key = token.as_str().to_string();
        let wait_ms = millis(wait);
        self.db
            .run(async |conn| {
                diesel::sql_query(
                    "INSERT INTO github_throttle AS t (token_key, blocked_until, updated_at) \
                     VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond', clock_timestamp()) \
                     ON CONFLICT (token_key) DO UPDATE SET \
                       blocked_until = GREATEST(t.blocked_until, EXCLUDED.blocked_until), \
                       updated_at = clock_timestamp()",
                )
                .bind::<Text, _>(key)
                .bind::<Int8, _>(wait_ms)
                .execute(conn)
                .await
                .map_err(errors::internal)?;
                // Rate limits are rare, so pruning here costs nothing measurable.
                diesel::sql_query(format!(
                    "DELETE FROM github_throttle \
                     WHERE updated_at < clock_timestamp() - {PRUNE_AFTER} \
                       AND COALESCE(blocked_until, '-infinity') < clock_timestamp() \
                       AND COALESCE(next_create_at, '-infinity') < clock_timestamp()"
                ))
                .execute(conn)
                .await
                .map_err(errors::internal)?;
                Ok(())
            })
            .await
    }

    async fn reserve_create_slot(&self, token: &TokenKey, interval: Duration) -> Result<Duration> {
        Ok(self.reserve_slot(token, interval).await?.1)
    }
}
