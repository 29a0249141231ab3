use super::*;
use crate::jobs::{IMPORT_JOB, RunPayload};
use crate::two_way::testing::*;
use crate::two_way::{
    Applied, IssueStatus, MERGE_JOB, MockMergeStore, SyncDirection, SyncEventKind,
};
use crate::webhooks::{DirtyIssue, MockDirtyIssues};
use crate::{
    IssuePage, IssueRead, MockGithubApi, MockPacer, MockPushStore, MockSyncStore, PageImported,
    PushBacklog, PushCandidate, PushService, RunProgress, StartedRun, SyncRun, SyncStatus,
};
use mockall::Sequence;
use pm_jobs::{JobHandler, MockJobQueue};
use pm_kernel::GithubError;
use pm_projects::{MockProjectLeases, MockProjectRepository};
use pm_tasks::TaskStatus;
use std::sync::Mutex;

fn dirty(project_id: ProjectId, id: i64, generation: i64, reason: &str) -> DirtyIssue {
    DirtyIssue {
        project_id,
        github_issue_id: id,
        issue_number: id,
        repo_full_name: REPO.into(),
        reason: reason.into(),
        delivery_id: format!("d-{id}-{generation}"),
        generation,
        marked_at: pm_kernel::now(),
    }
}

/// Dirty issues that come in `batches`, then none; records what was cleared.
fn dirty_issues(
    batches: Vec<Vec<DirtyIssue>>,
    cleared: Arc<Mutex<Vec<(i64, i64)>>>,
) -> Arc<MockDirtyIssues> {
    let mut d = MockDirtyIssues::new();
    let mut seq = Sequence::new();
    for batch in batches {
        d.expect_list()
            .withf(|_, limit| *limit == MERGE_BATCH)
            .times(1)
            .in_sequence(&mut seq)
            .return_once(move |_, _| Ok(batch));
    }
    d.expect_list().returning(|_, _| Ok(Vec::new()));
    d.expect_clear().returning(move |_, id, generation| {
        cleared.lock().unwrap().push((id, generation));
        Ok(true)
    });
    Arc::new(d)
}

fn pacer(times: usize) -> Arc<MockPacer> {
    let mut p = MockPacer::new();
    p.expect_before_create().times(times).returning(|| ());
    Arc::new(p)
}

#[tokio::test]
async fn the_merge_job_drains_every_dirty_issue_and_clears_each_with_its_generation() {
    let (p, ws) = (ProjectId::new(), WorkspaceId::new());
    let s = fields("Title");
    let cleared = Arc::new(Mutex::new(Vec::new()));
    let dirty = dirty_issues(
        vec![
            vec![
                dirty(p, 1, 4, "issues.edited"),
                dirty(p, 2, 1, "issues.closed"),
            ],
            vec![dirty(p, 1, 5, "issues.edited")],
        ],
        cleared.clone(),
    );
    let mut gh = MockGithubApi::new();
    // Issue 1 comes back unchanged (an echo, twice); issue 2's task was deleted.
    gh.expect_get_issue()
        .withf(|_, _, number, _| *number == 1)
        .times(2)
        .returning(|_, _, _, _| Ok(IssueRead::NotModified));
    gh.expect_update_issue().never();
    let mut store = MockMergeStore::new();
    store
        .expect_project()
        .returning(move |id| Ok(Some(project(id, ws))));
    let l = linked(p, 1, &s, &s);
    store
        .expect_linked_issue()
        .returning(move |_, id| Ok((id == 1).then(|| l.clone())));
    store
        .expect_apply()
        .withf(|a| a.events.len() == 1 && a.events[0].kind == SyncEventKind::EchoIgnored)
        .times(2)
        .returning(|_| Ok(Applied::Done));
    let store = Arc::new(store);
    let merger = TwoWayMerger::new(Arc::new(gh), store.clone(), pacer(0));
    let handler = MergeJobHandler::new(
        merger,
        store,
        dirty,
        settings(SyncDirection::TwoWay, false),
        tokens(Some("srv")),
    );
    let outcome = handler.run(&job(MERGE_JOB, p, ws), &ctx()).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    assert_eq!(*cleared.lock().unwrap(), vec![(1, 4), (2, 1), (1, 5)]);
}

