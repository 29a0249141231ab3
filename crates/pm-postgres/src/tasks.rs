//! `TaskStore` on PostgreSQL.

use crate::Database;
use crate::cached::CachedSql;
use crate::errors::{self, DbResultExt};
use crate::jobs::{JOBS_CHANNEL, enqueue_in, on_conflict};
use crate::schema::{external_links, projects, tasks};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, BigInt, Integer, Nullable, Text, Timestamptz, Untyped, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_integrations::GITHUB_PROVIDER;
use pm_integrations::two_way::merge_job;
use pm_kernel::{Error, Limit, ProjectId, Result, TaskId, WorkspaceId};
use pm_projects::Slug;
use pm_tasks::{
    ExternalLink, Labels, NewTask, Task, TaskDescription, TaskFilter, TaskPatch, TaskStore,
    TaskTitle,
};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PgTaskStore {
    db: Database,
}

impl PgTaskStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskRow {
    pub(crate) id: Uuid,
    pub(crate) project_id: Uuid,
    pub(crate) number: i64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) status: String,
    pub(crate) priority: String,
    pub(crate) labels: Vec<String>,
    pub(crate) source: String,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
}

impl TaskRow {
    pub(crate) fn new(project_id: ProjectId, number: i64, task: &NewTask) -> Self {
        let now = pm_kernel::now();
        Self {
            id: TaskId::new().into_uuid(),
            project_id: project_id.into_uuid(),
            number,
            title: task.title.as_str().to_string(),
            description: task.description.as_str().to_string(),
            status: task.status.as_str().to_string(),
            priority: task.priority.as_str().to_string(),
            labels: task.labels.as_slice().to_vec(),
            source: task.source.as_str().to_string(),
            created_at: now,
            updated_at: now,
        }
    }

    pub(crate) fn into_domain(self, external_links: Vec<ExternalLink>) -> Result<Task> {
        Ok(Task {
            id: TaskId::from_uuid(self.id),
            project_id: ProjectId::from_uuid(self.project_id),
            number: self.number,
            title: TaskTitle::lenient(&self.title),
            description: TaskDescription::lenient(&self.description),
            status: errors::stored("tasks.status", &self.status)?,
            priority: errors::stored("tasks.priority", &self.priority)?,
            labels: Labels::lenient(self.labels.iter().map(String::as_str)),
            source: errors::stored("tasks.source", &self.source)?,
            external_links,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Reserves `count` consecutive task numbers in the project and returns the first.
/// The UPDATE takes the project row's lock until the transaction ends, which is
/// what serialises concurrent creates: numbers never repeat or leave gaps.
pub(crate) async fn reserve_numbers(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    count: i64,
) -> Result<i64, diesel::result::Error> {
    let last: i64 = diesel::update(projects::table.find(project_id.into_uuid()))
        .set(projects::last_task_number.eq(projects::last_task_number + count))
        .returning(projects::last_task_number)
        .get_result(conn)
        .await?;
    Ok(last - count + 1)
}

/// Loads the tasks' external links in one query and attaches them.
async fn with_links(conn: &mut AsyncPgConnection, rows: Vec<TaskRow>) -> Result<Vec<Task>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let links: Vec<(Uuid, String, String, String)> = external_links::table
        .filter(external_links::task_id.eq_any(&ids))
        .select((
            external_links::task_id,
            external_links::provider,
            external_links::reference,
            external_links::url,
        ))
        .order(external_links::created_at.asc())
        .load(conn)
        .await
        .or_internal()?;
    let mut by_task: HashMap<Uuid, Vec<ExternalLink>> = HashMap::new();
    for (task_id, provider, reference, url) in links {
        by_task.entry(task_id).or_default().push(ExternalLink {
            provider,
            reference,
            url,
        });
    }
    rows.into_iter()
        .map(|row| {
            let links = by_task.remove(&row.id).unwrap_or_default();
            row.into_domain(links)
        })
        .collect()
}

/// The task list in one statement: the project by slug inside the workspace, and
/// one page of its tasks, each with its external links aggregated (three
/// parallel arrays, in the links' creation order). The project comes first and
/// the page joins it `LEFT JOIN LATERAL`, so the answer tells the cases apart:
/// no row is no such project (or another workspace's), one row with NULL task
/// columns is a project with no matching task. The page is an index scan on
/// `(project_id, number)` (or `(project_id, status, number)`) that stops after
/// `limit` rows; the links are one index probe per task of the page.
///
/// The text has one variant per combination of filters, each a plain `AND`
/// (so the cursor bound stays an index condition), and every variant is a
/// prepared statement cached by its text on the connection.
struct ListInProject<'a> {
    workspace_id: Uuid,
    slug: &'a str,
    after_number: Option<i64>,
    status: Option<&'static str>,
    source: Option<&'static str>,
    /// The page size plus one (the row that tells a next page exists).
    limit: i64,
}

impl QueryFragment<Pg> for ListInProject<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT p.id AS project_id, t.id, t.number, t.title, t.description, t.status, \
             t.priority, t.labels, t.source, t.created_at, t.updated_at, \
             t.link_providers, t.link_references, t.link_urls \
             FROM projects p LEFT JOIN LATERAL (\
             SELECT t.id, t.number, t.title, t.description, t.status, t.priority, t.labels, \
             t.source, t.created_at, t.updated_at, l.providers AS link_providers, \
             l.refs AS link_references, l.urls AS link_urls \
             FROM tasks t CROSS JOIN LATERAL (\
             SELECT array_agg(provider ORDER BY created_at, id) AS providers, \
             array_agg(reference ORDER BY created_at, id) AS refs, \
             array_agg(url ORDER BY created_at, id) AS urls \
             FROM external_links WHERE task_id = t.id) l \
             WHERE t.project_id = p.id",
        );
        if let Some(after) = &self.after_number {
            out.push_sql(" AND t.number > ");
            out.push_bind_param::<BigInt, _>(after)?;
        }
        if let Some(status) = &self.status {
            out.push_sql(" AND t.status = ");
            out.push_bind_param::<Text, _>(status)?;
        }
        if let Some(source) = &self.source {
            out.push_sql(" AND t.source = ");
            out.push_bind_param::<Text, _>(source)?;
        }
        out.push_sql(" ORDER BY t.number LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") t ON true WHERE p.workspace_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.workspace_id)?;
        out.push_sql(" AND p.slug = ");
        out.push_bind_param::<Text, _>(&self.slug)?;
        out.push_sql(" ORDER BY t.number");
        Ok(())
    }
}

