//! A bounded snapshot of the `jobs` table for the metrics endpoint: counts of
//! active and failed jobs by kind and status, and the age of the oldest job
//! waiting to be claimed. Two statements on the partial indexes' columns; the
//! table only holds finished jobs for `jobs.retention_days`.

use crate::{Database, errors};
use diesel::prelude::QueryableByName;
use diesel::sql_types::{Float8, Int8, Nullable, Text};
use diesel_async::RunQueryDsl;
use pm_kernel::Result;
use std::time::Duration;

/// At most this many (kind, status) groups are reported.
const MAX_GROUPS: i64 = 500;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSnapshot {
    /// (kind, status, count) for `queued`, `waiting`, `running` and `failed`. A
    /// running job whose lease ran out counts as `queued`, as the API shows it.
    pub counts: Vec<(String, String, u64)>,
    /// How long the oldest due `queued` job has been waiting; zero when none is.
    pub oldest_queued_age: Duration,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Int8)]
    n: i64,
}

#[derive(QueryableByName)]
struct AgeRow {
    #[diesel(sql_type = Nullable<Float8>)]
    age_secs: Option<f64>,
}

pub async fn job_snapshot(db: &Database) -> Result<JobSnapshot> {
    db.run(async |conn| {
        let rows: Vec<CountRow> = diesel::sql_query(format!(
            "SELECT kind, \
               CASE WHEN status = 'running' AND lease_until < now() THEN 'queued' ELSE status END \
                 AS status, \
               count(*)::int8 AS n \
             FROM jobs WHERE status IN ('queued', 'waiting', 'running', 'failed') \
             GROUP BY 1, 2 ORDER BY 1, 2 LIMIT {MAX_GROUPS}"
        ))
        .load(conn)
        .await
        .map_err(errors::internal)?;
        let age: AgeRow = diesel::sql_query(
            "SELECT EXTRACT(EPOCH FROM now() - min(due))::float8 AS age_secs FROM ( \
               SELECT run_at AS due FROM jobs WHERE status = 'queued' AND run_at <= now() \
               UNION ALL \
               SELECT lease_until FROM jobs WHERE status = 'running' AND lease_until < now() \
             ) d",
        )
        .get_result(conn)
        .await
        .map_err(errors::internal)?;
        Ok(JobSnapshot {
            counts: rows
                .into_iter()
                .map(|r| (r.kind, r.status, u64::try_from(r.n).unwrap_or(0)))
                .collect(),
            oldest_queued_age: Duration::from_secs_f64(age.age_secs.unwrap_or(0.0).max(0.0)),
        })
    })
    .await
}
