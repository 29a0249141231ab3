//! The project use cases, with the rules on who may do what.

use crate::{NewProject, Project, ProjectPatch, ProjectRepository, Slug, project_of};
use pm_kernel::{Actor, ConflictReason, Cursor, Error, Limit, Page, ProjectId, Result};
use std::sync::Arc;

/// How often creation retries when a freshly generated slug collides. With a
/// 6-character random suffix a single collision is already very unlikely.
const SLUG_ATTEMPTS: usize = 3;

#[derive(Clone)]
/// The project use cases.
pub struct ProjectService {
    repo: Arc<dyn ProjectRepository>,
}

impl ProjectService {
    /// Wires the service to its ports.
    pub fn new(repo: Arc<dyn ProjectRepository>) -> Self {
        Self { repo }
    }

    /// Creates a project with a generated slug, trying a fresh slug (at most 3 attempts) only when the slug is taken.
    pub async fn create(&self, actor: &Actor, project: NewProject) -> Result<Project> {
        let mut last_err = None;
        for _ in 0..SLUG_ATTEMPTS {
            let slug = Slug::generate(&project.name);
            match self.repo.create(actor.workspace_id, &slug, &project).await {
                // Only a slug clash is worth another slug; any other conflict is final.
                Err(err) if err.conflict_reason() == Some(ConflictReason::SlugTaken) => {
                    last_err = Some(err);
                }
                other => return other,
            }
        }
        Err(last_err.unwrap_or_else(|| Error::internal("slug generation failed")))
    }

    /// The project in the actor's workspace, or `NotFound`.
    pub async fn get(&self, actor: &Actor, slug: &Slug) -> Result<Project> {
        project_of(self.repo.as_ref(), actor, slug).await
    }