#[tokio::test]
async fn an_import_only_project_clears_its_marks_without_calling_github() {
    let (p, ws) = (ProjectId::new(), WorkspaceId::new());
    let cleared = Arc::new(Mutex::new(Vec::new()));
    let dirty = dirty_issues(vec![vec![dirty(p, 1, 1, "issues.closed")]], cleared.clone());
    let mut gh = MockGithubApi::new();
    gh.expect_get_issue().never();
    gh.expect_update_issue().never();
    let mut store = MockMergeStore::new();
    store.expect_project().never();
    store.expect_linked_issue().never();
    store.expect_apply().never();
    let store = Arc::new(store);
    let merger = TwoWayMerger::new(Arc::new(gh), store.clone(), pacer(0));
    let handler = MergeJobHandler::new(
        merger,
        store,
        dirty,
        settings(SyncDirection::ImportOnly, true),
        // No token is needed: `open` would panic.
        tokens(None),
    );
    let outcome = handler.run(&job(MERGE_JOB, p, ws), &ctx()).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    assert_eq!(*cleared.lock().unwrap(), vec![(1, 1)]);
}

#[tokio::test]
async fn a_rate_limit_parks_the_job_and_keeps_the_marks() {
    let (p, ws) = (ProjectId::new(), WorkspaceId::new());
    let s = fields("Title");
    let cleared = Arc::new(Mutex::new(Vec::new()));
    let dirty = dirty_issues(
        vec![vec![
            dirty(p, 1, 1, "issues.edited"),
            dirty(p, 2, 1, "issues.edited"),
        ]],
        cleared.clone(),
    );
    let mut gh = MockGithubApi::new();
    gh.expect_get_issue().times(1).returning(|_, _, _, _| {
        Err(GithubError::RateLimited {
            retry_after_secs: 90,
        })
    });
    let mut store = MockMergeStore::new();
    store
        .expect_project()
        .returning(move |id| Ok(Some(project(id, ws))));
    store
        .expect_linked_issue()
        .returning(move |_, id| Ok(Some(linked(p, id, &s, &s))));
    store.expect_record_events().never();
    let store = Arc::new(store);
    let merger = TwoWayMerger::new(Arc::new(gh), store.clone(), pacer(0));
    let handler = MergeJobHandler::new(
        merger,
        store,
        dirty,
        settings(SyncDirection::TwoWay, false),
        tokens(Some("srv")),
    );
    let before = pm_kernel::now();
    let outcome = handler.run(&job(MERGE_JOB, p, ws), &ctx()).await;
    match outcome {
        JobOutcome::Park { until, .. } => {
            assert!(until >= before + std::time::Duration::from_secs(90));
        }
        other => panic!("expected a park, got {other:?}"),
    }
    assert!(cleared.lock().unwrap().is_empty(), "no mark is lost");
}

#[tokio::test]
async fn a_bad_payload_fails_the_job() {
    let store = Arc::new(MockMergeStore::new());
    let merger = TwoWayMerger::new(Arc::new(MockGithubApi::new()), store.clone(), pacer(0));
    let handler = MergeJobHandler::new(
        merger,
        store,
        Arc::new(MockDirtyIssues::new()),
        Arc::new(crate::two_way::MockSyncSettingsStore::new()),
        tokens(None),
    );
    let mut j = job(MERGE_JOB, ProjectId::new(), WorkspaceId::new());
    j.payload = serde_json::json!({"nope": 1});
    assert!(matches!(
        handler.run(&j, &ctx()).await,
        JobOutcome::Fail(e) if e.code == "BAD_PAYLOAD"
    ));
}

