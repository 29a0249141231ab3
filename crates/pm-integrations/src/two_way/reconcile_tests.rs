use super::*;
use crate::two_way::testing::*;
use crate::two_way::{Applied, MockMergeStore, SyncDirection, SyncEventKind};
use crate::{MockGithubApi, MockPacer, MockSyncStore, PageImported, SyncCounts};
use mockall::Sequence;
use pm_jobs::{Enqueued, MockJobQueue};
use pm_kernel::GithubError;
use std::sync::Mutex;
use time::macros::datetime;

fn pacer(times: usize) -> Arc<MockPacer> {
    let mut p = MockPacer::new();
    p.expect_before_create().times(times).returning(|| ());
    Arc::new(p)
}

fn page(issues: Vec<crate::GithubIssue>, next: Option<&str>) -> IssuePage {
    IssuePage {
        issues,
        pull_requests_skipped: 0,
        next: next.map(str::to_string),
        not_modified: false,
    }
}

struct Fixture {
    github: MockGithubApi,
    store: MockMergeStore,
    runs: MockSyncStore,
    direction: SyncDirection,
}

impl Fixture {
    fn new(watermark: Option<Timestamp>) -> Self {
        let mut store = MockMergeStore::new();
        store
            .expect_project()
            .returning(|id| Ok(Some(project(id, WorkspaceId::new()))));
        store
            .expect_reconcile_watermark()
            .returning(move |_| Ok(watermark));
        let mut github = MockGithubApi::new();
        github.expect_host().returning(|| "github.com".into());
        Self {
            github,
            store,
            runs: MockSyncStore::new(),
            direction: SyncDirection::TwoWay,
        }
    }

    async fn run(self, pacer: Arc<MockPacer>) -> Result<Reconciled> {
        let store = Arc::new(self.store);
        let github = Arc::new(self.github);
        let handler = ReconcileJobHandler::new(
            TwoWayMerger::new(github.clone(), store.clone(), pacer),
            store,
            Arc::new(self.runs),
            settings(self.direction, false),
            github,
            tokens(Some("srv")),
        );
        handler
            .reconcile(ProjectId::new(), WorkspaceId::new(), &ctx())
            .await
    }
}

#[tokio::test]
async fn an_idle_repository_costs_one_304_and_writes_nothing() {
    let w = datetime!(2026-12-01 10:00:00 UTC);
    let mut f = Fixture::new(Some(w));
    f.github
        .expect_list_issues()
        .withf(move |_, request| {
            *request
                == IssuePageRequest::UpdatedSince {
                    repo: RepoFullName::parse(REPO).unwrap(),
                    since: w - RECONCILE_OVERLAP,
                }
        })
        .times(1)
        .returning(|_, _| {
            Ok(IssuePage {
                not_modified: true,
                ..IssuePage::default()
            })
        });
    f.runs.expect_start_run().never();
    f.runs.expect_import_page().never();
    f.store.expect_linked_issues().never();
    f.store.expect_set_reconcile_watermark().never();
    f.store.expect_add_counts().never();
    assert_eq!(f.run(pacer(0)).await.unwrap(), Reconciled::NotModified);
}