    /// The workspace's projects in creation order, a page at a time.
    pub async fn list(
        &self,
        actor: &Actor,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<Project>> {
        let after = cursor
            .map(|c| c.parse_key::<uuid::Uuid>().map(ProjectId::from_uuid))
            .transpose()?;
        let rows = self.repo.list(actor.workspace_id, after, limit).await?;
        Ok(Page::from_rows(rows, limit, |p| p.id.to_string()))
    }

    /// Renames or re-describes a project; an empty patch is a validation error.
    pub async fn update(&self, actor: &Actor, slug: &Slug, patch: ProjectPatch) -> Result<Project> {
        if patch.is_empty() {
            return Err(Error::invalid("", "give `name` or `description` to change"));
        }
        self.repo
            .update(actor.workspace_id, slug, &patch)
            .await?
            .ok_or(Error::NotFound("project"))
    }

    /// Deletes a project and everything in it. Admins only.
    pub async fn delete(&self, actor: &Actor, slug: &Slug) -> Result<()> {
        actor.require_admin()?;
        if self.repo.delete(actor.workspace_id, slug).await? {
            Ok(())
        } else {
            Err(Error::NotFound("project"))
        }
    }

    /// Clears the linked GitHub repository. Admins only. (Setting one is checked
    /// against GitHub, so it lives in the integrations crate.)
    pub async fn clear_github_repo(&self, actor: &Actor, slug: &Slug) -> Result<Project> {
        actor.require_admin()?;
        let project = self.get(actor, slug).await?;
        self.repo
            .set_github_repo(actor.workspace_id, project.id, None)
            .await?
            .ok_or(Error::NotFound("project"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Description, MockProjectRepository, ProjectName};
    use mockall::predicate::*;
    use pm_kernel::{Role, WorkspaceId};

    fn actor(role: Role) -> Actor {
        pm_kernel::testing::actor(role)
    }

    fn sample(workspace_id: WorkspaceId, slug: &Slug, new: &NewProject) -> Project {
        let now = pm_kernel::now();
        Project {
            id: ProjectId::new(),
            workspace_id,
            slug: slug.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            github_repo: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn new_project() -> NewProject {
        NewProject {
            name: ProjectName::new("Billing").unwrap(),
            description: Description::new("").unwrap(),
        }
    }

    #[tokio::test]
    async fn create_retries_on_slug_collision_with_a_new_slug() {
        let actor = actor(Role::Member);
        let mut repo = MockProjectRepository::new();
        let mut seen = Vec::new();
        let mut calls = 0;
        repo.expect_create()
            .times(2)
            .returning(move |ws, slug, new| {
                calls += 1;
                seen.push(slug.clone());
                if calls == 1 {
                    Err(Error::conflict(ConflictReason::SlugTaken, "slug taken"))
                } else {
                    assert_ne!(seen[0], seen[1], "retry must use a fresh slug");
                    Ok(sample(ws, slug, new))
                }
            });
        let service = ProjectService::new(Arc::new(repo));
        let project = service.create(&actor, new_project()).await.unwrap();
        assert!(project.slug.as_str().starts_with("billing-"));
        assert_eq!(project.workspace_id, actor.workspace_id);
    }

    #[tokio::test]
    async fn create_gives_up_after_bounded_attempts() {
        let mut repo = MockProjectRepository::new();
        repo.expect_create()
            .times(SLUG_ATTEMPTS)
            .returning(|_, _, _| Err(Error::conflict(ConflictReason::SlugTaken, "slug taken")));
        let service = ProjectService::new(Arc::new(repo));
        let err = service
            .create(&actor(Role::Admin), new_project())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }

    #[tokio::test]
    async fn create_does_not_retry_a_conflict_that_is_not_a_slug_clash() {
        let mut repo = MockProjectRepository::new();
        repo.expect_create().times(1).returning(|_, _, _| {
            Err(Error::conflict(
                ConflictReason::LeaseHeld,
                "some other clash",
            ))
        });
        let service = ProjectService::new(Arc::new(repo));
        let err = service
            .create(&actor(Role::Admin), new_project())
            .await
            .unwrap_err();
        assert_eq!(err.conflict_reason(), Some(ConflictReason::LeaseHeld));
        assert_eq!(err.to_string(), "some other clash");
    }

    #[tokio::test]
    async fn create_does_not_retry_other_errors() {
        let mut repo = MockProjectRepository::new();
        repo.expect_create()
            .times(1)
            .returning(|_, _, _| Err(Error::internal("db down")));
        let service = ProjectService::new(Arc::new(repo));
        let err = service
            .create(&actor(Role::Admin), new_project())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Internal(_)));
    }

    #[tokio::test]
    async fn get_is_scoped_to_the_actor_workspace() {
        let actor = actor(Role::Member);
        let slug = Slug::parse("billing-abc123").unwrap();
        let mut repo = MockProjectRepository::new();
        repo.expect_get()
            .with(eq(actor.workspace_id), eq(slug.clone()))
            .returning(|_, _| Ok(None));
        let service = ProjectService::new(Arc::new(repo));
        let err = service.get(&actor, &slug).await.unwrap_err();
        assert!(matches!(err, Error::NotFound("project")));
    }

    #[tokio::test]
    async fn members_cannot_delete() {
        let mut repo = MockProjectRepository::new();
        repo.expect_delete().never();
        let service = ProjectService::new(Arc::new(repo));
        let slug = Slug::parse("billing-abc123").unwrap();
        let err = service
            .delete(&actor(Role::Member), &slug)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden));
    }

    #[tokio::test]
    async fn delete_of_missing_project_is_not_found() {
        let mut repo = MockProjectRepository::new();
        repo.expect_delete().returning(|_, _| Ok(false));
        let service = ProjectService::new(Arc::new(repo));
        let slug = Slug::parse("billing-abc123").unwrap();
        let err = service
            .delete(&actor(Role::Admin), &slug)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
    }

    #[tokio::test]
    async fn empty_patch_is_rejected_without_a_write() {
        let mut repo = MockProjectRepository::new();
        repo.expect_update().never();
        let service = ProjectService::new(Arc::new(repo));
        let slug = Slug::parse("billing-abc123").unwrap();
        let err = service
            .update(&actor(Role::Member), &slug, ProjectPatch::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
    }

    #[tokio::test]
    async fn list_passes_the_cursor_key_and_builds_next_cursor() {
        let actor = actor(Role::Member);
        let after = ProjectId::new();
        let mut repo = MockProjectRepository::new();
        repo.expect_list()
            .with(eq(actor.workspace_id), eq(Some(after)), always())
            .returning(|ws, _, _| {
                let slug = Slug::parse("a-b-c").unwrap();
                Ok(vec![
                    sample(ws, &slug, &new_project()),
                    sample(ws, &slug, &new_project()),
                ])
            });
        let service = ProjectService::new(Arc::new(repo));
        let cursor = Cursor::from_key(after.to_string());
        let page = service
            .list(&actor, Some(&cursor), Limit::new(Some(1)).unwrap())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(page.next_cursor.is_some());
    }
}
