//! `CredentialStore` and `SyncStore` on PostgreSQL, including the atomic
//! per-page import.

use crate::Database;
use crate::errors::{self, DbResultExt};
use crate::schema::{github_credentials, projects, push_intents, sync_runs};
use crate::tasks::{TaskRow, reserve_numbers};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_integrations::{
    CredentialStore, GITHUB_PROVIDER, GithubCredential, IssueImport, PageImported, RunProgress,
    SealedSecret, StartedRun, SyncCounts, SyncKind, SyncRun, SyncStatus, SyncStore,
};
use pm_jobs::NewJob;
use pm_kernel::{Error, Limit, ProjectId, Result, SyncRunId, WorkspaceId};
use std::collections::HashSet;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PgCredentialStore {
    db: Database,
}

impl PgCredentialStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = github_credentials)]
struct CredentialRow {
    id: Uuid,
    workspace_id: Uuid,
    account_login: String,
    token_hint: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    connected_at: OffsetDateTime,
}

impl From<&GithubCredential> for CredentialRow {
    fn from(c: &GithubCredential) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace_id.into_uuid(),
            account_login: c.account_login.clone(),
            token_hint: c.token_hint.clone(),
            key_id: c.sealed.key_id.clone(),
            nonce: c.sealed.nonce.clone(),
            ciphertext: c.sealed.ciphertext.clone(),
            connected_at: c.connected_at,
        }
    }
}

impl From<CredentialRow> for GithubCredential {
    fn from(r: CredentialRow) -> Self {
        Self {
            id: r.id,
            workspace_id: WorkspaceId::from_uuid(r.workspace_id),
            account_login: r.account_login,
            token_hint: r.token_hint,
            sealed: SealedSecret {
                key_id: r.key_id,
                nonce: r.nonce,
                ciphertext: r.ciphertext,
            },
            connected_at: r.connected_at,
        }
    }
}

#[async_trait]
impl CredentialStore for PgCredentialStore {
    async fn put(&self, credential: &GithubCredential) -> Result<()> {
        let row = CredentialRow::from(credential);
        self.db
            .run(async |conn| {
                // One connection per workspace: reconnecting replaces the row whole,
                // including its id (which the ciphertext is bound to).
                diesel::insert_into(github_credentials::table)
                    .values(&row)
                    .on_conflict(github_credentials::workspace_id)
                    .do_update()
                    .set((
                        github_credentials::id.eq(row.id),
                        github_credentials::account_login.eq(&row.account_login),
                        github_credentials::token_hint.eq(&row.token_hint),
                        github_credentials::key_id.eq(&row.key_id),
                        github_credentials::nonce.eq(&row.nonce),
                        github_credentials::ciphertext.eq(&row.ciphertext),
                        github_credentials::connected_at.eq(row.connected_at),
                    ))
                    .execute(conn)
                    .await
                    .or_internal()?;
                Ok(())
            })
            .await
    }

    async fn get(&self, workspace_id: WorkspaceId) -> Result<Option<GithubCredential>> {
        self.db
            .run(async |conn| {
                Ok(github_credentials::table
                    .filter(github_credentials::workspace_id.eq(workspace_id.into_uuid()))
                    .select(CredentialRow::as_select())
                    .first(conn)
                    .await
                    .optional()
                    .or_internal()?
                    .map(Into::into))
            })
            .await
    }

    async fn delete(&self, workspace_id: WorkspaceId) -> Result<bool> {
        self.db
            .run(async |conn| {
                let n = diesel::delete(
                    github_credentials::table
                        .filter(github_credentials::workspace_id.eq(workspace_id.into_uuid())),
                )
                .execute(conn)
                .await
                .or_internal()?;
                Ok(n > 0)
            })
            .await
    }

