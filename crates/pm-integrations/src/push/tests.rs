use super::*;
use crate::link::marked_task;
use crate::{
    GithubIssue, IssuePage, IssueState, MockCredentialStore, MockGithubApi, MockPacer,
    MockPushStore, MockSecretCipher, MockSyncStore, PushBacklog, SyncStatus,
};
use pm_kernel::{ConflictReason, ProjectId, Role, WorkspaceId};
use pm_projects::{MockProjectLeases, MockProjectRepository};
use pm_tasks::{Labels, Priority, TaskDescription, TaskSource, TaskStatus, TaskTitle};
use std::sync::Mutex;

fn actor() -> Actor {
    pm_kernel::testing::actor(Role::Member)
}

fn project(ws: WorkspaceId) -> Project {
    pm_projects::testing::project(ws, "push-abc123", "Push", Some("org/push"))
}

fn task(number: i64) -> Task {
    let now = pm_kernel::now();
    Task {
        id: TaskId::new(),
        project_id: ProjectId::new(),
        number,
        title: TaskTitle::new(&format!("Task {number}")).unwrap(),
        description: TaskDescription::new("Do it").unwrap(),
        status: TaskStatus::Todo,
        priority: Priority::None,
        labels: Labels::new(&["api".into()]).unwrap(),
        source: TaskSource::Manual,
        external_links: vec![],
        created_at: now,
        updated_at: now,
    }
}

fn issue(id: i64, number: i64, body: &str) -> GithubIssue {
    GithubIssue {
        updated_at: None,
        repo_full_name: None,
        id,
        number,
        title: "t".into(),
        body: Some(body.into()),
        state: IssueState::Open,
        state_reason: None,
        labels: vec![],
        html_url: format!("https://github.com/org/push/issues/{number}"),
    }
}

fn tokens() -> TokenSource {
    let mut store = MockCredentialStore::new();
    store.expect_get().returning(|_| Ok(None));
    TokenSource::new(
        Arc::new(store),
        Arc::new(MockSecretCipher::new()),
        Some(SecretString::from("srv")),
    )
}

fn projects(p: Project) -> Arc<MockProjectRepository> {
    let mut repo = MockProjectRepository::new();
    repo.expect_get().returning(move |_, _| Ok(Some(p.clone())));
    Arc::new(repo)
}

fn runs(
    expect_status: SyncStatus,
    expect_code: Option<&'static str>,
    counts: Arc<Mutex<Option<SyncCounts>>>,
) -> MockSyncStore {
    let mut runs = MockSyncStore::new();
    runs.expect_fail_stale_runs().returning(|_, _, _| Ok(0));
    runs.expect_start_run()
        .returning(|_, _, _| Ok(SyncRunId::new()));
    runs.expect_finish_run()
        .withf(move |_, status, _, code| *status == expect_status && code.as_deref() == expect_code)
        .times(1)
        .returning(move |_, _, c, _| {
            *counts.lock().unwrap() = c;
            Ok(())
        });
    runs
}

fn free_leases() -> Arc<MockProjectLeases> {
    let mut leases = MockProjectLeases::new();
    leases.expect_acquire().returning(|_, _, _, _| Ok(true));
    leases.expect_release().times(1).returning(|_, _, _| Ok(()));
    Arc::new(leases)
}

fn busy_leases() -> Arc<MockProjectLeases> {
    let mut leases = MockProjectLeases::new();
    leases.expect_acquire().returning(|_, _, _, _| Ok(false));
    leases.expect_release().never();
    Arc::new(leases)
}

fn pacer() -> Arc<MockPacer> {
    let mut pacer = MockPacer::new();
    pacer.expect_before_create().returning(|| ());
    Arc::new(pacer)
}

fn store_with(backlog: PushBacklog) -> MockPushStore {
    let mut store = MockPushStore::new();
    store
        .expect_backlog()
        .returning(move |_| Ok(backlog.clone()));
    store
}