// Cached by its SQL text (no static id: the text depends on the filters).
impl QueryId for ListInProject<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for ListInProject<'_> {
    type SqlType = Untyped;
}

/// One row of [`ListInProject`]: the project's id, and a task (all NULL when the
/// project has no matching task).
#[derive(QueryableByName)]
struct ListedRow {
    #[diesel(sql_type = SqlUuid)]
    project_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    id: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    number: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    priority: Option<String>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    labels: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Text>)]
    source: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    created_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    updated_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    link_providers: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    link_references: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    link_urls: Option<Vec<String>>,
}

impl ListedRow {
    /// The task of this row, validated like every task read back ([`TaskRow::into_domain`]);
    /// `None` for the project-only row.
    fn into_task(self) -> Result<Option<Task>> {
        let Some(id) = self.id else {
            return Ok(None);
        };
        fn present<T>(value: Option<T>, column: &str) -> Result<T> {
            value.ok_or_else(|| Error::internal(format!("task list: NULL in tasks.{column}")))
        }
        let links = links_from_arrays(self.link_providers, self.link_references, self.link_urls)?;
        let row = TaskRow {
            id,
            project_id: self.project_id,
            number: present(self.number, "number")?,
            title: present(self.title, "title")?,
            description: present(self.description, "description")?,
            status: present(self.status, "status")?,
            priority: present(self.priority, "priority")?,
            labels: present(self.labels, "labels")?,
            source: present(self.source, "source")?,
            created_at: present(self.created_at, "created_at")?,
            updated_at: present(self.updated_at, "updated_at")?,
        };
        row.into_domain(links).map(Some)
    }
}

/// A task's links from the three parallel arrays the one-statement reads
/// aggregate them into (NULL arrays: no link).
pub(crate) fn links_from_arrays(
    providers: Option<Vec<String>>,
    references: Option<Vec<String>>,
    urls: Option<Vec<String>>,
) -> Result<Vec<ExternalLink>> {
    let providers = providers.unwrap_or_default();
    let references = references.unwrap_or_default();
    let urls = urls.unwrap_or_default();
    if providers.len() != references.len() || providers.len() != urls.len() {
        return Err(Error::internal(
            "task read: link arrays of different lengths",
        ));
    }
    Ok(providers
        .into_iter()
        .zip(references)
        .zip(urls)
        .map(|((provider, reference), url)| ExternalLink {
            provider,
            reference,
            url,
        })
        .collect())
}

