//! `MergeStore` on PostgreSQL: the linked issues with their snapshots, the atomic
//! application of what a merge decided (task, link, journal, conflicts), the
//! reconcile watermark (`github_reconcile_state`) and the two-way projects.
//! Migration `2026-12-01-100001_two_way_sync`.

use crate::cached::CachedSql;
use crate::errors::{self, DbResultExt};
use crate::tasks::{LINK_ARRAYS, TaskRow, links_from_arrays, reopen_status_sql};
use crate::{Database, errors::internal};
use async_trait::async_trait;
use diesel::prelude::{OptionalExtension, QueryableByName};
use diesel::result::Error as DieselError;
use diesel::sql_types::{
    Array, BigInt, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_integrations::two_way::{
    Applied, IssueFields, LinkChange, LinkState, LinkedIssue, MergeApply, MergeStore, NewConflict,
    NewSyncEvent, SyncDirectionOfChange, SyncField, TwoWayProject,
};
use pm_integrations::{GITHUB_PROVIDER, SyncCounts};
use pm_kernel::{Error, ProjectId, Result, SyncRunId, TaskId, Timestamp, WorkspaceId};
use pm_tasks::{Labels, TaskDescription, TaskTitle};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PgMergeStore {
    db: Database,
}

impl PgMergeStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The issue id and number a GitHub link names: the dedup key's tail
/// (`github:{host}:issue:{id}`) and the reference's (`owner/name#N`), as the
/// migration back-filled them for older links.
pub(crate) fn issue_of_link(dedup_key: &str, reference: &str) -> (Option<i64>, Option<i64>) {
    let id = dedup_key
        .rsplit_once(":issue:")
        .and_then(|(_, id)| id.parse().ok());
    let number = reference.rsplit_once('#').and_then(|(_, n)| n.parse().ok());
    (id, number)
}

/// A snapshot as stored in `external_links.snapshot`.
pub(crate) fn snapshot_json(fields: &IssueFields) -> Result<Value, DieselError> {
    serde_json::to_value(fields).map_err(|e| DieselError::SerializationError(Box::new(e)))
}

/// The linked issues of a project, one statement: each GitHub link with its task
/// (and the task's links, aggregated as the task list does). `$1` the project,
/// `$2` the issue ids, `$3` the provider.
static LINKED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT t.id, t.project_id, t.number, t.title, t.description, t.status, t.priority,
                t.labels, t.source, t.created_at, t.updated_at, t.reopen_status,
                l.id AS link_id, l.github_issue_id, l.issue_number, l.reference, l.snapshot,
                l.etag, l.link_state,
                links.providers AS link_providers, links.refs AS link_references,
                links.urls AS link_urls
           FROM external_links l
           JOIN tasks t ON t.id = l.task_id
           {LINK_ARRAYS}
          WHERE l.project_id = $1 AND l.provider = $3 AND l.github_issue_id = ANY($2)
          ORDER BY l.github_issue_id"
    )
});

#[derive(QueryableByName)]
struct LinkedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    project_id: Uuid,
    #[diesel(sql_type = BigInt)]
    number: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    priority: String,
    #[diesel(sql_type = Array<Text>)]
    labels: Vec<String>,
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    updated_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    reopen_status: Option<String>,
    #[diesel(sql_type = SqlUuid)]
    link_id: Uuid,
    #[diesel(sql_type = BigInt)]
    github_issue_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    issue_number: Option<i64>,
    #[diesel(sql_type = Text)]
    reference: String,
    #[diesel(sql_type = Nullable<Jsonb>)]
    snapshot: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    etag: Option<String>,
    #[diesel(sql_type = Text)]
    link_state: String,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    link_providers: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    link_references: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    link_urls: Option<Vec<String>>,
}

