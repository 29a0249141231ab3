//! `TaskStore` on PostgreSQL.

use crate::Database;
use crate::errors::{self, DbResultExt};
use crate::schema::{external_links, projects, tasks};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Untyped, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
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

    fn into_domain(self, external_links: Vec<ExternalLink>) -> Result<Task> {
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

#[derive(AsChangeset)]
#[diesel(table_name = tasks)]
struct TaskChanges<'a> {
    title: Option<&'a str>,
    description: Option<&'a str>,
    status: Option<&'static str>,
    priority: Option<&'static str>,
    labels: Option<&'a [String]>,
    updated_at: OffsetDateTime,
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
        let providers = self.link_providers.unwrap_or_default();
        let references = self.link_references.unwrap_or_default();
        let urls = self.link_urls.unwrap_or_default();
        if providers.len() != references.len() || providers.len() != urls.len() {
            return Err(Error::internal(
                "task list: link arrays of different lengths",
            ));
        }
        let links = providers
            .into_iter()
            .zip(references)
            .zip(urls)
            .map(|((provider, reference), url)| ExternalLink {
                provider,
                reference,
                url,
            })
            .collect();
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

#[async_trait]
impl TaskStore for PgTaskStore {
    async fn create(&self, project_id: ProjectId, task: &NewTask) -> Result<Task> {
        self.db
            .run(async |conn| {
                let row = conn
                    .transaction::<_, diesel::result::Error, _>(async |conn| {
                        let number = reserve_numbers(conn, project_id, 1).await?;
                        let row = TaskRow::new(project_id, number, task);
                        diesel::insert_into(tasks::table)
                            .values(&row)
                            .execute(conn)
                            .await?;
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
            status: filter.status.map(|s| s.as_str()),
            source: filter.source.map(|s| s.as_str()),
            limit: i64::from(limit.get()) + 1,
        };
        self.db
            .run(async |conn| {
                let rows: Vec<ListedRow> = query.load(conn).await.map_err(errors::internal)?;
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
        let changes = TaskChanges {
            title: patch.title.as_ref().map(TaskTitle::as_str),
            description: patch.description.as_ref().map(TaskDescription::as_str),
            status: patch.status.map(|s| s.as_str()),
            priority: patch.priority.map(|p| p.as_str()),
            labels: patch.labels.as_ref().map(Labels::as_slice),
            updated_at: pm_kernel::now(),
        };
        self.db
            .run(async |conn| {
                let row = diesel::update(
                    tasks::table
                        .filter(tasks::project_id.eq(project_id.into_uuid()))
                        .filter(tasks::number.eq(number)),
                )
                .set(&changes)
                .returning(TaskRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?;
                one_with_links(conn, row).await
            })
            .await
    }

    async fn delete(&self, project_id: ProjectId, number: i64) -> Result<bool> {
        self.db
            .run(async |conn| {
                let deleted = diesel::delete(
                    tasks::table
                        .filter(tasks::project_id.eq(project_id.into_uuid()))
                        .filter(tasks::number.eq(number)),
                )
                .execute(conn)
                .await
                .or_internal()?;
                Ok(deleted > 0)
            })
            .await
    }
}