#[tokio::test]
async fn pages_are_merged_and_imported_in_a_run_and_the_watermark_moves() {
    let (t1, t2, t3) = (
        datetime!(2026-12-01 10:00:00 UTC),
        datetime!(2026-12-01 10:05:00 UTC),
        datetime!(2026-12-01 10:07:00 UTC),
    );
    // Never reconciled: the whole repository, oldest update first.
    let mut f = Fixture::new(None);
    let s = fields("Title");
    let mut changed = s.clone();
    changed.title = "Retitled".into();
    let mut seq = Sequence::new();
    let first = page(
        vec![issue(1, &s, t1), issue(2, &s, t2)],
        Some("https://api.github.com/repositories/1/issues?page=2"),
    );
    f.github
        .expect_list_issues()
        .withf(|_, r| {
            matches!(r, IssuePageRequest::UpdatedSince { since, .. } if *since == Timestamp::UNIX_EPOCH)
        })
        .times(1)
        .in_sequence(&mut seq)
        .return_once(move |_, _| Ok(first));
    let second = page(vec![issue(3, &changed, t3)], None);
    f.github
        .expect_list_issues()
        .withf(|_, r| matches!(r, IssuePageRequest::Next { url } if url.ends_with("page=2")))
        .times(1)
        .in_sequence(&mut seq)
        .return_once(move |_, _| Ok(second));
    // The watermark moved to t3: listed once more from there (nothing newer).
    f.github
        .expect_list_issues()
        .withf(move |_, r| {
            matches!(r, IssuePageRequest::UpdatedSince { since, .. } if *since == t3 - RECONCILE_OVERLAP)
        })
        .times(1)
        .in_sequence(&mut seq)
        .return_once(|_, _| Ok(page(Vec::new(), None)));
    f.github.expect_get_issue().never();
    let run_id = SyncRunId::new();
    f.runs
        .expect_start_run()
        .withf(|_, kind, repo| *kind == SyncKind::Reconcile && repo == REPO)
        .times(1)
        .returning(move |_, _, _| Ok(run_id));
    let imported = Arc::new(Mutex::new(Vec::new()));
    let seen = imported.clone();
    f.runs
        .expect_import_page()
        .times(3)
        .returning(move |_, id, issues, extra| {
            assert_eq!(id, run_id);
            assert_eq!(extra.total_seen as usize, issues.len());
            seen.lock().unwrap().push(issues.len());
            Ok(PageImported {
                created: 1,
                skipped: 0,
            })
        });
    f.runs
        .expect_finish_run()
        .withf(move |id, status, _, code| {
            *id == run_id && *status == SyncStatus::Succeeded && code.is_none()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    // Issue 1 is new; 2 and 3 are linked; 3 was retitled on GitHub.
    let pid = ProjectId::new();
    let (l2, l3) = (linked(pid, 2, &s, &s), linked(pid, 3, &s, &s));
    f.store.expect_linked_issues().returning(move |_, ids| {
        Ok([&l2, &l3]
            .into_iter()
            .filter(|l| ids.contains(&l.github_issue_id))
            .cloned()
            .collect())
    });
    f.store
        .expect_apply()
        .withf(|a| {
            a.task_patch.title.is_some()
                && a.events
                    .iter()
                    .all(|e| e.detail.as_deref() == Some(RECONCILE_CAUSE))
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let c = counts.clone();
    f.store.expect_add_counts().returning(move |_, n| {
        c.lock().unwrap().push(n);
        Ok(())
    });
    f.store
        .expect_set_reconcile_watermark()
        .withf(move |_, repo, w| repo == REPO && *w == t3)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let done = f.run(pacer(0)).await.unwrap();
    assert_eq!(
        done,
        Reconciled::Ran {
            run_id,
            stopped: false
        }
    );
    assert_eq!(*imported.lock().unwrap(), vec![2, 1, 0]);
    assert_eq!(
        *counts.lock().unwrap(),
        vec![
            SyncCounts {
                unchanged: 1,
                ..SyncCounts::default()
            },
            SyncCounts {
                updated: 1,
                ..SyncCounts::default()
            }
        ]
    );
}

/// A reconcile whose watermark moved to `moved` lists `since moved - overlap`
/// itself, answered with `follow_up`; the page the first listing answered holds
/// issue 1, unchanged, updated at `moved`.
fn settling(
    w: Timestamp,
    moved: Timestamp,
    follow_ups: Vec<IssuePage>,
) -> (Fixture, Arc<Mutex<Vec<Timestamp>>>) {
    let mut f = Fixture::new(Some(w));
    let s = fields("Title");
    let first = page(vec![issue(1, &s, moved)], None);
    let sinces = Arc::new(Mutex::new(Vec::new()));
    let seen = sinces.clone();
    let mut answers = std::collections::VecDeque::from(follow_ups);
    answers.push_front(first);
    f.github.expect_list_issues().returning(move |_, r| {
        let IssuePageRequest::UpdatedSince { since, .. } = r else {
            panic!("a first page only: {r:?}");
        };
        seen.lock().unwrap().push(*since);
        Ok(answers.pop_front().expect("no more listings expected"))
    });
    f.github.expect_get_issue().never();
    let run_id = SyncRunId::new();
    f.runs
        .expect_start_run()
        .times(1)
        .returning(move |_, _, _| Ok(run_id));
    f.runs
        .expect_import_page()
        .returning(|_, _, _, _| Ok(PageImported::default()));
    f.runs
        .expect_finish_run()
        .withf(|_, status, _, _| *status == SyncStatus::Succeeded)
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let pid = ProjectId::new();
    let links: Vec<_> = (1..=10).map(|n| linked(pid, n, &s, &s)).collect();
    f.store.expect_linked_issues().returning(move |_, ids| {
        Ok(links
            .iter()
            .filter(|l| ids.contains(&l.github_issue_id))
            .cloned()
            .collect())
    });
    f.store.expect_add_counts().returning(|_, _| Ok(()));
    (f, sinces)
}

#[tokio::test]
async fn a_reconcile_that_moved_the_watermark_lists_once_more_from_it_so_the_next_is_one_304() {
    let w = datetime!(2026-12-01 09:00:00 UTC);
    let t1 = datetime!(2026-12-01 10:00:00 UTC);
    let s = fields("Title");
    // From t1 - overlap GitHub shows issue 1 again, unchanged: the listing is stable.
    let (mut f, sinces) = settling(w, t1, vec![page(vec![issue(1, &s, t1)], None)]);
    f.store
        .expect_set_reconcile_watermark()
        .withf(move |_, _, at| *at == t1)
        .times(1)
        .returning(|_, _, _| Ok(()));
    f.run(pacer(0)).await.unwrap();
    // The last request made is the one the next reconcile makes (its ETag is cached).
    assert_eq!(
        *sinces.lock().unwrap(),
        vec![w - RECONCILE_OVERLAP, t1 - RECONCILE_OVERLAP]
    );
}

#[tokio::test]
async fn settling_follows_changes_made_while_it_ran_a_few_times_at_most() {
    let w = datetime!(2026-12-01 09:00:00 UTC);
    let s = fields("Title");
    let at = |minutes: i64| datetime!(2026-12-01 10:00:00 UTC) + time::Duration::minutes(minutes);
    // Every listing shows a newer change: the reconcile follows SETTLE_LISTINGS times.
    let settle = i64::try_from(SETTLE_LISTINGS).unwrap();
    let follow_ups = (1..=settle + 2)
        .map(|n| page(vec![issue(n + 1, &s, at(n))], None))
        .collect();
    let (mut f, sinces) = settling(w, at(0), follow_ups);
    let last = at(settle);
    f.store
        .expect_set_reconcile_watermark()
        .withf(move |_, _, at| *at == last)
        .times(1)
        .returning(|_, _, _| Ok(()));
    f.run(pacer(0)).await.unwrap();
    let mut expected = vec![w - RECONCILE_OVERLAP];
    expected.extend((0..settle).map(|n| at(n) - RECONCILE_OVERLAP));
    assert_eq!(*sinces.lock().unwrap(), expected);
}

#[tokio::test]
async fn the_watermark_stops_before_an_issue_whose_merge_failed() {
    let w = datetime!(2026-12-01 09:00:00 UTC);
    let (t1, t2, t3) = (
        datetime!(2026-12-01 10:00:00 UTC),
        datetime!(2026-12-01 10:05:00 UTC),
        datetime!(2026-12-01 10:07:00 UTC),
    );
    let mut f = Fixture::new(Some(w));
    let s = fields("Title");
    let mut mine = s.clone();
    mine.title = "Changed in pmhub".into();
    let listed = page(
        vec![issue(1, &s, t1), issue(2, &s, t2), issue(3, &s, t3)],
        None,
    );
    f.github
        .expect_list_issues()
        .times(1)
        .return_once(move |_, _| Ok(listed));
    // Issue 2's PATCH is refused.
    f.github
        .expect_update_issue()
        .times(1)
        .returning(|_, _, _, _| {
            Err(GithubError::Forbidden {
                message: "no push access".into(),
            })
        });
    let run_id = SyncRunId::new();
    f.runs
        .expect_start_run()
        .returning(move |_, _, _| Ok(run_id));
    f.runs
        .expect_import_page()
        .returning(|_, _, _, _| Ok(PageImported::default()));
    f.runs
        .expect_finish_run()
        .withf(|_, status, _, _| *status == SyncStatus::Succeeded)
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let pid = ProjectId::new();
    let links = vec![
        linked(pid, 1, &s, &s),
        linked(pid, 2, &mine, &s),
        linked(pid, 3, &s, &s),
    ];
    f.store
        .expect_linked_issues()
        .returning(move |_, _| Ok(links.clone()));
    f.store
        .expect_record_events()
        .withf(|_, e| e.len() == 1 && e[0].kind == SyncEventKind::Failed)
        .times(1)
        .returning(|_, _| Ok(()));
    f.store.expect_add_counts().returning(|_, _| Ok(()));
    f.store
        .expect_set_reconcile_watermark()
        .withf(move |_, _, at| *at == t1)
        .times(1)
        .returning(|_, _, _| Ok(()));
    f.run(pacer(1)).await.unwrap();
}

#[tokio::test]
async fn a_rate_limit_ends_the_run_keeping_what_was_merged() {
    let mut f = Fixture::new(None);
    let s = fields("Title");
    let t1 = datetime!(2026-12-01 10:00:00 UTC);
    let first = page(
        vec![issue(1, &s, t1)],
        Some("https://api.github.com/x?page=2"),
    );
    let mut seq = Sequence::new();
    f.github
        .expect_list_issues()
        .times(1)
        .in_sequence(&mut seq)
        .return_once(move |_, _| Ok(first));
    f.github
        .expect_list_issues()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Err(GithubError::RateLimited {
                retry_after_secs: 30,
            })
        });
    let run_id = SyncRunId::new();
    f.runs
        .expect_start_run()
        .returning(move |_, _, _| Ok(run_id));
    f.runs
        .expect_import_page()
        .returning(|_, _, _, _| Ok(PageImported::default()));
    f.runs
        .expect_finish_run()
        .withf(|_, status, _, code| {
            *status == SyncStatus::Failed && code.as_deref() == Some("GITHUB_RATE_LIMITED")
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    f.store
        .expect_linked_issues()
        .returning(|_, _| Ok(Vec::new()));
    f.store
        .expect_set_reconcile_watermark()
        .withf(move |_, _, at| *at == t1)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let err = f.run(pacer(0)).await.unwrap_err();
    assert!(matches!(
        JobOutcome::from_error(&err, pm_kernel::now()),
        JobOutcome::Park { .. }
    ));
}

#[tokio::test]
async fn an_import_only_project_is_not_reconciled() {
    let mut f = Fixture::new(None);
    f.direction = SyncDirection::ImportOnly;
    f.github.expect_list_issues().never();
    f.runs.expect_start_run().never();
    assert_eq!(f.run(pacer(0)).await.unwrap(), Reconciled::NotTwoWay);
}

#[tokio::test]
async fn the_tick_enqueues_one_reconcile_per_two_way_project() {
    let ws = WorkspaceId::new();
    let projects = vec![project(ProjectId::new(), ws), project(ProjectId::new(), ws)];
    let expected: Vec<ProjectId> = projects.iter().map(|p| p.project_id).collect();
    let mut store = MockMergeStore::new();
    store
        .expect_two_way_projects()
        .times(1)
        .returning(move || Ok(projects.clone()));
    let mut queue = MockJobQueue::new();
    let enqueued = Arc::new(Mutex::new(Vec::new()));
    let seen = enqueued.clone();
    queue.expect_enqueue().times(2).returning(move |new| {
        assert_eq!(new.kind, RECONCILE_JOB);
        let project = new.project_id.unwrap();
        assert_eq!(new.concurrency_key, Some(reconcile_key(project)));
        seen.lock().unwrap().push(project);
        Ok(Enqueued {
            job: job(RECONCILE_JOB, project, new.workspace_id.unwrap()),
            joined: false,
        })
    });
    let tick = ReconcileTickHandler::new(Arc::new(store), Arc::new(queue));
    let outcome = tick
        .run(
            &job(crate::two_way::RECONCILE_TICK_JOB, ProjectId::new(), ws),
            &ctx(),
        )
        .await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    assert_eq!(*enqueued.lock().unwrap(), expected);
}

#[test]
fn a_reconcile_job_names_its_project() {
    let (p, ws) = (ProjectId::new(), WorkspaceId::new());
    let job = reconcile_job(p, ws);
    job.validate().unwrap();
    assert_eq!(job.kind, RECONCILE_JOB);
    let payload: MergePayload = serde_json::from_value(job.payload).unwrap();
    assert_eq!(payload.project_id, p.into_uuid());
    assert_eq!(payload.workspace_id, ws.into_uuid());
}

/// After a restart the ETag cache is cold: GitHub answers an idle repository's first
/// page `200`. A page whose issues are all in step with their tasks and snapshots,
/// none newer than the watermark, writes nothing, as a `304` would.
#[tokio::test]
async fn a_cold_cache_page_of_issues_in_step_writes_nothing() {
    let w = datetime!(2026-12-01 10:00:00 UTC);
    let mut f = Fixture::new(Some(w));
    let s = fields("Title");
    let pid = ProjectId::new();
    let (l1, l2) = (linked(pid, 1, &s, &s), linked(pid, 2, &s, &s));
    let listed = page(
        vec![issue(1, &s, w), issue(2, &s, w - RECONCILE_OVERLAP)],
        None,
    );
    f.github
        .expect_list_issues()
        .times(1)
        .return_once(move |_, _| Ok(listed));
    f.store
        .expect_linked_issues()
        .times(1)
        .returning(move |_, _| Ok(vec![l1.clone(), l2.clone()]));
    f.runs.expect_start_run().never();
    f.runs.expect_import_page().never();
    f.store.expect_apply().never();
    f.store.expect_set_reconcile_watermark().never();
    f.store.expect_add_counts().never();
    assert_eq!(f.run(pacer(0)).await.unwrap(), Reconciled::NotModified);
}

/// A page with anything to do runs: here an issue no task is linked to yet.
#[tokio::test]
async fn a_cold_cache_page_with_a_new_issue_opens_a_run() {
    let w = datetime!(2026-12-01 10:00:00 UTC);
    let mut f = Fixture::new(Some(w));
    let s = fields("Title");
    let pid = ProjectId::new();
    let l1 = linked(pid, 1, &s, &s);
    let listed = page(vec![issue(1, &s, w), issue(2, &s, w)], None);
    f.github
        .expect_list_issues()
        .times(1)
        .return_once(move |_, _| Ok(listed));
    f.store
        .expect_linked_issues()
        .times(1)
        .returning(move |_, _| Ok(vec![l1.clone()]));
    // The run is asked for (and refused here, which ends the test there).
    f.runs
        .expect_start_run()
        .times(1)
        .returning(|_, _, _| Err(pm_kernel::Error::internal("stop here")));
    assert!(f.run(pacer(0)).await.is_err());
}