impl LinkedRow {
    fn into_domain(self) -> Result<LinkedIssue> {
        let links = links_from_arrays(self.link_providers, self.link_references, self.link_urls)?;
        let (repo, number_in_ref) = match self.reference.rsplit_once('#') {
            Some((repo, n)) => (repo.to_string(), n.parse::<i64>().ok()),
            None => (self.reference.clone(), None),
        };
        let issue_number = self
            .issue_number
            .or(number_in_ref)
            .ok_or_else(|| Error::internal("external_links: a GitHub link without a number"))?;
        let snapshot = self
            .snapshot
            .map(serde_json::from_value::<IssueFields>)
            .transpose()
            .map_err(|e| Error::internal(format!("external_links.snapshot: {e}")))?;
        let reopen_status = self
            .reopen_status
            .as_deref()
            .map(|s| errors::stored("tasks.reopen_status", s))
            .transpose()?;
        let state: LinkState = errors::stored("external_links.link_state", &self.link_state)?;
        let task = TaskRow {
            id: self.id,
            project_id: self.project_id,
            number: self.number,
            title: self.title,
            description: self.description,
            status: self.status,
            priority: self.priority,
            labels: self.labels,
            source: self.source,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
        .into_domain(links)?;
        Ok(LinkedIssue {
            task,
            reopen_status,
            link_id: self.link_id,
            github_issue_id: self.github_issue_id,
            repo_full_name: repo,
            issue_number,
            snapshot,
            etag: self.etag,
            state,
        })
    }
}

async fn load_linked(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    github_issue_ids: &[i64],
) -> Result<Vec<LinkedIssue>> {
    let rows: Vec<LinkedRow> = CachedSql::new(LINKED.as_str())
        .bind::<SqlUuid, _>(project_id.into_uuid())
        .bind::<Array<BigInt>, _>(github_issue_ids)
        .bind::<Text, _>(GITHUB_PROVIDER)
        .load(conn)
        .await
        .or_internal()?;
    rows.into_iter().map(LinkedRow::into_domain).collect()
}

/// Journal entries, in one statement (ids: UUIDv7, in the order given).
async fn insert_events(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    events: &[NewSyncEvent],
) -> Result<(), DieselError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let runs: Vec<Option<Uuid>> = events
        .iter()
        .map(|e| e.run_id.map(SyncRunId::into_uuid))
        .collect();
    let tasks: Vec<Option<Uuid>> = events
        .iter()
        .map(|e| e.task_id.map(TaskId::into_uuid))
        .collect();
    let task_numbers: Vec<Option<i64>> = events.iter().map(|e| e.task_number).collect();
    let issue_numbers: Vec<Option<i64>> = events.iter().map(|e| e.issue_number).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let directions: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.direction.map(SyncDirectionOfChange::as_str))
        .collect();
    let fields: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.field.map(SyncField::as_str))
        .collect();
    let from: Vec<Option<&Value>> = events.iter().map(|e| e.from_value.as_ref()).collect();
    let to: Vec<Option<&Value>> = events.iter().map(|e| e.to_value.as_ref()).collect();
    let details: Vec<Option<&str>> = events.iter().map(|e| e.detail.as_deref()).collect();
    CachedSql::new(
        "INSERT INTO github_sync_events (id, project_id, run_id, task_id, task_number,
                                         issue_number, kind, direction, field, from_value,
                                         to_value, detail)
         SELECT e.id, $1, e.run_id, e.task_id, e.task_number, e.issue_number, e.kind,
                e.direction, e.field, e.from_value, e.to_value, e.detail
           FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::int8[], $6::int8[], $7::text[],
                       $8::text[], $9::text[], $10::jsonb[], $11::jsonb[], $12::text[])
                AS e(id, run_id, task_id, task_number, issue_number, kind, direction, field,
                     from_value, to_value, detail)",
    )
    .bind::<SqlUuid, _>(project_id.into_uuid())
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Nullable<SqlUuid>>, _>(&runs)
    .bind::<Array<Nullable<SqlUuid>>, _>(&tasks)
    .bind::<Array<Nullable<BigInt>>, _>(&task_numbers)
    .bind::<Array<Nullable<BigInt>>, _>(&issue_numbers)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Nullable<Text>>, _>(&directions)
    .bind::<Array<Nullable<Text>>, _>(&fields)
    .bind::<Array<Nullable<Jsonb>>, _>(&from)
    .bind::<Array<Nullable<Jsonb>>, _>(&to)
    .bind::<Array<Nullable<Text>>, _>(&details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Conflicts, in one statement (ids: UUIDv7).
async fn insert_conflicts(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    conflicts: &[NewConflict],
) -> Result<(), DieselError> {
    if conflicts.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = conflicts.iter().map(|_| Uuid::now_v7()).collect();
    let runs: Vec<Option<Uuid>> = conflicts
        .iter()
        .map(|c| c.run_id.map(SyncRunId::into_uuid))
        .collect();
    let tasks: Vec<Uuid> = conflicts.iter().map(|c| c.task_id.into_uuid()).collect();
    let task_numbers: Vec<i64> = conflicts.iter().map(|c| c.task_number).collect();
    let issue_numbers: Vec<i64> = conflicts.iter().map(|c| c.issue_number).collect();
    let fields: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
    let base: Vec<Option<&Value>> = conflicts.iter().map(|c| c.base_value.as_ref()).collect();
    let pmhub: Vec<&Value> = conflicts.iter().map(|c| &c.pmhub_value).collect();
    let github: Vec<&Value> = conflicts.iter().map(|c| &c.github_value).collect();
    let policies: Vec<&str> = conflicts.iter().map(|c| c.policy.as_str()).collect();
    CachedSql::new(
        "INSERT INTO github_conflicts (id, project_id, run_id, task_id, task_number, issue_number,
                                       field, base_value, pmhub_value, github_value, policy)
         SELECT c.id, $1, c.run_id, c.task_id, c.task_number, c.issue_number, c.field,
                c.base_value, c.pmhub_value, c.github_value, c.policy
           FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::int8[], $6::int8[], $7::text[],
                       $8::jsonb[], $9::jsonb[], $10::jsonb[], $11::text[])
                AS c(id, run_id, task_id, task_number, issue_number, field, base_value,
                     pmhub_value, github_value, policy)",
    )
    .bind::<SqlUuid, _>(project_id.into_uuid())
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Nullable<SqlUuid>>, _>(&runs)
    .bind::<Array<SqlUuid>, _>(&tasks)
    .bind::<Array<BigInt>, _>(&task_numbers)
    .bind::<Array<BigInt>, _>(&issue_numbers)
    .bind::<Array<Text>, _>(&fields)
    .bind::<Array<Nullable<Jsonb>>, _>(&base)
    .bind::<Array<Jsonb>, _>(&pmhub)
    .bind::<Array<Jsonb>, _>(&github)
    .bind::<Array<Text>, _>(&policies)
    .execute(conn)
    .await?;
    Ok(())
}

