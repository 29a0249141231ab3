//! The project and task services without HTTP or a database: both ports are
//! implemented here in memory, in a few lines each.
//!
//! ```sh
//! cargo run -p pm-tasks --example in_memory
//! ```

use async_trait::async_trait;
use pm_kernel::{
    Actor, ConflictReason, Error, Limit, ProjectId, Result, Role, UserId, WorkspaceId,
};
use pm_projects::{
    Description, NewProject, Project, ProjectName, ProjectPatch, ProjectRepository, ProjectService,
    RepoFullName, Slug,
};
use pm_tasks::{
    Labels, NewTask, Priority, Task, TaskDescription, TaskFilter, TaskPatch, TaskService,
    TaskSource, TaskStatus, TaskStore, TaskTitle,
};
use std::sync::{Arc, Mutex};

/// Projects in a vector; every look-up is scoped by workspace, as the port asks.
#[derive(Default)]
struct MemoryProjects(Mutex<Vec<Project>>);

#[async_trait]
impl ProjectRepository for MemoryProjects {
    async fn create(&self, ws: WorkspaceId, slug: &Slug, new: &NewProject) -> Result<Project> {
        let mut all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        if all.iter().any(|p| &p.slug == slug) {
            return Err(Error::conflict(
                ConflictReason::SlugTaken,
                "the slug is taken",
            ));
        }
        let now = pm_kernel::now();
        let project = Project {
            id: ProjectId::new(),
            workspace_id: ws,
            slug: slug.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            github_repo: None,
            created_at: now,
            updated_at: now,
        };
        all.push(project.clone());
        Ok(project)
    }