/// The SQL that aggregates the links of task `t` into `links.providers`,
/// `links.refs` and `links.urls`, in creation order (a lateral subquery).
pub(crate) const LINK_ARRAYS: &str = "CROSS JOIN LATERAL (\
     SELECT array_agg(provider ORDER BY created_at, id) AS providers, \
     array_agg(reference ORDER BY created_at, id) AS refs, \
     array_agg(url ORDER BY created_at, id) AS urls \
     FROM external_links WHERE task_id = t.id) links";

/// `reopen_status` after an update of task `t` (aliased so) whose new status is
/// the SQL expression `new_status`: moving an open status (todo, in_progress) to
/// a closed one (done, canceled) remembers the open one, so a reopened issue
/// returns the task there; anything else keeps what was remembered.
pub(crate) fn reopen_status_sql(new_status: &str) -> String {
    format!(
        "CASE WHEN t.status IN ('todo', 'in_progress') AND {new_status} IN ('done', 'canceled') \
         THEN t.status ELSE t.reopen_status END"
    )
}

/// The project's tasks with these numbers, by number, with their links.
pub(crate) async fn load_by_numbers(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    numbers: &[i64],
) -> Result<Vec<Task>> {
    let rows = tasks::table
        .filter(tasks::project_id.eq(project_id.into_uuid()))
        .filter(tasks::number.eq_any(numbers))
        .select(TaskRow::as_select())
        .order(tasks::number.asc())
        .load(conn)
        .await
        .or_internal()?;
    with_links(conn, rows).await
}