    async fn all(&self) -> Result<Vec<GithubCredential>> {
        self.db
            .run(async |conn| {
                Ok(github_credentials::table
                    .select(CredentialRow::as_select())
                    .order(github_credentials::id.asc())
                    .load(conn)
                    .await
                    .or_internal()?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            })
            .await
    }

    async fn reseal(
        &self,
        credential_id: Uuid,
        expected_key_id: &str,
        sealed: &SealedSecret,
    ) -> Result<bool> {
        self.db
            .run(async |conn| {
                let n = diesel::update(
                    github_credentials::table
                        .find(credential_id)
                        .filter(github_credentials::key_id.eq(expected_key_id)),
                )
                .set((
                    github_credentials::key_id.eq(&sealed.key_id),
                    github_credentials::nonce.eq(&sealed.nonce),
                    github_credentials::ciphertext.eq(&sealed.ciphertext),
                ))
                .execute(conn)
                .await
                .or_internal()?;
                Ok(n > 0)
            })
            .await
    }
}

#[derive(Clone, Debug)]
pub struct PgSyncStore {
    db: Database,
}

impl PgSyncStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sync_runs)]
struct SyncRunRow {
    id: Uuid,
    project_id: Uuid,
    kind: String,
    repo: String,
    status: String,
    created: i32,
    skipped: i32,
    pull_requests_ignored: i32,
    total_seen: i32,
    error_code: Option<String>,
    started_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
    job_id: Option<Uuid>,
    progress: serde_json::Value,
    resumes_at: Option<OffsetDateTime>,
}

/// `sync_runs.updated, unchanged, conflicts`: outside `schema.rs` (the table
/// would pass diesel's 16 columns), selected next to [`SyncRunRow`] in SQL.
type MergeCounts = (
    diesel::expression::SqlLiteral<diesel::sql_types::Integer>,
    diesel::expression::SqlLiteral<diesel::sql_types::Integer>,
    diesel::expression::SqlLiteral<diesel::sql_types::Integer>,
);

fn merge_counts() -> MergeCounts {
    use diesel::dsl::sql;
    use diesel::sql_types::Integer;
    (
        sql::<Integer>("sync_runs.updated"),
        sql::<Integer>("sync_runs.unchanged"),
        sql::<Integer>("sync_runs.conflicts"),
    )
}

/// A run's row with its merge counts.
type RunWithCounts = (SyncRunRow, (i32, i32, i32));

fn run_into_domain((row, (updated, unchanged, conflicts)): RunWithCounts) -> Result<SyncRun> {
    let count = |n: i32| u32::try_from(n).unwrap_or_default();
    let mut run = row.into_domain()?;
    run.counts.updated = count(updated);
    run.counts.unchanged = count(unchanged);
    run.counts.conflicts = count(conflicts);
    Ok(run)
}

impl SyncRunRow {
    fn into_domain(self) -> Result<SyncRun> {
        let kind = errors::stored("sync_runs.kind", &self.kind)?;
        let status = errors::stored("sync_runs.status", &self.status)?;
        let count = |n: i32| u32::try_from(n).unwrap_or_default();
        Ok(SyncRun {
            id: SyncRunId::from_uuid(self.id),
            project_id: ProjectId::from_uuid(self.project_id),
            kind,
            repo: self.repo,
            status,
            counts: SyncCounts {
                created: count(self.created),
                skipped: count(self.skipped),
                pull_requests_ignored: count(self.pull_requests_ignored),
                total_seen: count(self.total_seen),
                ..SyncCounts::default()
            },
            error_code: self.error_code,
            started_at: self.started_at,
            finished_at: self.finished_at,
            job_id: self.job_id,
            progress: RunProgress {
                pages: progress_u32(&self.progress, "pages").unwrap_or_default(),
                next_page: self
                    .progress
                    .get("next_page")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
                tasks_remaining: progress_u32(&self.progress, "tasks_remaining"),
            },
            resumes_at: self.resumes_at,
            attempts: 0,
        })
    }
}

