//! What the API shows of two-way sync: a project's settings (members read, admins
//! change), the journal of a run and of a task, the conflicts (open ones by
//! default) and their acknowledgement, and the health view. Every call resolves the
//! project by slug in the actor's workspace first, so another workspace's project,
//! run or conflict is `NotFound`.

use crate::SyncStore;
use crate::two_way::{
    Conflict, SyncEvent, SyncHealth, SyncJournal, SyncSettings, SyncSettingsPatch,
    SyncSettingsStore,
};
use pm_kernel::{Actor, Cursor, Error, Limit, Page, Result, SyncRunId};
use pm_projects::{Project, ProjectRepository, Slug, project_of};
use std::sync::Arc;

/// Which conflicts a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConflictFilter {
    /// Only those nobody acknowledged yet (the default).
    #[default]
    Open,
    /// Every recorded conflict.
    All,
}

/// The health of a project's sync and the repository it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSyncHealth {
    /// The project's repository (`None`: not linked, nothing syncs).
    pub repo: Option<String>,
    /// The project's settings.
    pub settings: SyncSettings,
    /// The figures.
    pub health: SyncHealth,
}

#[derive(Clone)]
/// Settings, journal, conflicts and health of a project's two-way sync.
pub struct TwoWayService {
    projects: Arc<dyn ProjectRepository>,
    settings: Arc<dyn SyncSettingsStore>,
    journal: Arc<dyn SyncJournal>,
    runs: Arc<dyn SyncStore>,
}

fn uuid_cursor(cursor: Option<&Cursor>) -> Result<Option<uuid::Uuid>> {
    cursor.map(Cursor::parse_key::<uuid::Uuid>).transpose()
}

