//! Task use cases. Every call first resolves the project inside the caller's
//! workspace, so a task of another tenant answers `NotFound` like a missing one.

use crate::{NewTask, Task, TaskFilter, TaskPatch, TaskStore};
use pm_kernel::{Actor, Cursor, Error, Limit, Page, Result};
use pm_projects::{Project, ProjectRepository, Slug, project_of};
use std::sync::Arc;

#[derive(Clone)]
/// The task use cases, scoped to a project of the caller's workspace.
pub struct TaskService {
    projects: Arc<dyn ProjectRepository>,
    tasks: Arc<dyn TaskStore>,
}

impl TaskService {
    /// Wires the service to its ports.
    pub fn new(projects: Arc<dyn ProjectRepository>, tasks: Arc<dyn TaskStore>) -> Self {
        Self { projects, tasks }
    }

    async fn project(&self, actor: &Actor, slug: &Slug) -> Result<Project> {
        project_of(self.projects.as_ref(), actor, slug).await
    }

    /// Creates a task with the project's next number.
    pub async fn create(&self, actor: &Actor, slug: &Slug, task: NewTask) -> Result<Task> {
        let project = self.project(actor, slug).await?;
        self.tasks.create(project.id, &task).await
    }

    /// The task with this number, or `NotFound`.
    pub async fn get(&self, actor: &Actor, slug: &Slug, number: i64) -> Result<Task> {
        let project = self.project(actor, slug).await?;
        self.tasks
            .get(project.id, number)
            .await?
            .ok_or(Error::NotFound("task"))
    }