fn progress_u32(progress: &serde_json::Value, key: &str) -> Option<u32> {
    progress[key]
        .as_u64()
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

#[derive(QueryableByName)]
struct DedupKey {
    #[diesel(sql_type = Text)]
    dedup_key: String,
    /// False when the row was an existing link whose reference was refreshed.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    inserted: bool,
}

#[derive(QueryableByName)]
struct TaskIdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The tasks named by the pages' push markers that belong to this project and
/// have no GitHub issue yet. No statement at all when no issue carries a marker.
async fn claimable_tasks(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    imports: &[&IssueImport],
) -> Result<HashSet<Uuid>, diesel::result::Error> {
    let claimed: Vec<Uuid> = imports
        .iter()
        .filter_map(|i| i.pushed_for.map(pm_kernel::TaskId::into_uuid))
        .collect();
    if claimed.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<TaskIdRow> = diesel::sql_query(
        "SELECT t.id FROM tasks t
          WHERE t.project_id = $1 AND t.id = ANY($2)
            AND NOT EXISTS (SELECT 1 FROM external_links l
                             WHERE l.task_id = t.id AND l.provider = $3)",
    )
    .bind::<SqlUuid, _>(project_id.into_uuid())
    .bind::<Array<SqlUuid>, _>(&claimed)
    .bind::<Text, _>(GITHUB_PROVIDER)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Inserts many tasks of one project in one statement.
async fn insert_tasks(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    rows: &[TaskRow],
) -> Result<usize, diesel::result::Error> {
    let column = |f: fn(&TaskRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let numbers: Vec<i64> = rows.iter().map(|r| r.number).collect();
    let labels: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&r.labels).unwrap_or_else(|_| "[]".into()))
        .collect();
    let now = rows.first().map_or_else(pm_kernel::now, |r| r.created_at);
    diesel::sql_query(
        "INSERT INTO tasks (id, project_id, number, title, description, status, priority,
                            labels, source, created_at, updated_at)
         SELECT i.id, $1, i.number, i.title, i.description, i.status, i.priority,
                ARRAY(SELECT jsonb_array_elements_text(i.labels::jsonb)), i.source, $2, $2
           FROM unnest($3::uuid[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[])
                AS i(id, number, title, description, status, priority, labels, source)",
    )
    .bind::<SqlUuid, _>(project_id.into_uuid())
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<diesel::sql_types::Int8>, _>(&numbers)
    .bind::<Array<Text>, _>(column(|r| &r.title))
    .bind::<Array<Text>, _>(column(|r| &r.description))
    .bind::<Array<Text>, _>(column(|r| &r.status))
    .bind::<Array<Text>, _>(column(|r| &r.priority))
    .bind::<Array<Text>, _>(&labels)
    .bind::<Array<Text>, _>(column(|r| &r.source))
    .execute(conn)
    .await
}

fn as_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One issue of the page whose link this page inserted, with the task the link
/// points to.
struct Claim<'a> {
    import: &'a IssueImport,
    task_id: Uuid,
    /// The task already exists: a push created the issue for it and died before
    /// linking it. Otherwise the task is new and still to be inserted.
    reclaimed: bool,
}

/// The statements of one page, in one transaction. Constant in number whatever
/// the page size: lock the project, upsert the links, reserve numbers, insert
/// tasks, add to the run's counts.
async fn import_page_tx(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    run_id: SyncRunId,
    issues: &[IssueImport],
    extra: SyncCounts,
    position: Option<Option<&str>>,
) -> Result<PageImported, diesel::result::Error> {
    lock_project(conn, project_id).await?;
    let unique = first_of_each_key(issues);
    let won = claim_links(conn, project_id, &unique).await?;
    let (reclaimed, fresh): (Vec<Claim<'_>>, Vec<Claim<'_>>) =
        won.into_iter().partition(|c| c.reclaimed);
    clear_intents(conn, &reclaimed).await?;
    let created = create_tasks(conn, project_id, &fresh).await?;
    let skipped = count(unique.len()).saturating_sub(created);
    add_to_run(conn, run_id, created, skipped, extra, position).await?;
    Ok(PageImported { created, skipped })
}

/// Step 1. Serialises imports (and task creates) of this project; the unique
/// index on the links stays the guarantee, the lock just avoids wasted work on
/// races. Diesel's `NotFound` when the project is gone.
async fn lock_project(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
) -> Result<(), diesel::result::Error> {
    projects::table
        .find(project_id.into_uuid())
        .select(projects::id)
        .for_update()
        .first::<Uuid>(conn)
        .await?;
    Ok(())
}