/// The sync jobs over mocks; `runs` and `github` are the ones tests care about.
fn sync_jobs(
    p: &pm_projects::Project,
    github: Arc<MockGithubApi>,
    runs: Arc<MockSyncStore>,
    two_way: Option<TwoWaySync>,
) -> SyncJobs {
    let mut projects = MockProjectRepository::new();
    let project = p.clone();
    projects
        .expect_get()
        .returning(move |_, _| Ok(Some(project.clone())));
    let projects = Arc::new(projects);
    let leases = Arc::new(MockProjectLeases::new());
    let pusher = PushService::new(
        projects.clone(),
        github.clone(),
        tokens(Some("srv")),
        runs.clone(),
        Arc::new(MockPushStore::new()),
        pacer(0),
        leases.clone(),
    );
    let jobs = SyncJobs::new(
        projects,
        github,
        tokens(Some("srv")),
        runs,
        Arc::new(MockJobQueue::new()),
        pusher,
        leases,
    );
    match two_way {
        Some(t) => jobs.with_two_way(t),
        None => jobs,
    }
}

fn run(project_id: ProjectId, kind: SyncKind) -> SyncRun {
    SyncRun {
        id: SyncRunId::new(),
        project_id,
        kind,
        repo: REPO.into(),
        status: SyncStatus::Queued,
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
async fn new_tasks_are_pushed_after_the_merge_when_the_project_asks() {
    let ws = WorkspaceId::new();
    let p = pm_projects::testing::project(ws, "sync-abc123", "Sync", Some(REPO));
    let pid = p.id;
    let mut runs = MockSyncStore::new();
    runs.expect_enqueue_run()
        .withf(|_, _, kind, repo, job| {
            *kind == SyncKind::Push && repo == REPO && job.kind == crate::jobs::PUSH_JOB
        })
        .times(1)
        .returning(move |_, project_id, kind, _, _| {
            Ok(StartedRun {
                run: run(project_id, kind),
                joined: false,
            })
        });
    let gh = Arc::new(MockGithubApi::new());
    let jobs = sync_jobs(&p, gh.clone(), Arc::new(runs), None);
    let mut push_store = MockPushStore::new();
    let t = task(pid, &fields("New"));
    push_store.expect_backlog().times(1).returning(move |_| {
        Ok(PushBacklog {
            unlinked: vec![PushCandidate {
                task: t.clone(),
                intent_pending: false,
            }],
            linked: 0,
        })
    });
    let mut store = MockMergeStore::new();
    store
        .expect_project()
        .returning(move |id| Ok(Some(project(id, ws))));
    let store = Arc::new(store);
    let merger = TwoWayMerger::new(gh, store.clone(), pacer(0));
    let handler = MergeJobHandler::new(
        merger,
        store,
        dirty_issues(Vec::new(), Arc::new(Mutex::new(Vec::new()))),
        settings(SyncDirection::TwoWay, true),
        tokens(Some("srv")),
    )
    .with_push(jobs, Arc::new(push_store));
    assert_eq!(
        handler.run(&job(MERGE_JOB, pid, ws), &ctx()).await,
        JobOutcome::Succeeded
    );
}

/// An import job's run of one page: issue 1 is linked (retitled on GitHub),
/// issue 2 is new.
async fn import_one_page(direction: SyncDirection) -> Arc<Mutex<Vec<SyncCounts>>> {
    let ws = WorkspaceId::new();
    let p = pm_projects::testing::project(ws, "sync-abc123", "Sync", Some(REPO));
    let pid = p.id;
    let s = fields("Title");
    let mut g = s.clone();
    g.title = "Retitled on GitHub".into();
    g.status = IssueStatus::Completed;
    let page = IssuePage {
        issues: vec![
            issue(1, &g, pm_kernel::now()),
            issue(2, &s, pm_kernel::now()),
        ],
        pull_requests_skipped: 0,
        next: None,
        not_modified: false,
    };
    let the_run = run(pid, SyncKind::Import);
    let run_id = the_run.id;
    let mut runs = MockSyncStore::new();
    runs.expect_get_run()
        .returning(move |_| Ok(Some(the_run.clone())));
    runs.expect_set_run_state().returning(|_, _, _, _| Ok(()));
    runs.expect_store_page()
        .withf(|_, _, issues, _, next| issues.len() == 2 && next.is_none())
        .times(1)
        .returning(|_, _, _, _, _| {
            Ok(PageImported {
                created: 1,
                skipped: 1,
            })
        });
    runs.expect_finish_run()
        .withf(|_, status, _, code| *status == SyncStatus::Succeeded && code.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let mut gh = MockGithubApi::new();
    gh.expect_host().returning(|| "github.com".into());
    gh.expect_list_issues()
        .times(1)
        .return_once(move |_, _| Ok(page));
    gh.expect_get_issue().never();
    gh.expect_update_issue().never();
    let gh = Arc::new(gh);
    let counts = Arc::new(Mutex::new(Vec::new()));
    let mut store = MockMergeStore::new();
    store
        .expect_project()
        .returning(move |id| Ok(Some(project(id, ws))));
    let l = linked(pid, 1, &s, &s);
    store
        .expect_linked_issues()
        .withf(|_, ids| ids == [1, 2])
        .times(usize::from(direction == SyncDirection::TwoWay))
        .returning(move |_, _| Ok(vec![l.clone()]));
    store
        .expect_apply()
        .withf(move |a| {
            a.task_patch.status == Some(TaskStatus::Done)
                && a.events
                    .iter()
                    .all(|e| e.run_id == Some(run_id) && e.detail.as_deref() == Some(SYNC_CAUSE))
        })
        .times(usize::from(direction == SyncDirection::TwoWay))
        .returning(|_| Ok(Applied::Done));
    let seen = counts.clone();
    store.expect_add_counts().returning(move |id, c| {
        assert_eq!(id, run_id);
        seen.lock().unwrap().push(c);
        Ok(())
    });
    let store = Arc::new(store);
    let two_way = TwoWaySync::new(
        TwoWayMerger::new(gh.clone(), store.clone(), pacer(0)),
        settings(direction, false),
        store,
    );
    let jobs = sync_jobs(&p, gh, Arc::new(runs), Some(two_way));
    let payload = RunPayload {
        run_id: run_id.into_uuid(),
        workspace_id: ws.into_uuid(),
        project_id: pid.into_uuid(),
        slug: p.slug.to_string(),
    };
    let mut j = job(IMPORT_JOB, pid, ws);
    j.payload = serde_json::to_value(payload).unwrap();
    let outcome = jobs.handler(SyncKind::Import).run(&j, &ctx()).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    counts
}

#[tokio::test]
async fn a_two_way_sync_merges_the_linked_issues_of_each_page() {
    let counts = import_one_page(SyncDirection::TwoWay).await;
    assert_eq!(
        *counts.lock().unwrap(),
        vec![SyncCounts {
            updated: 1,
            ..SyncCounts::default()
        }]
    );
}

#[tokio::test]
async fn an_import_only_sync_is_todays_import() {
    let counts = import_one_page(SyncDirection::ImportOnly).await;
    assert!(counts.lock().unwrap().is_empty());
}

#[test]
fn reconcile_runs_are_not_started_through_the_api() {
    let p = pm_projects::testing::project(WorkspaceId::new(), "sync-abc123", "Sync", Some(REPO));
    let err = crate::jobs::run_repo(&p, SyncKind::Reconcile, None).unwrap_err();
    assert_eq!(err.code(), "VALIDATION_FAILED");
    assert_eq!(
        crate::jobs::concurrency_key(SyncKind::Reconcile, p.id),
        crate::two_way::reconcile_key(p.id)
    );
    assert_eq!(
        crate::jobs::job_kind(SyncKind::Reconcile),
        crate::two_way::RECONCILE_JOB
    );
}