    /// The project's tasks by number, filtered, a page at a time.
    pub async fn list(
        &self,
        actor: &Actor,
        slug: &Slug,
        filter: TaskFilter,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<Task>> {
        let after = cursor.map(|c| c.parse_key::<i64>()).transpose()?;
        // One store call resolves the project inside the caller's workspace and
        // reads the page: the same tenancy rule as `project_of`, in one step.
        let rows = self
            .tasks
            .list_in_project(actor.workspace_id, slug, filter, after, limit)
            .await?
            .ok_or(Error::NotFound("project"))?;
        Ok(Page::from_rows(rows, limit, |t| t.number.to_string()))
    }

    /// Applies a non-empty patch.
    pub async fn update(
        &self,
        actor: &Actor,
        slug: &Slug,
        number: i64,
        patch: TaskPatch,
    ) -> Result<Task> {
        if patch.is_empty() {
            return Err(Error::invalid("", "give at least one field to change"));
        }
        let project = self.project(actor, slug).await?;
        self.tasks
            .update(project.id, number, &patch)
            .await?
            .ok_or(Error::NotFound("task"))
    }

    /// Deletes a task, or `NotFound`.
    pub async fn delete(&self, actor: &Actor, slug: &Slug, number: i64) -> Result<()> {
        let project = self.project(actor, slug).await?;
        if self.tasks.delete(project.id, number).await? {
            Ok(())
        } else {
            Err(Error::NotFound("task"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Labels, MockTaskStore, Priority, TaskDescription, TaskSource, TaskStatus, TaskTitle,
    };
    use mockall::predicate::*;
    use pm_kernel::{ProjectId, Role, TaskId, WorkspaceId};
    use pm_projects::MockProjectRepository;

    fn actor() -> Actor {
        pm_kernel::testing::actor(Role::Member)
    }

    fn project(workspace_id: WorkspaceId) -> Project {
        pm_projects::testing::project(workspace_id, "billing-abc123", "Billing", None)
    }

    fn new_task() -> NewTask {
        NewTask {
            title: TaskTitle::new("Write it").unwrap(),
            description: TaskDescription::default(),
            status: TaskStatus::Todo,
            priority: Priority::None,
            labels: Labels::default(),
            source: TaskSource::Manual,
        }
    }

    fn task(project_id: ProjectId, number: i64) -> Task {
        let now = pm_kernel::now();
        let t = new_task();
        Task {
            id: TaskId::new(),
            project_id,
            number,
            title: t.title,
            description: t.description,
            status: t.status,
            priority: t.priority,
            labels: t.labels,
            source: t.source,
            external_links: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    fn slug() -> Slug {
        Slug::parse("billing-abc123").unwrap()
    }

    #[tokio::test]
    async fn create_stores_under_the_resolved_project() {
        let actor = actor();
        let p = project(actor.workspace_id);
        let pid = p.id;
        let mut projects = MockProjectRepository::new();
        projects
            .expect_get()
            .with(eq(actor.workspace_id), eq(slug()))
            .returning(move |_, _| Ok(Some(p.clone())));
        let mut tasks = MockTaskStore::new();
        tasks
            .expect_create()
            .with(eq(pid), always())
            .times(1)
            .returning(|pid, _| Ok(task(pid, 1)));
        let service = TaskService::new(Arc::new(projects), Arc::new(tasks));
        let created = service.create(&actor, &slug(), new_task()).await.unwrap();
        assert_eq!((created.project_id, created.number), (pid, 1));
    }

    #[tokio::test]
    async fn another_workspaces_project_is_not_found_and_nothing_is_written() {
        let mut projects = MockProjectRepository::new();
        projects.expect_get().returning(|_, _| Ok(None));
        let mut tasks = MockTaskStore::new();
        tasks.expect_create().never();
        let service = TaskService::new(Arc::new(projects), Arc::new(tasks));
        let err = service
            .create(&actor(), &slug(), new_task())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound("project")));
    }

    #[tokio::test]
    async fn missing_task_is_not_found() {
        let actor = actor();
        let p = project(actor.workspace_id);
        let mut projects = MockProjectRepository::new();
        projects
            .expect_get()
            .returning(move |_, _| Ok(Some(p.clone())));
        let mut tasks = MockTaskStore::new();
        tasks.expect_get().returning(|_, _| Ok(None));
        tasks.expect_delete().returning(|_, _| Ok(false));
        let service = TaskService::new(Arc::new(projects), Arc::new(tasks));
        assert!(matches!(
            service.get(&actor, &slug(), 7).await.unwrap_err(),
            Error::NotFound("task")
        ));
        assert!(matches!(
            service.delete(&actor, &slug(), 7).await.unwrap_err(),
            Error::NotFound("task")
        ));
    }

    #[tokio::test]
    async fn list_uses_the_number_cursor_and_rejects_foreign_cursors() {
        let actor = actor();
        let pid = ProjectId::new();
        // The listing resolves the project itself: no separate look-up.
        let mut projects = MockProjectRepository::new();
        projects.expect_get().never();
        let mut tasks = MockTaskStore::new();
        let filter = TaskFilter {
            status: Some(TaskStatus::Done),
            source: None,
        };
        tasks
            .expect_list_in_project()
            .with(
                eq(actor.workspace_id),
                eq(slug()),
                eq(filter),
                eq(Some(10)),
                always(),
            )
            .times(1)
            .returning(move |_, _, _, _, _| Ok(Some(vec![task(pid, 11), task(pid, 12)])));
        let service = TaskService::new(Arc::new(projects), Arc::new(tasks));
        let limit = Limit::new(Some(1)).unwrap();
        let page = service
            .list(
                &actor,
                &slug(),
                filter,
                Some(&Cursor::from_key("10")),
                limit,
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.key(), "11");
        let err = service
            .list(&actor, &slug(), filter, Some(&Cursor::from_key("x")), limit)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
    }

    #[tokio::test]
    async fn listing_another_workspaces_project_is_not_found() {
        let mut tasks = MockTaskStore::new();
        tasks
            .expect_list_in_project()
            .returning(|_, _, _, _, _| Ok(None));
        let service = TaskService::new(Arc::new(MockProjectRepository::new()), Arc::new(tasks));
        let err = service
            .list(
                &actor(),
                &slug(),
                TaskFilter::default(),
                None,
                Limit::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound("project")));
    }

    #[tokio::test]
    async fn a_project_without_tasks_lists_an_empty_page() {
        let mut tasks = MockTaskStore::new();
        tasks
            .expect_list_in_project()
            .returning(|_, _, _, _, _| Ok(Some(vec![])));
        let service = TaskService::new(Arc::new(MockProjectRepository::new()), Arc::new(tasks));
        let page = service
            .list(
                &actor(),
                &slug(),
                TaskFilter::default(),
                None,
                Limit::default(),
            )
            .await
            .unwrap();
        assert!(page.items.is_empty());
        assert!(page.next_cursor.is_none());
    }

    #[tokio::test]
    async fn a_bad_cursor_is_rejected_before_any_lookup() {
        let mut tasks = MockTaskStore::new();
        tasks.expect_list_in_project().never();
        let service = TaskService::new(Arc::new(MockProjectRepository::new()), Arc::new(tasks));
        let err = service
            .list(
                &actor(),
                &slug(),
                TaskFilter::default(),
                Some(&Cursor::from_key("x")),
                Limit::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
    }

    #[tokio::test]
    async fn empty_patch_is_rejected_before_any_lookup() {
        let mut projects = MockProjectRepository::new();
        projects.expect_get().never();
        let service = TaskService::new(Arc::new(projects), Arc::new(MockTaskStore::new()));
        let err = service
            .update(&actor(), &slug(), 1, TaskPatch::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
    }
}
