//! `TaskStore` on PostgreSQL.

use crate::Database;
use crate::errors::{self, DbResultExt};
use crate::schema::{external_links, projects, tasks};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_kernel::{Limit, ProjectId, Result, TaskId};
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

    async fn list(
        &self,
        project_id: ProjectId,
        filter: TaskFilter,
        after_number: Option<i64>,
        limit: Limit,
    ) -> Result<Vec<Task>> {
        self.db
            .run(async |conn| {
                let mut query = tasks::table
                    .filter(tasks::project_id.eq(project_id.into_uuid()))
                    .select(TaskRow::as_select())
                    .order(tasks::number.asc())
                    .limit(i64::from(limit.get()) + 1)
                    .into_boxed();
                if let Some(after) = after_number {
                    query = query.filter(tasks::number.gt(after));
                }
                if let Some(status) = filter.status {
                    query = query.filter(tasks::status.eq(status.as_str()));
                }
                if let Some(source) = filter.source {
                    query = query.filter(tasks::source.eq(source.as_str()));
                }
                let rows = query.load(conn).await.or_internal()?;
                with_links(conn, rows).await
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