#[tokio::test]
async fn each_unlinked_task_becomes_an_issue_with_its_marker_and_link() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let tasks = [task(1), task(2)];
    let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
    let mut store = store_with(PushBacklog {
        unlinked: tasks
            .iter()
            .cloned()
            .map(|task| PushCandidate {
                task,
                intent_pending: false,
            })
            .collect(),
        linked: 3,
    });
    store
        .expect_record_intent()
        .times(2)
        .returning(|_, _, _| Ok(()));
    store
        .expect_link_pushed()
        .withf(|_, _, key, link, _| {
            key.starts_with("github:github.com:issue:") && link.reference.starts_with("org/push#")
        })
        .times(2)
        .returning(|_, _, _, _, _| Ok(true));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    let mut n = 0;
    github
        .expect_create_issue()
        .withf(move |_, repo, new| {
            repo.as_str() == "org/push"
                && ids.iter().any(|id| new.body.ends_with(&marker(*id)))
                && new.body.starts_with("Do it")
                && new.labels == ["api"]
        })
        .times(2)
        .returning(move |_, _, new| {
            n += 1;
            Ok(issue(100 + n, n, &new.body))
        });
    github.expect_list_issues().never();
    let counts = Arc::new(Mutex::new(None));
    let service = PushService::new(
        projects(p),
        Arc::new(github),
        tokens(),
        Arc::new(runs(SyncStatus::Succeeded, None, counts.clone())),
        Arc::new(store),
        pacer(),
        free_leases(),
    );
    let report = service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap();
    assert_eq!((report.created, report.skipped), (2, 3));
    assert_eq!(counts.lock().unwrap().unwrap().created, 2);
}

#[tokio::test]
async fn a_pending_intent_is_reconciled_by_its_marker_not_created_again() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let crashed = task(1);
    let crashed_marker = marker(crashed.id);
    let vanished = task(2);
    let vanished_id = vanished.id;
    let mut store = store_with(PushBacklog {
        unlinked: vec![
            PushCandidate {
                task: crashed.clone(),
                intent_pending: true,
            },
            PushCandidate {
                task: vanished.clone(),
                intent_pending: true,
            },
        ],
        linked: 0,
    });
    let crashed_id = crashed.id;
    store
        .expect_link_pushed()
        .withf(move |_, task_id, _, _, _| *task_id == crashed_id || *task_id == vanished_id)
        .times(2)
        .returning(|_, _, _, _, _| Ok(true));
    store
        .expect_clear_intent()
        .withf(move |id| *id == vanished_id)
        .times(1)
        .returning(|_| Ok(()));
    store
        .expect_record_intent()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    github.expect_list_issues().times(1).returning(move |_, _| {
        Ok(IssuePage {
            not_modified: false,
            issues: vec![
                issue(7, 1, "other"),
                issue(8, 2, &format!("Do it\n\n{crashed_marker}")),
            ],
            pull_requests_skipped: 0,
            next: None,
        })
    });
    github
        .expect_create_issue()
        .withf(move |_, _, new| new.body.contains(&marker(vanished_id)))
        .times(1)
        .returning(|_, _, new| Ok(issue(9, 3, &new.body)));
    let counts = Arc::new(Mutex::new(None));
    let service = PushService::new(
        projects(p),
        Arc::new(github),
        tokens(),
        Arc::new(runs(SyncStatus::Succeeded, None, counts)),
        Arc::new(store),
        pacer(),
        free_leases(),
    );
    let report = service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap();
    assert_eq!((report.created, report.skipped), (1, 1));
}

#[tokio::test]
async fn a_rate_limit_stops_the_run_cleanly_with_counts_recorded() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let tasks = vec![task(1), task(2), task(3)];
    let mut store = store_with(PushBacklog {
        unlinked: tasks
            .into_iter()
            .map(|task| PushCandidate {
                task,
                intent_pending: false,
            })
            .collect(),
        linked: 0,
    });
    store
        .expect_record_intent()
        .times(2)
        .returning(|_, _, _| Ok(()));
    store
        .expect_link_pushed()
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    store.expect_clear_intent().times(1).returning(|_| Ok(()));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    let mut calls = 0;
    github
        .expect_create_issue()
        .times(2)
        .returning(move |_, _, new| {
            calls += 1;
            if calls == 1 {
                Ok(issue(1, 1, &new.body))
            } else {
                Err(GithubError::RateLimited {
                    retry_after_secs: 60,
                })
            }
        });
    let counts = Arc::new(Mutex::new(None));
    let service = PushService::new(
        projects(p),
        Arc::new(github),
        tokens(),
        Arc::new(runs(
            SyncStatus::Failed,
            Some("GITHUB_RATE_LIMITED"),
            counts.clone(),
        )),
        Arc::new(store),
        pacer(),
        free_leases(),
    );
    let err = service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "GITHUB_RATE_LIMITED");
    assert_eq!(counts.lock().unwrap().unwrap().created, 1);
}