/// GitHub's changes to the task, fenced on `updated_at`: no row when the task
/// changed (or went) since the merge read it. No dirty mark (the change came
/// from GitHub); `reopen_status` kept as every task update keeps it.
static PATCH_TASK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE tasks t
            SET title = COALESCE($4, t.title), description = COALESCE($5, t.description),
                status = COALESCE($6, t.status), priority = COALESCE($7, t.priority),
                labels = COALESCE($8, t.labels), reopen_status = {reopen}, updated_at = $9
          WHERE t.id = $1 AND t.project_id = $2 AND t.updated_at = $3",
        reopen = reopen_status_sql("COALESCE($6, t.status)")
    )
});

/// The fence alone, for a merge that changes nothing on the task: the row is
/// locked until the transaction ends, so an edit waits for the merge's write.
const FENCE_TASK: &str =
    "SELECT id FROM tasks WHERE id = $1 AND project_id = $2 AND updated_at = $3 FOR UPDATE";

/// The link after a merge. A snapshot goes with the ETag it was taken with (or
/// none); without a new snapshot a given ETag replaces the stored one.
const UPDATE_LINK: &str = "
UPDATE external_links
   SET snapshot = COALESCE($3, snapshot),
       etag = CASE WHEN $3 IS NOT NULL THEN $4 ELSE COALESCE($4, etag) END,
       synced_at = now(),
       link_state = COALESCE($5, link_state),
       reference = COALESCE($6, reference),
       url = COALESCE($7, url),
       issue_number = COALESCE($8, issue_number),
       updated_at = now()
 WHERE id = $1 AND project_id = $2";

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    #[allow(dead_code)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct WatermarkRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    watermark: Option<OffsetDateTime>,
}

#[derive(QueryableByName)]
struct ProjectRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    workspace_id: Uuid,
    #[diesel(sql_type = Text)]
    slug: String,
    #[diesel(sql_type = Text)]
    github_repo: String,
}

/// The apply's own outcome inside its transaction: stale rolls everything back.
enum ApplyError {
    Stale,
    Db(DieselError),
}

impl From<DieselError> for ApplyError {
    fn from(e: DieselError) -> Self {
        ApplyError::Db(e)
    }
}