impl TwoWayService {
    /// Wires the service to its ports (`runs` tells which project a run is of).
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        settings: Arc<dyn SyncSettingsStore>,
        journal: Arc<dyn SyncJournal>,
        runs: Arc<dyn SyncStore>,
    ) -> Self {
        Self {
            projects,
            settings,
            journal,
            runs,
        }
    }

    async fn project(&self, actor: &Actor, slug: &Slug) -> Result<Project> {
        project_of(self.projects.as_ref(), actor, slug).await
    }

    /// The project's settings (the defaults when none were stored).
    pub async fn settings(&self, actor: &Actor, slug: &Slug) -> Result<SyncSettings> {
        let project = self.project(actor, slug).await?;
        self.settings.get(project.id).await
    }

    /// Changes the settings; admins only. An empty patch is a validation error,
    /// checked before anything is looked up.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        slug: &Slug,
        patch: SyncSettingsPatch,
    ) -> Result<SyncSettings> {
        actor.require_admin()?;
        if patch == SyncSettingsPatch::default() {
            return Err(Error::invalid(
                "",
                "give `direction`, `conflict_policy` or `push_new_tasks` to change",
            ));
        }
        let project = self.project(actor, slug).await?;
        self.settings.update(project.id, &patch).await
    }

    /// A run's journal, oldest first; the run must be the project's.
    pub async fn run_events(
        &self,
        actor: &Actor,
        slug: &Slug,
        run_id: SyncRunId,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<SyncEvent>> {
        let after = uuid_cursor(cursor)?;
        let project = self.project(actor, slug).await?;
        self.runs
            .get_run(run_id)
            .await?
            .filter(|run| run.project_id == project.id)
            .ok_or(Error::NotFound("sync run"))?;
        let rows = self
            .journal
            .run_events(project.id, run_id, after, limit)
            .await?;
        Ok(Page::from_rows(rows, limit, |e| e.id.to_string()))
    }

    /// A task's journal by its number, newest first. The entries outlive the task,
    /// so a deleted task's number still shows what happened to it.
    pub async fn task_events(
        &self,
        actor: &Actor,
        slug: &Slug,
        task_number: i64,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<SyncEvent>> {
        let before = uuid_cursor(cursor)?;
        let project = self.project(actor, slug).await?;
        let rows = self
            .journal
            .task_events(project.id, task_number, before, limit)
            .await?;
        Ok(Page::from_rows(rows, limit, |e| e.id.to_string()))
    }

    /// The project's conflicts, newest first.
    pub async fn conflicts(
        &self,
        actor: &Actor,
        slug: &Slug,
        filter: ConflictFilter,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<Conflict>> {
        let before = uuid_cursor(cursor)?;
        let project = self.project(actor, slug).await?;
        let rows = self
            .journal
            .conflicts(project.id, filter == ConflictFilter::Open, before, limit)
            .await?;
        Ok(Page::from_rows(rows, limit, |c| c.id.to_string()))
    }

    /// Marks a conflict as seen (any member). Acknowledging it again changes
    /// nothing; a conflict of another project is `NotFound`.
    pub async fn acknowledge_conflict(
        &self,
        actor: &Actor,
        slug: &Slug,
        id: uuid::Uuid,
    ) -> Result<()> {
        let project = self.project(actor, slug).await?;
        if self.journal.acknowledge_conflict(project.id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("conflict"))
        }
    }

    /// The health view of the project's sync.
    pub async fn health(&self, actor: &Actor, slug: &Slug) -> Result<ProjectSyncHealth> {
        let project = self.project(actor, slug).await?;
        let settings = self.settings.get(project.id).await?;
        let health = self.journal.health(project.id).await?;
        Ok(ProjectSyncHealth {
            repo: project.github_repo.map(|r| r.to_string()),
            settings,
            health,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::two_way::{
        ConflictPolicy, MockSyncJournal, MockSyncSettingsStore, NewConflict, NewSyncEvent,
        SyncDirection, SyncEventKind, SyncField,
    };
    use crate::{MockSyncStore, RunProgress, SyncCounts, SyncKind, SyncRun, SyncStatus};
    use mockall::predicate::*;
    use pm_kernel::{ProjectId, Role, TaskId};
    use pm_projects::MockProjectRepository;

    const SLUG: &str = "billing-abc123";

    fn slug() -> Slug {
        Slug::parse(SLUG).unwrap()
    }

    /// Projects that hold `project` (in its workspace) and nothing else.
    fn projects_with(project: &Project) -> MockProjectRepository {
        let mut projects = MockProjectRepository::new();
        let p = project.clone();
        projects
            .expect_get()
            .returning(move |ws, s| Ok((ws == p.workspace_id && s == &p.slug).then(|| p.clone())));
        projects
    }

    struct Fixture {
        actor: Actor,
        project: Project,
        settings: MockSyncSettingsStore,
        journal: MockSyncJournal,
        runs: MockSyncStore,
    }

    impl Fixture {
        fn new(role: Role) -> Self {
            let actor = pm_kernel::testing::actor(role);
            let project =
                pm_projects::testing::project(actor.workspace_id, SLUG, "Billing", Some("o/r"));
            Self {
                actor,
                project,
                settings: MockSyncSettingsStore::new(),
                journal: MockSyncJournal::new(),
                runs: MockSyncStore::new(),
            }
        }

        fn service(self) -> (TwoWayService, Actor, Project) {
            let service = TwoWayService::new(
                Arc::new(projects_with(&self.project)),
                Arc::new(self.settings),
                Arc::new(self.journal),
                Arc::new(self.runs),
            );
            (service, self.actor, self.project)
        }
    }

    fn other_workspace(role: Role) -> Actor {
        pm_kernel::testing::actor(role)
    }

    fn event(n: u128) -> SyncEvent {
        SyncEvent {
            id: uuid::Uuid::from_u128(n),
            event: NewSyncEvent::new(SyncEventKind::EchoIgnored),
            created_at: pm_kernel::now(),
        }
    }

    fn run(project_id: ProjectId) -> SyncRun {
        SyncRun {
            id: SyncRunId::new(),
            project_id,
            kind: SyncKind::Import,
            repo: "o/r".into(),
            status: SyncStatus::Succeeded,
            counts: SyncCounts::default(),
            error_code: None,
            started_at: pm_kernel::now(),
            finished_at: None,
            job_id: None,
            progress: RunProgress::default(),
            resumes_at: None,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn a_member_reads_the_settings_of_the_project() {
        let mut f = Fixture::new(Role::Member);
        let pid = f.project.id;
        f.settings
            .expect_get()
            .with(eq(pid))
            .times(1)
            .returning(|_| Ok(SyncSettings::default()));
        let (service, actor, _) = f.service();
        let settings = service.settings(&actor, &slug()).await.unwrap();
        assert_eq!(settings.direction, SyncDirection::TwoWay);
    }

    #[tokio::test]
    async fn another_workspaces_project_is_not_found_and_nothing_is_read() {
        let mut f = Fixture::new(Role::Admin);
        f.settings.expect_get().never();
        f.settings.expect_update().never();
        f.journal.expect_health().never();
        f.journal.expect_conflicts().never();
        f.journal.expect_acknowledge_conflict().never();
        let (service, _, _) = f.service();
        let stranger = other_workspace(Role::Admin);
        let patch = SyncSettingsPatch {
            push_new_tasks: Some(true),
            ..SyncSettingsPatch::default()
        };
        let errors = [
            service.settings(&stranger, &slug()).await.unwrap_err(),
            service
                .update_settings(&stranger, &slug(), patch)
                .await
                .unwrap_err(),
            service.health(&stranger, &slug()).await.unwrap_err(),
            service
                .conflicts(
                    &stranger,
                    &slug(),
                    ConflictFilter::All,
                    None,
                    Limit::default(),
                )
                .await
                .unwrap_err(),
            service
                .acknowledge_conflict(&stranger, &slug(), uuid::Uuid::now_v7())
                .await
                .unwrap_err(),
        ];
        for err in errors {
            assert!(matches!(err, Error::NotFound("project")), "{err:?}");
        }
    }

    #[tokio::test]
    async fn an_admin_changes_the_settings() {
        let mut f = Fixture::new(Role::Admin);
        let pid = f.project.id;
        let patch = SyncSettingsPatch {
            direction: Some(SyncDirection::ImportOnly),
            conflict_policy: Some(ConflictPolicy::GithubWins),
            push_new_tasks: None,
        };
        f.settings
            .expect_update()
            .with(eq(pid), eq(patch))
            .times(1)
            .returning(|_, _| {
                Ok(SyncSettings {
                    direction: SyncDirection::ImportOnly,
                    conflict_policy: ConflictPolicy::GithubWins,
                    push_new_tasks: false,
                })
            });
        let (service, actor, _) = f.service();
        let s = service
            .update_settings(&actor, &slug(), patch)
            .await
            .unwrap();
        assert_eq!(s.conflict_policy, ConflictPolicy::GithubWins);
    }

    #[tokio::test]
    async fn a_member_may_not_change_the_settings() {
        let mut f = Fixture::new(Role::Member);
        f.settings.expect_update().never();
        let (service, actor, _) = f.service();
        let patch = SyncSettingsPatch {
            push_new_tasks: Some(true),
            ..SyncSettingsPatch::default()
        };
        let err = service
            .update_settings(&actor, &slug(), patch)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "FORBIDDEN");
    }

    #[tokio::test]
    async fn an_empty_patch_is_a_validation_error_and_writes_nothing() {
        let mut f = Fixture::new(Role::Admin);
        f.settings.expect_update().never();
        let (service, actor, _) = f.service();
        let err = service
            .update_settings(&actor, &slug(), SyncSettingsPatch::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION_FAILED");
    }

    #[tokio::test]
    async fn run_events_are_paged_after_the_cursor() {
        let mut f = Fixture::new(Role::Member);
        let the_run = run(f.project.id);
        let run_id = the_run.id;
        let pid = f.project.id;
        f.runs
            .expect_get_run()
            .with(eq(run_id))
            .returning(move |_| Ok(Some(the_run.clone())));
        let cursor_id = uuid::Uuid::from_u128(7);
        f.journal
            .expect_run_events()
            .with(eq(pid), eq(run_id), eq(Some(cursor_id)), always())
            .times(1)
            // limit + 1 rows: a next page exists
            .returning(|_, _, _, _| Ok(vec![event(8), event(9), event(10)]));
        let (service, actor, _) = f.service();
        let limit = Limit::new(Some(2)).unwrap();
        let cursor = Cursor::from_key(cursor_id.to_string());
        let page = service
            .run_events(&actor, &slug(), run_id, Some(&cursor), limit)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(uuid::Uuid::from_u128(9).to_string()));
    }

    #[tokio::test]
    async fn a_run_of_another_project_is_not_found() {
        let mut f = Fixture::new(Role::Member);
        let foreign = run(ProjectId::new());
        let run_id = foreign.id;
        f.runs
            .expect_get_run()
            .returning(move |_| Ok(Some(foreign.clone())));
        f.journal.expect_run_events().never();
        let (service, actor, _) = f.service();
        let err = service
            .run_events(&actor, &slug(), run_id, None, Limit::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound("sync run")), "{err:?}");
    }

    #[tokio::test]
    async fn a_missing_run_is_not_found() {
        let mut f = Fixture::new(Role::Member);
        f.runs.expect_get_run().returning(|_| Ok(None));
        f.journal.expect_run_events().never();
        let (service, actor, _) = f.service();
        let err = service
            .run_events(&actor, &slug(), SyncRunId::new(), None, Limit::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound("sync run")), "{err:?}");
    }

    #[tokio::test]
    async fn task_events_are_read_by_number_and_the_last_page_has_no_cursor() {
        let mut f = Fixture::new(Role::Member);
        let pid = f.project.id;
        f.journal
            .expect_task_events()
            .with(eq(pid), eq(12), eq(None), always())
            .times(1)
            .returning(|_, _, _, _| Ok(vec![event(2), event(1)]));
        let (service, actor, _) = f.service();
        let page = service
            .task_events(&actor, &slug(), 12, None, Limit::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, None);
    }

    #[tokio::test]
    async fn a_cursor_that_is_not_an_id_is_refused_before_any_read() {
        let mut f = Fixture::new(Role::Member);
        f.journal.expect_task_events().never();
        let (service, actor, _) = f.service();
        let cursor = Cursor::from_key("12");
        let err = service
            .task_events(&actor, &slug(), 1, Some(&cursor), Limit::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION_FAILED");
    }

    fn conflict(n: u128) -> Conflict {
        Conflict {
            id: uuid::Uuid::from_u128(n),
            conflict: NewConflict {
                run_id: None,
                task_id: TaskId::new(),
                task_number: 1,
                issue_number: 1,
                field: SyncField::Title,
                base_value: Some("a".into()),
                pmhub_value: "b".into(),
                github_value: "c".into(),
                policy: ConflictPolicy::PmhubWins,
            },
            detected_at: pm_kernel::now(),
            acknowledged_at: None,
        }
    }

    #[tokio::test]
    async fn conflicts_are_open_ones_by_default_and_all_on_request() {
        let mut f = Fixture::new(Role::Member);
        let pid = f.project.id;
        f.journal
            .expect_conflicts()
            .with(eq(pid), eq(true), eq(None), always())
            .times(1)
            .returning(|_, _, _, _| Ok(vec![conflict(1)]));
        f.journal
            .expect_conflicts()
            .with(eq(pid), eq(false), eq(None), always())
            .times(1)
            .returning(|_, _, _, _| Ok(vec![conflict(2), conflict(1)]));
        let (service, actor, _) = f.service();
        let open = service
            .conflicts(
                &actor,
                &slug(),
                ConflictFilter::default(),
                None,
                Limit::default(),
            )
            .await
            .unwrap();
        let all = service
            .conflicts(&actor, &slug(), ConflictFilter::All, None, Limit::default())
            .await
            .unwrap();
        assert_eq!((open.items.len(), all.items.len()), (1, 2));
    }

    #[tokio::test]
    async fn acknowledging_an_unknown_conflict_is_not_found() {
        let mut f = Fixture::new(Role::Member);
        let pid = f.project.id;
        let known = uuid::Uuid::from_u128(1);
        f.journal
            .expect_acknowledge_conflict()
            .with(eq(pid), always())
            .returning(move |_, id| Ok(id == known));
        let (service, actor, _) = f.service();
        service
            .acknowledge_conflict(&actor, &slug(), known)
            .await
            .unwrap();
        let err = service
            .acknowledge_conflict(&actor, &slug(), uuid::Uuid::from_u128(2))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound("conflict")), "{err:?}");
    }

    #[tokio::test]
    async fn health_carries_the_repository_settings_and_figures() {
        let mut f = Fixture::new(Role::Member);
        let pid = f.project.id;
        f.settings
            .expect_get()
            .with(eq(pid))
            .returning(|_| Ok(SyncSettings::default()));
        f.journal.expect_health().with(eq(pid)).returning(|_| {
            Ok(SyncHealth {
                open_conflicts: 2,
                last_error: Some("GITHUB_UNAVAILABLE".into()),
                ..SyncHealth::default()
            })
        });
        let (service, actor, _) = f.service();
        let h = service.health(&actor, &slug()).await.unwrap();
        assert_eq!(h.repo.as_deref(), Some("o/r"));
        assert_eq!(h.health.open_conflicts, 2);
        assert_eq!(h.health.last_error.as_deref(), Some("GITHUB_UNAVAILABLE"));
    }
}