/// A page never names an issue twice, but be safe: first occurrence wins.
fn first_of_each_key(issues: &[IssueImport]) -> Vec<&IssueImport> {
    let mut seen = HashSet::new();
    issues
        .iter()
        .filter(|i| seen.insert(i.dedup_key.as_str()))
        .collect()
}

/// Step 2. Claims the links of new issues and refreshes those already linked, in
/// one statement driven by the unique (project, provider, dedup key) index: the
/// key decides, so concurrent imports cannot both win an issue. Existing links
/// are rewritten only when their reference or URL changed (a renamed repository
/// keeps its issue ids). `xmax = 0` tells the rows this statement inserted from
/// those it updated. Returns the issues whose links were inserted.
async fn claim_links<'a>(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    unique: &[&'a IssueImport],
) -> Result<Vec<Claim<'a>>, diesel::result::Error> {
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&str> = unique.iter().map(|i| i.dedup_key.as_str()).collect();
    let refs: Vec<&str> = unique.iter().map(|i| i.link.reference.as_str()).collect();
    let urls: Vec<&str> = unique.iter().map(|i| i.link.url.as_str()).collect();
    let link_ids: Vec<Uuid> = unique.iter().map(|_| Uuid::now_v7()).collect();
    // Issues a push created for a task of this project that is still unlinked
    // (the push died before linking it) go to that task.
    let claimable = claimable_tasks(conn, project_id, unique).await?;
    let task_ids: Vec<Uuid> = unique
        .iter()
        .map(|i| {
            i.pushed_for
                .map(pm_kernel::TaskId::into_uuid)
                .filter(|t| claimable.contains(t))
                .unwrap_or_else(Uuid::now_v7)
        })
        .collect();
    let (issue_ids, numbers): (Vec<Option<i64>>, Vec<Option<i64>>) = unique
        .iter()
        .map(|i| crate::merge::issue_of_link(&i.dedup_key, &i.link.reference))
        .unzip();
    let snapshots: Vec<serde_json::Value> = unique
        .iter()
        .map(|i| crate::merge::snapshot_json(&i.snapshot))
        .collect::<Result<_, _>>()?;
    // A new link starts with the issue as imported as its snapshot (the merge's
    // base); a link that exists keeps its snapshot, and only follows a renamed
    // repository (reference, URL and the number the reference names).
    let rows: Vec<DedupKey> = diesel::sql_query(
        "INSERT INTO external_links AS l (id, task_id, project_id, provider, dedup_key, reference, url,
                                          github_issue_id, issue_number, snapshot, synced_at)
         SELECT i.id, i.task_id, $1, $7, i.dedup_key, i.reference, i.url, i.issue_id, i.number,
                i.snapshot, now()
           FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $8::int8[],
                       $9::int8[], $10::jsonb[])
                AS i(id, task_id, dedup_key, reference, url, issue_id, number, snapshot)
         ON CONFLICT (project_id, provider, dedup_key) DO UPDATE
            SET reference = EXCLUDED.reference, url = EXCLUDED.url,
                issue_number = COALESCE(EXCLUDED.issue_number, l.issue_number),
                github_issue_id = COALESCE(l.github_issue_id, EXCLUDED.github_issue_id),
                updated_at = now()
          WHERE l.reference <> EXCLUDED.reference OR l.url <> EXCLUDED.url
         RETURNING l.dedup_key, (l.xmax = 0) AS inserted",
    )
    .bind::<SqlUuid, _>(project_id.into_uuid())
    .bind::<Array<SqlUuid>, _>(&link_ids)
    .bind::<Array<SqlUuid>, _>(&task_ids)
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<Text>, _>(&refs)
    .bind::<Array<Text>, _>(&urls)
    .bind::<Text, _>(GITHUB_PROVIDER)
    .bind::<Array<Nullable<Int8>>, _>(&issue_ids)
    .bind::<Array<Nullable<Int8>>, _>(&numbers)
    .bind::<Array<Jsonb>, _>(&snapshots)
    .load(conn)
    .await?;
    let won: HashSet<String> = rows
        .into_iter()
        .filter(|k| k.inserted)
        .map(|k| k.dedup_key)
        .collect();
    Ok(unique
        .iter()
        .zip(task_ids)
        .filter(|(import, _)| won.contains(&import.dedup_key))
        .map(|(import, task_id)| Claim {
            import,
            task_id,
            reclaimed: claimable.contains(&task_id),
        })
        .collect())
}