#[tokio::test]
async fn a_time_out_keeps_the_intent_for_the_next_push() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let mut store = store_with(PushBacklog {
        unlinked: vec![PushCandidate {
            task: task(1),
            intent_pending: false,
        }],
        linked: 0,
    });
    store
        .expect_record_intent()
        .times(1)
        .returning(|_, _, _| Ok(()));
    store.expect_clear_intent().never();
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    github.expect_create_issue().returning(|_, _, _| {
        Err(GithubError::Unavailable {
            status: None,
            reason: "time-out".into(),
        })
    });
    let service = PushService::new(
        projects(p),
        Arc::new(github),
        tokens(),
        Arc::new(runs(
            SyncStatus::Failed,
            Some("GITHUB_UNAVAILABLE"),
            Arc::new(Mutex::new(None)),
        )),
        Arc::new(store),
        pacer(),
        free_leases(),
    );
    let err = service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "GITHUB_UNAVAILABLE");
}

#[tokio::test]
async fn a_second_concurrent_push_is_a_conflict() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let mut store = MockPushStore::new();
    store.expect_backlog().never();
    let service = PushService::new(
        projects(p),
        Arc::new(MockGithubApi::new()),
        tokens(),
        Arc::new(MockSyncStore::new()),
        Arc::new(store),
        pacer(),
        busy_leases(),
    );
    let err = service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Conflict {
            reason: ConflictReason::LeaseHeld,
            ..
        }
    ));
}

#[tokio::test]
async fn creates_are_paced() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let mut store = store_with(PushBacklog {
        unlinked: vec![
            PushCandidate {
                task: task(1),
                intent_pending: false,
            },
            PushCandidate {
                task: task(2),
                intent_pending: false,
            },
        ],
        linked: 0,
    });
    store.expect_record_intent().returning(|_, _, _| Ok(()));
    store
        .expect_link_pushed()
        .returning(|_, _, _, _, _| Ok(true));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    github
        .expect_create_issue()
        .returning(|_, _, new| Ok(issue(1, 1, &new.body)));
    let mut pacer = MockPacer::new();
    pacer.expect_before_create().times(2).returning(|| ());
    let service = PushService::new(
        projects(p),
        Arc::new(github),
        tokens(),
        Arc::new(runs(
            SyncStatus::Succeeded,
            None,
            Arc::new(Mutex::new(None)),
        )),
        Arc::new(store),
        Arc::new(pacer),
        free_leases(),
    );
    service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap();
}

#[test]
fn body_is_description_then_marker() {
    let t = task(1);
    assert_eq!(
        issue_body(&t),
        format!("Do it\n\n<!-- pmhub:task:{} -->", t.id)
    );
}

#[tokio::test]
async fn a_push_that_loses_its_lease_stops_before_creating_more() {
    let actor = actor();
    let p = project(actor.workspace_id);
    let mut store = store_with(PushBacklog {
        unlinked: vec![
            PushCandidate {
                task: task(1),
                intent_pending: false,
            },
            PushCandidate {
                task: task(2),
                intent_pending: false,
            },
        ],
        linked: 0,
    });
    store
        .expect_record_intent()
        .times(1)
        .returning(|_, _, _| Ok(()));
    store
        .expect_link_pushed()
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    github
        .expect_create_issue()
        .times(1)
        .returning(|_, _, new| Ok(issue(1, 1, &new.body)));
    // Taken at the start and renewed before the first create; then another push
    // has it.
    let mut leases = MockProjectLeases::new();
    let mut calls = 0;
    leases.expect_acquire().returning(move |_, _, _, _| {
        calls += 1;
        Ok(calls <= 2)
    });
    leases.expect_release().returning(|_, _, _| Ok(()));
    let counts = Arc::new(Mutex::new(None));
    let service = PushService::new(
        projects(p),
        Arc::new(github),
        tokens(),
        Arc::new(runs(SyncStatus::Failed, Some("CONFLICT"), counts.clone())),
        Arc::new(store),
        pacer(),
        Arc::new(leases),
    );
    let err = service
        .run(&actor, &Slug::parse("push-abc123").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Conflict {
            reason: ConflictReason::LeaseLost,
            ..
        }
    ));
    assert_eq!(counts.lock().unwrap().unwrap().created, 1);
}

#[test]
fn a_maximal_description_still_fits_githubs_body_limit_with_its_marker() {
    let mut t = task(1);
    t.description = TaskDescription::new(&"x".repeat(TaskDescription::MAX_CHARS)).unwrap();
    let body = issue_body(&t);
    assert!(body.chars().count() <= 65_536);
    assert!(body.ends_with(&marker(t.id)));
}

#[test]
fn the_marker_is_read_back_from_a_body() {
    let t = task(1);
    assert_eq!(marked_task(&issue_body(&t)), Some(t.id));
    assert_eq!(marked_task("no marker here"), None);
    assert_eq!(marked_task("<!-- pmhub:task:not-a-uuid -->"), None);
    assert_eq!(marked_task("<!-- pmhub:task:"), None);
}