async fn one_with_links(
    conn: &mut AsyncPgConnection,
    row: Option<TaskRow>,
) -> Result<Option<Task>> {
    match row {
        Some(row) => Ok(with_links(conn, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// What a dirty mark made by a task edit says caused it.
pub(crate) const TASK_EDITED: &str = "task.edited";

/// A task update in one statement (one round trip), whatever the task:
/// - `o` locks the row and keeps the values before the update;
/// - `t` applies the patch, keeps `reopen_status` ([`reopen_status_sql`]) and
///   says whether a synced field changed (title, description, open/done/canceled,
///   the set of labels — not priority, not todo ↔ in_progress);
/// - `target` is the task's active GitHub link when one changed and the project
///   syncs both ways (a repository, and no settings row or `two_way`);
/// - `mark` marks that issue dirty (`task.edited`, generation + 1 when dirty
///   already) and `job` enqueues the project's merge job, the queue's SQL shape
///   (joins the active one; a running one runs again, `jobs.rerun`), `notify`
///   wakes the runners;
/// - the result is the task with its links, as the task list reads them.
///
/// A task without a link, or a change of nothing synced, costs the lock, the
/// update and one index probe into `external_links`.
static UPDATE_TASK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let open =
        |c: &str| format!("(CASE WHEN {c} IN ('todo', 'in_progress') THEN 'open' ELSE {c} END)");
    format!(
        "WITH o AS (
            SELECT id, title, description, status, labels FROM tasks
             WHERE project_id = $1 AND number = $2 FOR UPDATE
         ), t AS (
            UPDATE tasks t
               SET title = COALESCE($3, t.title), description = COALESCE($4, t.description),
                   status = COALESCE($5, t.status), priority = COALESCE($6, t.priority),
                   labels = COALESCE($7, t.labels), reopen_status = {reopen}, updated_at = $8
              FROM o WHERE t.id = o.id
            RETURNING t.*,
                      (t.title <> o.title OR t.description <> o.description
                       OR {new_open} <> {old_open}
                       OR NOT (t.labels @> o.labels AND o.labels @> t.labels)) AS synced_changed
         ), target AS (
            SELECT t.project_id, p.workspace_id, l.github_issue_id, l.issue_number,
                   split_part(l.reference, '#', 1) AS repo
              FROM t
              JOIN external_links l ON l.task_id = t.id AND l.provider = $14
                   AND l.link_state = 'active' AND l.github_issue_id IS NOT NULL
                   AND l.issue_number IS NOT NULL
              JOIN projects p ON p.id = t.project_id AND p.github_repo IS NOT NULL
              LEFT JOIN github_sync_settings s ON s.project_id = p.id
             WHERE t.synced_changed AND COALESCE(s.direction, 'two_way') = 'two_way'
         ), mark AS (
            INSERT INTO github_dirty_issues AS d
                   (project_id, github_issue_id, issue_number, repo_full_name, reason, delivery_id)
            SELECT project_id, github_issue_id, issue_number, repo, $13, '' FROM target
            ON CONFLICT (project_id, github_issue_id) DO UPDATE
               SET issue_number = EXCLUDED.issue_number,
                   repo_full_name = EXCLUDED.repo_full_name,
                   reason = EXCLUDED.reason, delivery_id = EXCLUDED.delivery_id,
                   generation = d.generation + 1, marked_at = now()
            RETURNING d.project_id
         ), job AS (
            INSERT INTO jobs AS j (id, kind, payload, concurrency_key, workspace_id, project_id,
                                   status, max_attempts, run_at, created_at, updated_at)
            SELECT $9, $10,
                   jsonb_build_object('project_id', project_id, 'workspace_id', workspace_id),
                   $11, workspace_id, project_id, 'queued', $12, now(), now(), now()
              FROM (SELECT DISTINCT project_id, workspace_id FROM target) m
            {conflict}
            RETURNING j.kind, (j.xmax = 0) AS inserted
         ), notify AS (
            SELECT pg_notify('{channel}', kind) FROM job WHERE inserted
         )
         SELECT t.project_id, t.id, t.number, t.title, t.description, t.status, t.priority,
                t.labels, t.source, t.created_at, t.updated_at,
                links.providers AS link_providers, links.refs AS link_references,
                links.urls AS link_urls,
                (SELECT count(*) FROM notify) AS notified
           FROM t {links}",
        reopen = reopen_status_sql("COALESCE($5, t.status)"),
        new_open = open("t.status"),
        old_open = open("o.status"),
        conflict = on_conflict(true),
        channel = JOBS_CHANNEL,
        links = LINK_ARRAYS,
    )
});

/// A task delete in one statement: the task (its links go with it, the issue
/// stays on GitHub) and, if it was linked to an issue, a `link_removed` event in
/// the journal (the events outlive the task: they name its number).
const DELETE_TASK: &str = "
WITH del AS (
    DELETE FROM tasks WHERE project_id = $1 AND number = $2 RETURNING id, number
), ev AS (
    INSERT INTO github_sync_events (id, project_id, task_id, task_number, issue_number, kind, detail)
    SELECT $3, $1, del.id, del.number, l.issue_number, 'link_removed', 'task.deleted'
      FROM del JOIN external_links l ON l.task_id = del.id AND l.provider = $4
     LIMIT 1
    RETURNING id
)
SELECT count(*) AS n FROM del";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What a create needs from the project: its next number and whether new tasks
/// are pushed by themselves (a repository, `two_way`, `push_new_tasks`).
#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = BigInt)]
    number: i64,
    #[diesel(sql_type = SqlUuid)]
    workspace_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    push_new_tasks: bool,
}

/// [`reserve_numbers`] for one task, in the same statement telling whether the
/// project pushes new tasks. Diesel's `NotFound` when the project is gone.
async fn reserve_for_create(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
) -> Result<Reserved, diesel::result::Error> {
    CachedSql::new(
        "UPDATE projects p SET last_task_number = p.last_task_number + 1
          WHERE p.id = $1
         RETURNING p.last_task_number AS number, p.workspace_id,
                   (p.github_repo IS NOT NULL AND EXISTS (
                        SELECT 1 FROM github_sync_settings s
                         WHERE s.project_id = p.id AND s.direction = 'two_way'
                           AND s.push_new_tasks)) AS push_new_tasks",
    )
    .bind::<SqlUuid, _>(project_id.into_uuid())
    .get_result(conn)
    .await
}