    async fn get(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Project>> {
        let all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        Ok(all
            .iter()
            .find(|p| p.workspace_id == ws && &p.slug == slug)
            .cloned())
    }

    async fn list(
        &self,
        ws: WorkspaceId,
        after: Option<ProjectId>,
        limit: Limit,
    ) -> Result<Vec<Project>> {
        let all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        Ok(all
            .iter()
            .filter(|p| p.workspace_id == ws && after.is_none_or(|a| p.id > a))
            .take(usize::try_from(limit.get()).unwrap_or(usize::MAX) + 1)
            .cloned()
            .collect())
    }

    async fn update(&self, _: WorkspaceId, _: &Slug, _: &ProjectPatch) -> Result<Option<Project>> {
        Ok(None) // not needed by this example
    }

    async fn delete(&self, _: WorkspaceId, _: &Slug) -> Result<bool> {
        Ok(false)
    }

    async fn set_github_repo_if_unset(
        &self,
        _: WorkspaceId,
        _: ProjectId,
        _: RepoFullName,
    ) -> Result<Option<Project>> {
        Ok(None)
    }

    async fn set_github_repo(
        &self,
        _: WorkspaceId,
        _: ProjectId,
        _: Option<RepoFullName>,
    ) -> Result<Option<Project>> {
        Ok(None)
    }
}

/// Tasks in a vector, numbered per project under one lock. It sees the projects
/// too, because the task list resolves its project by workspace and slug.
struct MemoryTasks(Mutex<Vec<Task>>, Arc<MemoryProjects>);

#[async_trait]
impl TaskStore for MemoryTasks {
    async fn create(&self, project_id: ProjectId, new: &NewTask) -> Result<Task> {
        let mut all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        let number = all.iter().filter(|t| t.project_id == project_id).count() + 1;
        let now = pm_kernel::now();
        let task = Task {
            id: pm_kernel::TaskId::new(),
            project_id,
            number: i64::try_from(number).map_err(|e| Error::internal(e.to_string()))?,
            title: new.title.clone(),
            description: new.description.clone(),
            status: new.status,
            priority: new.priority,
            labels: new.labels.clone(),
            source: new.source,
            external_links: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        all.push(task.clone());
        Ok(task)
    }

    async fn get(&self, project_id: ProjectId, number: i64) -> Result<Option<Task>> {
        let all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        Ok(all
            .iter()
            .find(|t| t.project_id == project_id && t.number == number)
            .cloned())
    }

    async fn list_in_project(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        filter: TaskFilter,
        after_number: Option<i64>,
        limit: Limit,
    ) -> Result<Option<Vec<Task>>> {
        let Some(project) = self.1.get(workspace_id, slug).await? else {
            return Ok(None);
        };
        let all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        Ok(Some(
            all.iter()
                .filter(|t| t.project_id == project.id)
                .filter(|t| filter.status.is_none_or(|s| t.status == s))
                .filter(|t| filter.source.is_none_or(|s| t.source == s))
                .filter(|t| after_number.is_none_or(|n| t.number > n))
                .take(usize::try_from(limit.get()).unwrap_or(usize::MAX) + 1)
                .cloned()
                .collect(),
        ))
    }

    async fn update(
        &self,
        project_id: ProjectId,
        number: i64,
        patch: &TaskPatch,
    ) -> Result<Option<Task>> {
        let mut all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        let Some(task) = all
            .iter_mut()
            .find(|t| t.project_id == project_id && t.number == number)
        else {
            return Ok(None);
        };
        if let Some(status) = patch.status {
            task.status = status;
        }
        if let Some(title) = &patch.title {
            task.title = title.clone();
        }
        task.updated_at = pm_kernel::now();
        Ok(Some(task.clone()))
    }

    async fn delete(&self, project_id: ProjectId, number: i64) -> Result<bool> {
        let mut all = self.0.lock().map_err(|_| Error::internal("poisoned"))?;
        let before = all.len();
        all.retain(|t| !(t.project_id == project_id && t.number == number));
        Ok(all.len() < before)
    }
}

fn new_task(title: &str, priority: Priority) -> Result<NewTask> {
    Ok(NewTask {
        title: TaskTitle::new(title)?,
        description: TaskDescription::new("")?,
        status: TaskStatus::Todo,
        priority,
        labels: Labels::new(&["example".to_string()])?,
        source: TaskSource::Manual,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let projects = Arc::new(MemoryProjects::default());
    let project_service = ProjectService::new(projects.clone());
    let task_store = Arc::new(MemoryTasks(Mutex::default(), projects.clone()));
    let tasks = TaskService::new(projects, task_store);

    let alice = Actor {
        user_id: UserId::new(),
        workspace_id: WorkspaceId::new(),
        role: Role::Admin,
    };
    let project = project_service
        .create(
            &alice,
            NewProject {
                name: ProjectName::new("Billing Revamp")?,
                description: Description::new("Move invoices to the new ledger")?,
            },
        )
        .await?;
    println!("created project {}", project.slug);

    for (title, priority) in [
        ("Draft the migration plan", Priority::High),
        ("Freeze the old ledger", Priority::Medium),
    ] {
        let task = tasks
            .create(&alice, &project.slug, new_task(title, priority)?)
            .await?;
        println!(
            "  task #{} {} ({})",
            task.number,
            task.title.as_str(),
            task.priority
        );
    }

    let done = TaskPatch {
        status: Some(TaskStatus::Done),
        ..TaskPatch::default()
    };
    let task = tasks.update(&alice, &project.slug, 1, done).await?;
    println!("  task #{} is now {}", task.number, task.status);

    let page = tasks
        .list(
            &alice,
            &project.slug,
            TaskFilter::default(),
            None,
            Limit::default(),
        )
        .await?;
    println!("{} tasks listed", page.items.len());

    // Another workspace cannot see the project: it looks exactly like a missing one.
    let mallory = Actor {
        workspace_id: WorkspaceId::new(),
        ..alice
    };
    match tasks.get(&mallory, &project.slug, 1).await {
        Err(Error::NotFound(what)) => println!("another workspace: {what} not found"),
        other => println!("unexpected: {other:?}"),
    }

    // Bad input is a validation error naming the field; nothing is written.
    match TaskTitle::new("   ") {
        Err(err) => println!("empty title: {err}"),
        Ok(_) => println!("unexpected: an empty title passed"),
    }
    Ok(())
}