/// Step 3. A reclaimed task's push is confirmed now: its intent goes.
async fn clear_intents(
    conn: &mut AsyncPgConnection,
    reclaimed: &[Claim<'_>],
) -> Result<(), diesel::result::Error> {
    if reclaimed.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = reclaimed.iter().map(|c| c.task_id).collect();
    diesel::delete(push_intents::table.filter(push_intents::task_id.eq_any(&ids)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Step 4. Numbers for the new tasks, in page order, then the tasks, with the
/// ids their links already point to. Columns go as arrays (one statement text
/// whatever the page size, so it is prepared once); labels travel as one JSON
/// array per task. Returns how many were created.
async fn create_tasks(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    fresh: &[Claim<'_>],
) -> Result<u32, diesel::result::Error> {
    if fresh.is_empty() {
        return Ok(0);
    }
    let wanted = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
    let first = reserve_numbers(conn, project_id, wanted).await?;
    let rows: Vec<TaskRow> = fresh
        .iter()
        .zip(first..)
        .map(|(claim, number)| {
            let mut row = TaskRow::new(project_id, number, &claim.import.task);
            row.id = claim.task_id;
            row
        })
        .collect();
    insert_tasks(conn, project_id, &rows).await?;
    Ok(count(rows.len()))
}

/// Step 5. The run's counts move with the page; for a job's run (`position`), in the
/// same statement its progress: one more page, and the link to continue at.
async fn add_to_run(
    conn: &mut AsyncPgConnection,
    run_id: SyncRunId,
    created: u32,
    skipped: u32,
    extra: SyncCounts,
    position: Option<Option<&str>>,
) -> Result<(), diesel::result::Error> {
    if let Some(next_page) = position {
        diesel::sql_query(
            "UPDATE sync_runs SET created = created + $2, skipped = skipped + $3,
                    pull_requests_ignored = pull_requests_ignored + $4,
                    total_seen = total_seen + $5,
                    progress = progress || jsonb_build_object(
                        'pages', COALESCE((progress->>'pages')::int, 0) + 1,
                        'next_page', $6::text)
              WHERE id = $1",
        )
        .bind::<SqlUuid, _>(run_id.into_uuid())
        .bind::<diesel::sql_types::Integer, _>(as_i32(created))
        .bind::<diesel::sql_types::Integer, _>(as_i32(skipped + extra.skipped))
        .bind::<diesel::sql_types::Integer, _>(as_i32(extra.pull_requests_ignored))
        .bind::<diesel::sql_types::Integer, _>(as_i32(extra.total_seen))
        .bind::<diesel::sql_types::Nullable<Text>, _>(next_page)
        .execute(conn)
        .await?;
        return Ok(());
    }
    diesel::update(sync_runs::table.find(run_id.into_uuid()))
        .set((
            sync_runs::created.eq(sync_runs::created + as_i32(created)),
            sync_runs::skipped.eq(sync_runs::skipped + as_i32(skipped + extra.skipped)),
            sync_runs::pull_requests_ignored
                .eq(sync_runs::pull_requests_ignored + as_i32(extra.pull_requests_ignored)),
            sync_runs::total_seen.eq(sync_runs::total_seen + as_i32(extra.total_seen)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl SyncStore for PgSyncStore {
    async fn start_run(
        &self,
        project_id: ProjectId,
        kind: SyncKind,
        repo: &str,
    ) -> Result<SyncRunId> {
        let id = SyncRunId::new();
        self.db
            .run(async |conn| {
                diesel::insert_into(sync_runs::table)
                    .values((
                        sync_runs::id.eq(id.into_uuid()),
                        sync_runs::project_id.eq(project_id.into_uuid()),
                        sync_runs::kind.eq(kind.as_str()),
                        sync_runs::repo.eq(repo),
                        sync_runs::status.eq(SyncStatus::Running.as_str()),
                        sync_runs::started_at.eq(pm_kernel::now()),
                    ))
                    .execute(conn)
                    .await
                    .or_internal()?;
                Ok(id)
            })
            .await
    }

    async fn fail_stale_runs(
        &self,
        project_id: ProjectId,
        started_before: OffsetDateTime,
        error_code: String,
    ) -> Result<u64> {
        self.db
            .run(async |conn| {
                let n = diesel::update(
                    sync_runs::table
                        .filter(sync_runs::project_id.eq(project_id.into_uuid()))
                        .filter(sync_runs::status.eq(SyncStatus::Running.as_str()))
                        .filter(sync_runs::started_at.lt(started_before))
                        // A job's run is the queue's business (lease expiry).
                        .filter(sync_runs::job_id.is_null()),
                )
                .set((
                    sync_runs::status.eq(SyncStatus::Failed.as_str()),
                    sync_runs::error_code.eq(Some(error_code)),
                    sync_runs::finished_at.eq(Some(pm_kernel::now())),
                ))
                .execute(conn)
                .await
                .or_internal()?;
                Ok(n as u64)
            })
            .await
    }

    async fn enqueue_run(
        &self,
        run_id: SyncRunId,
        project_id: ProjectId,
        kind: SyncKind,
        repo: &str,
        job: NewJob,
    ) -> Result<StartedRun> {
        job.validate()?;
        let job_id = job.id.into_uuid();
        let (row, joined) = self
            .db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    let enqueued = crate::jobs::enqueue_in(conn, &job).await?;
                    if enqueued.joined {
                        // The active job's run was committed with it.
                        let row = sync_runs::table
                            .filter(sync_runs::job_id.eq(enqueued.job.id.into_uuid()))
                            .select((SyncRunRow::as_select(), merge_counts()))
                            .first::<RunWithCounts>(conn)
                            .await?;
                        return Ok((row, true));
                    }
                    let row = diesel::insert_into(sync_runs::table)
                        .values((
                            sync_runs::id.eq(run_id.into_uuid()),
                            sync_runs::project_id.eq(project_id.into_uuid()),
                            sync_runs::kind.eq(kind.as_str()),
                            sync_runs::repo.eq(repo),
                            sync_runs::status.eq(SyncStatus::Queued.as_str()),
                            sync_runs::started_at.eq(pm_kernel::now()),
                            sync_runs::job_id.eq(Some(job_id)),
                        ))
                        .returning((SyncRunRow::as_returning(), merge_counts()))
                        .get_result::<RunWithCounts>(conn)
                        .await?;
                    Ok((row, false))
                })
                .await
                .map_err(errors::internal)
            })
            .await?;
        Ok(StartedRun {
            run: run_into_domain(row)?,
            joined,
        })
    }

    async fn store_page(
        &self,
        project_id: ProjectId,
        run_id: SyncRunId,
        issues: &[IssueImport],
        extra: SyncCounts,
        next_page: Option<String>,
    ) -> Result<PageImported> {
        self.db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    import_page_tx(
                        conn,
                        project_id,
                        run_id,
                        issues,
                        extra,
                        Some(next_page.as_deref()),
                    )
                    .await
                })
                .await
                .map_err(|e| match e {
                    diesel::result::Error::NotFound => Error::NotFound("project"),
                    other => errors::internal(other),
                })
            })
            .await
    }

    async fn set_run_state(
        &self,
        run_id: SyncRunId,
        status: SyncStatus,
        resumes_at: Option<OffsetDateTime>,
        error_code: Option<String>,
    ) -> Result<()> {
        self.db
            .run(async |conn| {
                // A finished run stays finished (a late write of a lost attempt).
                diesel::update(
                    sync_runs::table
                        .find(run_id.into_uuid())
                        .filter(sync_runs::finished_at.is_null()),
                )
                .set((
                    sync_runs::status.eq(status.as_str()),
                    sync_runs::resumes_at.eq(resumes_at),
                    sync_runs::error_code.eq(error_code),
                ))
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(errors::internal)
            })
            .await
    }

    async fn set_push_progress(
        &self,
        run_id: SyncRunId,
        counts: SyncCounts,
        tasks_remaining: u32,
    ) -> Result<()> {
        self.db
            .run(async |conn| {
                diesel::sql_query(
                    "UPDATE sync_runs SET created = $2, skipped = $3, pull_requests_ignored = $4,
                            total_seen = $5,
                            progress = progress || jsonb_build_object('tasks_remaining', $6::int)
                      WHERE id = $1",
                )
                .bind::<SqlUuid, _>(run_id.into_uuid())
                .bind::<diesel::sql_types::Integer, _>(as_i32(counts.created))
                .bind::<diesel::sql_types::Integer, _>(as_i32(counts.skipped))
                .bind::<diesel::sql_types::Integer, _>(as_i32(counts.pull_requests_ignored))
                .bind::<diesel::sql_types::Integer, _>(as_i32(counts.total_seen))
                .bind::<diesel::sql_types::Integer, _>(as_i32(tasks_remaining))
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(errors::internal)
            })
            .await
    }

    async fn import_page(
        &self,
        project_id: ProjectId,
        run_id: SyncRunId,
        issues: &[IssueImport],
        extra: SyncCounts,
    ) -> Result<PageImported> {
        self.db
            .run(async |conn| {
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    import_page_tx(conn, project_id, run_id, issues, extra, None).await
                })
                .await
                .missing_row("project")
            })
            .await
    }

    async fn finish_run(
        &self,
        run_id: SyncRunId,
        status: SyncStatus,
        counts: Option<SyncCounts>,
        error_code: Option<String>,
    ) -> Result<()> {
        self.db
            .run(async |conn| {
                let target = sync_runs::table.find(run_id.into_uuid());
                let finished = (
                    sync_runs::status.eq(status.as_str()),
                    sync_runs::error_code.eq(error_code),
                    sync_runs::finished_at.eq(Some(pm_kernel::now())),
                    sync_runs::resumes_at.eq(None::<OffsetDateTime>),
                );
                let result = match counts {
                    Some(c) => {
                        diesel::update(target)
                            .set((
                                finished,
                                sync_runs::created.eq(as_i32(c.created)),
                                sync_runs::skipped.eq(as_i32(c.skipped)),
                                sync_runs::pull_requests_ignored
                                    .eq(as_i32(c.pull_requests_ignored)),
                                sync_runs::total_seen.eq(as_i32(c.total_seen)),
                            ))
                            .execute(conn)
                            .await
                    }
                    None => diesel::update(target).set(finished).execute(conn).await,
                };
                result.map(|_| ()).or_internal()
            })
            .await
    }

    async fn get_run(&self, run_id: SyncRunId) -> Result<Option<SyncRun>> {
        self.db
            .run(async |conn| {
                sync_runs::table
                    .find(run_id.into_uuid())
                    .select((SyncRunRow::as_select(), merge_counts()))
                    .first::<RunWithCounts>(conn)
                    .await
                    .optional()
                    .or_internal()?
                    .map(run_into_domain)
                    .transpose()
            })
            .await
    }

    async fn list_runs(
        &self,
        project_id: ProjectId,
        before: Option<SyncRunId>,
        limit: Limit,
    ) -> Result<Vec<SyncRun>> {
        self.db
            .run(async |conn| {
                let mut query = sync_runs::table
                    .filter(sync_runs::project_id.eq(project_id.into_uuid()))
                    .select((SyncRunRow::as_select(), merge_counts()))
                    .order(sync_runs::id.desc())
                    .limit(i64::from(limit.get()) + 1)
                    .into_boxed();
                if let Some(before) = before {
                    query = query.filter(sync_runs::id.lt(before.into_uuid()));
                }
                query
                    .load::<RunWithCounts>(conn)
                    .await
                    .or_internal()?
                    .into_iter()
                    .map(run_into_domain)
                    .collect()
            })
            .await
    }
}