#[async_trait]
impl TaskStore for PgTaskStore {
    async fn create(&self, project_id: ProjectId, task: &NewTask) -> Result<Task> {
        self.db
            .run(async |conn| {
                let row = conn
                    .transaction::<_, diesel::result::Error, _>(async |conn| {
                        let reserved = reserve_for_create(conn, project_id).await?;
                        let row = TaskRow::new(project_id, reserved.number, task);
                        diesel::insert_into(tasks::table)
                            .values(&row)
                            .execute(conn)
                            .await?;
                        if reserved.push_new_tasks {
                            // The outbox: the project's merge job pushes unlinked
                            // tasks; it exists exactly when the task does.
                            let workspace_id = WorkspaceId::from_uuid(reserved.workspace_id);
                            enqueue_in(conn, &merge_job(project_id, workspace_id)).await?;
                        }
                        Ok(row)
                    })
                    .await
                    .missing_row("project")?;
                row.into_domain(Vec::new())
            })
            .await
    }

    async fn get(&self, project_id: ProjectId, number: i64) -> Result<Option<Task>> {
        self.db
            .run(async |conn| {
                let row = tasks::table
                    .filter(tasks::project_id.eq(project_id.into_uuid()))
                    .filter(tasks::number.eq(number))
                    .select(TaskRow::as_select())
                    .first(conn)
                    .await
                    .optional()
                    .or_internal()?;
                one_with_links(conn, row).await
            })
            .await
    }

    async fn list_in_project(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        filter: TaskFilter,
        after_number: Option<i64>,
        limit: Limit,
    ) -> Result<Option<Vec<Task>>> {
        let query = ListInProject {
            workspace_id: workspace_id.into_uuid(),
            slug: slug.as_str(),
            after_number,
            status: filter.status.map(pm_tasks::TaskStatus::as_str),
            source: filter.source.map(pm_tasks::TaskSource::as_str),
            limit: i64::from(limit.get()) + 1,
        };
        self.db
            .run(async |conn| {
                let rows: Vec<ListedRow> = query.load(conn).await.or_internal()?;
                if rows.is_empty() {
                    // Not even the project's row: no such project in this workspace.
                    return Ok(None);
                }
                rows.into_iter()
                    .filter_map(|row| row.into_task().transpose())
                    .collect::<Result<Vec<_>>>()
                    .map(Some)
            })
            .await
    }

    async fn update(
        &self,
        project_id: ProjectId,
        number: i64,
        patch: &TaskPatch,
    ) -> Result<Option<Task>> {
        let job = merge_job(project_id, WorkspaceId::from_uuid(Uuid::nil()));
        let key = job.concurrency_key.clone().unwrap_or_default();
        let title = patch.title.as_ref().map(TaskTitle::as_str);
        let description = patch.description.as_ref().map(TaskDescription::as_str);
        let status = patch.status.map(pm_tasks::TaskStatus::as_str);
        let priority = patch.priority.map(pm_tasks::Priority::as_str);
        let labels = patch.labels.as_ref().map(Labels::as_slice);
        self.db
            .run(async |conn| {
                let row: Option<ListedRow> = CachedSql::new(UPDATE_TASK.as_str())
                    .bind::<SqlUuid, _>(project_id.into_uuid())
                    .bind::<BigInt, _>(number)
                    .bind::<Nullable<Text>, _>(title)
                    .bind::<Nullable<Text>, _>(description)
                    .bind::<Nullable<Text>, _>(status)
                    .bind::<Nullable<Text>, _>(priority)
                    .bind::<Nullable<Array<Text>>, _>(labels)
                    .bind::<Timestamptz, _>(pm_kernel::now())
                    .bind::<SqlUuid, _>(job.id.into_uuid())
                    .bind::<Text, _>(&job.kind)
                    .bind::<Text, _>(&key)
                    .bind::<Integer, _>(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
                    .bind::<Text, _>(TASK_EDITED)
                    .bind::<Text, _>(GITHUB_PROVIDER)
                    .get_result(conn)
                    .await
                    .optional()
                    .or_internal()?;
                row.map(ListedRow::into_task)
                    .transpose()
                    .map(Option::flatten)
            })
            .await
    }

    async fn delete(&self, project_id: ProjectId, number: i64) -> Result<bool> {
        let event_id = Uuid::now_v7();
        self.db
            .run(async |conn| {
                let deleted: Count = CachedSql::new(DELETE_TASK)
                    .bind::<SqlUuid, _>(project_id.into_uuid())
                    .bind::<BigInt, _>(number)
                    .bind::<SqlUuid, _>(event_id)
                    .bind::<Text, _>(GITHUB_PROVIDER)
                    .get_result(conn)
                    .await
                    .or_internal()?;
                Ok(deleted.n > 0)
            })
            .await
    }
}
