//! `ProjectRepository` on PostgreSQL.

use crate::Database;
use crate::errors::{self, DbResultExt};
use crate::schema::{projects, specs};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use pm_kernel::{ConflictReason, Limit, ProjectId, Result, WorkspaceId};
use pm_projects::{
    Description, NewProject, Project, ProjectName, ProjectPatch, ProjectRepository, RepoFullName,
    Slug,
};
use pm_specs::SpecStatus;
use time::OffsetDateTime;
use uuid::Uuid;

/// The unique index on `projects.slug`: a violation of it is a slug clash, which
/// `ProjectService::create` answers with a fresh slug.
pub(crate) const SLUG_INDEX: &str = "projects_slug_key";

#[derive(Clone, Debug)]
pub struct PgProjectRepository {
    db: Database,
}

impl PgProjectRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = projects)]
pub(crate) struct ProjectRow {
    id: Uuid,
    workspace_id: Uuid,
    slug: String,
    name: String,
    description: String,
    github_repo: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl ProjectRow {
    pub(crate) fn into_domain(self) -> Result<Project> {
        errors::from_stored(self.validate())
    }

    fn validate(self) -> Result<Project> {
        Ok(Project {
            id: ProjectId::from_uuid(self.id),
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            slug: Slug::parse(&self.slug)?,
            name: ProjectName::new(&self.name)?,
            description: Description::new(&self.description)?,
            github_repo: self
                .github_repo
                .as_deref()
                .map(RepoFullName::parse)
                .transpose()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = projects)]
struct ProjectChanges<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    updated_at: OffsetDateTime,
}

#[async_trait]
impl ProjectRepository for PgProjectRepository {
    async fn create(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        project: &NewProject,
    ) -> Result<Project> {
        let now = pm_kernel::now();
        let row = ProjectRow {
            id: ProjectId::new().into_uuid(),
            workspace_id: workspace_id.into_uuid(),
            slug: slug.as_str().to_string(),
            name: project.name.as_str().to_string(),
            description: project.description.as_str().to_string(),
            github_repo: None,
            created_at: now,
            updated_at: now,
        };
        self.db
            .run(async |conn| {
                // The project and its draft spec exist together or not at all.
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    diesel::insert_into(projects::table)
                        .values(&row)
                        .execute(conn)
                        .await?;
                    diesel::insert_into(specs::table)
                        .values((
                            specs::project_id.eq(row.id),
                            specs::status.eq(SpecStatus::Draft.as_str()),
                            specs::content.eq(""),
                            specs::updated_at.eq(now),
                        ))
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
                .await
                .conflict_on(
                    SLUG_INDEX,
                    ConflictReason::SlugTaken,
                    "the slug is taken",
                )?;
                row.into_domain()
            })
            .await
    }

    async fn get(&self, workspace_id: WorkspaceId, slug: &Slug) -> Result<Option<Project>> {
        self.db
            .run(async |conn| {
                projects::table
                    .filter(projects::workspace_id.eq(workspace_id.into_uuid()))
                    .filter(projects::slug.eq(slug.as_str()))
                    .select(ProjectRow::as_select())
                    .first(conn)
                    .await
                    .optional()
                    .or_internal()?
                    .map(ProjectRow::into_domain)
                    .transpose()
            })
            .await
    }

    async fn list(
        &self,
        workspace_id: WorkspaceId,
        after: Option<ProjectId>,
        limit: Limit,
    ) -> Result<Vec<Project>> {
        self.db
            .run(async |conn| {
                let mut query = projects::table
                    .filter(projects::workspace_id.eq(workspace_id.into_uuid()))
                    .select(ProjectRow::as_select())
                    .order(projects::id.asc())
                    .limit(i64::from(limit.get()) + 1)
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter(projects::id.gt(after.into_uuid()));
                }
                query
                    .load(conn)
                    .await
                    .or_internal()?
                    .into_iter()
                    .map(ProjectRow::into_domain)
                    .collect()
            })
            .await
    }

    async fn update(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        patch: &ProjectPatch,
    ) -> Result<Option<Project>> {
        let changes = ProjectChanges {
            name: patch.name.as_ref().map(ProjectName::as_str),
            description: patch.description.as_ref().map(Description::as_str),
            updated_at: pm_kernel::now(),
        };
        self.db
            .run(async |conn| {
                diesel::update(
                    projects::table
                        .filter(projects::workspace_id.eq(workspace_id.into_uuid()))
                        .filter(projects::slug.eq(slug.as_str())),
                )
                .set(&changes)
                .returning(ProjectRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?
                .map(ProjectRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn delete(&self, workspace_id: WorkspaceId, slug: &Slug) -> Result<bool> {
        self.db
            .run(async |conn| {
                let deleted = diesel::delete(
                    projects::table
                        .filter(projects::workspace_id.eq(workspace_id.into_uuid()))
                        .filter(projects::slug.eq(slug.as_str())),
                )
                .execute(conn)
                .await
                .or_internal()?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn set_github_repo_if_unset(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        repo: RepoFullName,
    ) -> Result<Option<Project>> {
        self.db
            .run(async |conn| {
                diesel::update(
                    projects::table
                        .filter(projects::workspace_id.eq(workspace_id.into_uuid()))
                        .filter(projects::id.eq(project_id.into_uuid()))
                        .filter(projects::github_repo.is_null()),
                )
                .set((
                    projects::github_repo.eq(repo.as_str()),
                    projects::updated_at.eq(pm_kernel::now()),
                ))
                .returning(ProjectRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?
                .map(ProjectRow::into_domain)
                .transpose()
            })
            .await
    }

    async fn set_github_repo(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        repo: Option<RepoFullName>,
    ) -> Result<Option<Project>> {
        self.db
            .run(async |conn| {
                diesel::update(
                    projects::table
                        .filter(projects::workspace_id.eq(workspace_id.into_uuid()))
                        .filter(projects::id.eq(project_id.into_uuid())),
                )
                .set((
                    projects::github_repo.eq(repo.as_ref().map(RepoFullName::as_str)),
                    projects::updated_at.eq(pm_kernel::now()),
                ))
                .returning(ProjectRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .or_internal()?
                .map(ProjectRow::into_domain)
                .transpose()
            })
            .await
    }
}