async fn apply_tx(conn: &mut AsyncPgConnection, a: &MergeApply) -> Result<(), ApplyError> {
    let project = a.project_id.into_uuid();
    let task = a.task_id.into_uuid();
    // 1. The task, fenced.
    let fenced = if a.task_patch.is_empty() {
        CachedSql::new(FENCE_TASK)
            .bind::<SqlUuid, _>(task)
            .bind::<SqlUuid, _>(project)
            .bind::<Timestamptz, _>(a.expected_updated_at)
            .get_result::<IdRow>(conn)
            .await
            .optional()?
            .is_some()
    } else {
        let p = &a.task_patch;
        let n = CachedSql::new(PATCH_TASK.as_str())
            .bind::<SqlUuid, _>(task)
            .bind::<SqlUuid, _>(project)
            .bind::<Timestamptz, _>(a.expected_updated_at)
            .bind::<Nullable<Text>, _>(p.title.as_ref().map(TaskTitle::as_str))
            .bind::<Nullable<Text>, _>(p.description.as_ref().map(TaskDescription::as_str))
            .bind::<Nullable<Text>, _>(p.status.map(pm_tasks::TaskStatus::as_str))
            .bind::<Nullable<Text>, _>(p.priority.map(pm_tasks::Priority::as_str))
            .bind::<Nullable<Array<Text>>, _>(p.labels.as_ref().map(Labels::as_slice))
            .bind::<Timestamptz, _>(pm_kernel::now())
            .execute(conn)
            .await?;
        n == 1
    };
    if !fenced {
        return Err(ApplyError::Stale);
    }
    // 2. The link.
    let snapshot = a.snapshot.as_ref().map(snapshot_json).transpose()?;
    let (state, moved) = match &a.link {
        LinkChange::Keep => (None, None),
        LinkChange::Deleted => (Some(LinkState::Deleted), None),
        LinkChange::Transferred => (Some(LinkState::Transferred), None),
        LinkChange::Moved {
            reference,
            url,
            issue_number,
        } => (
            Some(LinkState::Active),
            Some((reference, url, *issue_number)),
        ),
    };
    let n = CachedSql::new(UPDATE_LINK)
        .bind::<SqlUuid, _>(a.link_id)
        .bind::<SqlUuid, _>(project)
        .bind::<Nullable<Jsonb>, _>(snapshot.as_ref())
        .bind::<Nullable<Text>, _>(a.etag.as_deref())
        .bind::<Nullable<Text>, _>(state.map(LinkState::as_str))
        .bind::<Nullable<Text>, _>(moved.map(|m| m.0.as_str()))
        .bind::<Nullable<Text>, _>(moved.map(|m| m.1.as_str()))
        .bind::<Nullable<BigInt>, _>(moved.map(|m| m.2))
        .execute(conn)
        .await?;
    if n != 1 {
        // The link went (the task was deleted or relinked) after the merge read it.
        return Err(ApplyError::Stale);
    }
    // 3. The journal and the conflicts.
    insert_events(conn, a.project_id, &a.events).await?;
    insert_conflicts(conn, a.project_id, &a.conflicts).await?;
    Ok(())
}

fn as_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[async_trait]
impl MergeStore for PgMergeStore {
    async fn linked_issue(
        &self,
        project_id: ProjectId,
        github_issue_id: i64,
    ) -> Result<Option<LinkedIssue>> {
        self.db
            .run(async |conn| {
                Ok(load_linked(conn, project_id, &[github_issue_id])
                    .await?
                    .into_iter()
                    .next())
            })
            .await
    }

    async fn linked_issues(
        &self,
        project_id: ProjectId,
        github_issue_ids: &[i64],
    ) -> Result<Vec<LinkedIssue>> {
        if github_issue_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .run(async |conn| load_linked(conn, project_id, github_issue_ids).await)
            .await
    }

    async fn apply(&self, apply: &MergeApply) -> Result<Applied> {
        self.db
            .run(async |conn| {
                let result = conn
                    .transaction::<_, ApplyError, _>(async |conn| apply_tx(conn, apply).await)
                    .await;
                match result {
                    Ok(()) => Ok(Applied::Done),
                    Err(ApplyError::Stale) => Ok(Applied::Stale),
                    Err(ApplyError::Db(e)) => Err(internal(e)),
                }
            })
            .await
    }

    async fn record_events(&self, project_id: ProjectId, events: &[NewSyncEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.db
            .run(async |conn| {
                insert_events(conn, project_id, events)
                    .await
                    .missing_parent("project")
            })
            .await
    }

    async fn add_counts(&self, run_id: SyncRunId, c: SyncCounts) -> Result<()> {
        self.db
            .run(async |conn| {
                CachedSql::new(
                    "UPDATE sync_runs
                        SET created = created + $2, skipped = skipped + $3,
                            updated = updated + $4, unchanged = unchanged + $5,
                            conflicts = conflicts + $6,
                            pull_requests_ignored = pull_requests_ignored + $7,
                            total_seen = total_seen + $8
                      WHERE id = $1",
                )
                .bind::<SqlUuid, _>(run_id.into_uuid())
                .bind::<Integer, _>(as_i32(c.created))
                .bind::<Integer, _>(as_i32(c.skipped))
                .bind::<Integer, _>(as_i32(c.updated))
                .bind::<Integer, _>(as_i32(c.unchanged))
                .bind::<Integer, _>(as_i32(c.conflicts))
                .bind::<Integer, _>(as_i32(c.pull_requests_ignored))
                .bind::<Integer, _>(as_i32(c.total_seen))
                .execute(conn)
                .await
                .map(|_| ())
                .or_internal()
            })
            .await
    }

    async fn reconcile_watermark(&self, project_id: ProjectId) -> Result<Option<Timestamp>> {
        self.db
            .run(async |conn| {
                // A watermark of another repository (the project was relinked or
                // its repository renamed) is no watermark: list everything once.
                let row: Option<WatermarkRow> = CachedSql::new(
                    "SELECT r.watermark FROM github_reconcile_state r
                       JOIN projects p ON p.id = r.project_id
                      WHERE r.project_id = $1 AND p.github_repo IS NOT NULL
                        AND lower(p.github_repo) = lower(r.repo_full_name)",
                )
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?;
                Ok(row.and_then(|r| r.watermark))
            })
            .await
    }

    async fn set_reconcile_watermark(
        &self,
        project_id: ProjectId,
        repo_full_name: &str,
        watermark: Timestamp,
    ) -> Result<()> {
        self.db
            .run(async |conn| {
                // Only forward for the same repository; a new repository starts over.
                // A watermark that does not move writes nothing.
                CachedSql::new(
                    "INSERT INTO github_reconcile_state AS r (project_id, repo_full_name, watermark)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (project_id) DO UPDATE
                        SET watermark = EXCLUDED.watermark,
                            repo_full_name = EXCLUDED.repo_full_name, updated_at = now()
                      WHERE lower(r.repo_full_name) <> lower(EXCLUDED.repo_full_name)
                         OR r.watermark IS NULL OR r.watermark < EXCLUDED.watermark",
                )
                .bind::<SqlUuid, _>(project_id.into_uuid())
                .bind::<Text, _>(repo_full_name)
                .bind::<Timestamptz, _>(watermark)
                .execute(conn)
                .await
                .map(|_| ())
                .missing_parent("project")
            })
            .await
    }

    async fn two_way_projects(&self) -> Result<Vec<TwoWayProject>> {
        self.db
            .run(async |conn| {
                let rows: Vec<ProjectRow> = CachedSql::new(
                    "SELECT p.id, p.workspace_id, p.slug, p.github_repo
                       FROM projects p
                       LEFT JOIN github_sync_settings s ON s.project_id = p.id
                      WHERE p.github_repo IS NOT NULL
                        AND COALESCE(s.direction, 'two_way') = 'two_way'
                      ORDER BY p.id",
                )
                .load(conn)
                .await
                .or_internal()?;
                Ok(rows
                    .into_iter()
                    .map(|r| TwoWayProject {
                        project_id: ProjectId::from_uuid(r.id),
                        workspace_id: WorkspaceId::from_uuid(r.workspace_id),
                        slug: r.slug,
                        repo_full_name: r.github_repo,
                    })
                    .collect())
            })
            .await
    }

    async fn project(&self, project_id: ProjectId) -> Result<Option<TwoWayProject>> {
        let id = project_id.into_uuid();
        self.db
            .run(async |conn| {
                let row: Option<ProjectRow> = CachedSql::new(
                    "SELECT p.id, p.workspace_id, p.slug, p.github_repo
                       FROM projects p
                      WHERE p.id = $1 AND p.github_repo IS NOT NULL",
                )
                .bind::<SqlUuid, _>(id)
                .get_result(conn)
                .await
                .optional()
                .or_internal()?;
                Ok(row.map(|r| TwoWayProject {
                    project_id: ProjectId::from_uuid(r.id),
                    workspace_id: WorkspaceId::from_uuid(r.workspace_id),
                    slug: r.slug,
                    repo_full_name: r.github_repo,
                }))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_issue_id_and_number_come_from_its_key_and_reference() {
        assert_eq!(
            issue_of_link("github:github.com:issue:4242", "octo/hello#17"),
            (Some(4242), Some(17))
        );
        assert_eq!(issue_of_link("github:x", "octo/hello"), (None, None));
    }
}
