use super::*;
use crate::two_way::{IssueStatus, MockMergeStore, SyncField};
use crate::{IssueState, MockGithubApi, MockPacer};
use mockall::Sequence;
use pm_kernel::Timestamp;
use pm_tasks::{Labels, Priority, Task, TaskDescription, TaskStatus, TaskTitle};
use std::collections::BTreeSet;
use std::sync::Mutex;

const REPO: &str = "octo/hello";

fn token() -> SecretString {
    SecretString::from("ghp_test")
}

fn scope<'a>(
    token: &'a SecretString,
    project_id: ProjectId,
    policy: ConflictPolicy,
) -> MergeScope<'a> {
    MergeScope {
        token,
        project_id,
        project_repo: REPO,
        policy,
        run_id: None,
    }
}

fn snapshot() -> IssueFields {
    IssueFields {
        title: "Title".into(),
        body: "Body".into(),
        status: IssueStatus::Open,
        labels: ["bug".to_string()].into_iter().collect(),
    }
}

fn task(project_id: ProjectId, f: &IssueFields, updated_at: Timestamp) -> Task {
    Task {
        id: TaskId::new(),
        project_id,
        number: 3,
        title: TaskTitle::lenient(&f.title),
        description: TaskDescription::lenient(&f.body),
        status: match f.status {
            IssueStatus::Open => TaskStatus::Todo,
            IssueStatus::Completed => TaskStatus::Done,
            IssueStatus::NotPlanned => TaskStatus::Canceled,
        },
        priority: Priority::None,
        labels: Labels::lenient(f.labels.iter().map(String::as_str)),
        source: pm_tasks::TaskSource::Github,
        external_links: Vec::new(),
        created_at: updated_at,
        updated_at,
    }
}

fn linked(project_id: ProjectId, t: &IssueFields, snapshot: Option<IssueFields>) -> LinkedIssue {
    LinkedIssue {
        task: task(project_id, t, pm_kernel::now()),
        reopen_status: None,
        link_id: uuid::Uuid::now_v7(),
        github_issue_id: 9001,
        repo_full_name: REPO.into(),
        issue_number: 12,
        snapshot,
        etag: Some("\"v1\"".into()),
        state: LinkState::Active,
    }
}

fn issue(f: &IssueFields) -> GithubIssue {
    let (state, reason) = f.status.to_issue();
    GithubIssue {
        id: 9001,
        number: 12,
        title: f.title.clone(),
        body: Some(f.body.clone()),
        state,
        state_reason: reason.map(str::to_string),
        labels: f.labels.iter().cloned().collect(),
        html_url: format!("https://github.com/{REPO}/issues/12"),
        updated_at: Some(pm_kernel::now()),
        repo_full_name: Some(REPO.into()),
    }
}

fn dirty(reason: &str) -> DirtyIssue {
    DirtyIssue {
        project_id: ProjectId::new(),
        github_issue_id: 9001,
        issue_number: 12,
        repo_full_name: REPO.into(),
        reason: reason.into(),
        delivery_id: "d-1".into(),
        generation: 1,
        marked_at: pm_kernel::now(),
    }
}

fn found(f: &IssueFields) -> IssueRead {
    IssueRead::Found {
        issue: Box::new(issue(f)),
        etag: Some("\"v2\"".into()),
    }
}

/// GitHub answering one GET, and PATCHes with the issue as patched.
fn github(read: IssueRead, current: IssueFields, patches: usize) -> MockGithubApi {
    let mut gh = MockGithubApi::new();
    gh.expect_get_issue()
        .times(1)
        .return_once(move |_, _, _, _| Ok(read));
    let current = Mutex::new(current);
    gh.expect_update_issue()
        .times(patches)
        .returning(move |_, _, _, patch| {
            let mut f = current.lock().unwrap();
            apply_patch(&mut f, patch);
            Ok(issue(&f))
        });
    gh
}

fn apply_patch(f: &mut IssueFields, patch: &crate::IssuePatch) {
    if let Some(t) = &patch.title {
        f.title.clone_from(t);
    }
    if let Some(b) = &patch.body {
        f.body = crate::link::strip_marker(b).to_string();
    }
    if let Some(state) = patch.state {
        f.status = IssueStatus::of_issue(state, patch.state_reason.as_deref());
    }
    if let Some(l) = &patch.labels {
        f.labels = l.iter().cloned().collect();
    }
}

fn pacer(times: usize) -> Arc<MockPacer> {
    let mut p = MockPacer::new();
    p.expect_before_create().times(times).returning(|| ());
    Arc::new(p)
}

fn merger(gh: MockGithubApi, store: MockMergeStore, pacer: Arc<MockPacer>) -> TwoWayMerger {
    TwoWayMerger::new(Arc::new(gh), Arc::new(store), pacer)
}

fn kinds(events: &[NewSyncEvent]) -> Vec<SyncEventKind> {
    events.iter().map(|e| e.kind).collect()
}

/// A store whose `linked_issue` answers `link`.
fn store_linking(link: LinkedIssue) -> MockMergeStore {
    let mut store = MockMergeStore::new();
    store
        .expect_linked_issue()
        .returning(move |_, _| Ok(Some(link.clone())));
    store
}

/// Merges the dirty issue of project `p` a delivery or edit of `cause` marked, with
/// no pacing expected.
async fn merge_dirty(
    gh: MockGithubApi,
    store: MockMergeStore,
    p: ProjectId,
    policy: ConflictPolicy,
    cause: &str,
) -> Merged {
    let token = token();
    merger(gh, store, pacer(0))
        .merge_dirty(scope(&token, p, policy), &dirty(cause))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pmhub_edit_sends_exactly_one_patch_and_stores_githubs_answer() {
    let p = ProjectId::new();
    let mut t = snapshot();
    t.title = "Retitled".into();
    t.status = IssueStatus::Completed;
    let link = linked(p, &t, Some(snapshot()));
    let gh = {
        let mut gh = MockGithubApi::new();
        gh.expect_get_issue()
            .withf(|_, repo, number, etag| {
                repo.as_str() == REPO && *number == 12 && etag.as_deref() == Some("\"v1\"")
            })
            .times(1)
            .returning(|_, _, _, _| Ok(IssueRead::NotModified));
        gh.expect_update_issue()
            .withf(|_, _, number, patch| {
                *number == 12
                    && patch.title.as_deref() == Some("Retitled")
                    && patch.state == Some(IssueState::Closed)
                    && patch.state_reason.as_deref() == Some("completed")
                    && patch.body.is_none()
                    && patch.labels.is_none()
            })
            .times(1)
            .returning(|_, _, _, patch| {
                let mut f = snapshot();
                apply_patch(&mut f, patch);
                Ok(issue(&f))
            });
        gh
    };
    let mut store = MockMergeStore::new();
    let l = link.clone();
    store
        .expect_linked_issue()
        .times(1)
        .returning(move |_, _| Ok(Some(l.clone())));
    let expected = t.clone();
    let task_updated_at = link.task.updated_at;
    store
        .expect_apply()
        .withf(move |a| {
            a.task_patch.is_empty()
                && a.expected_updated_at == task_updated_at
                && a.snapshot.as_ref() == Some(&expected)
                && a.etag.is_none()
                && a.link == LinkChange::Keep
                && a.conflicts.is_empty()
                && a.events.len() == 2
                && a.events.iter().all(|e| {
                    e.kind == SyncEventKind::Updated
                        && e.direction == Some(SyncDirectionOfChange::ToGithub)
                        && e.detail.as_deref() == Some("task.edited")
                })
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let m = merger(gh, store, pacer(1));
    let token = token();
    let merged = m
        .merge_dirty(
            scope(&token, p, ConflictPolicy::PmhubWins),
            &dirty("task.edited"),
        )
        .await
        .unwrap();
    assert_eq!(merged, Merged::Updated { conflicts: 0 });
}

#[tokio::test]
async fn an_echo_causes_no_patch_and_no_task_write() {
    let p = ProjectId::new();
    let s = snapshot();
    let link = linked(p, &s, Some(s.clone()));
    // GitHub's answer is the snapshot (pmhub's own change came back).
    for read in [found(&s), IssueRead::NotModified] {
        let new_etag = matches!(read, IssueRead::Found { .. });
        let gh = github(read, s.clone(), 0);
        let mut store = MockMergeStore::new();
        let l = link.clone();
        store
            .expect_linked_issue()
            .returning(move |_, _| Ok(Some(l.clone())));
        store
            .expect_apply()
            .withf(move |a| {
                a.task_patch.is_empty()
                    && kinds(&a.events) == [SyncEventKind::EchoIgnored]
                    && a.events[0].detail.as_deref() == Some("issues.edited")
                    && a.conflicts.is_empty()
                    // Only a new ETag is kept, so the next read is a 304.
                    && a.snapshot.is_some() == new_etag
            })
            .times(1)
            .returning(|_| Ok(Applied::Done));
        let m = merger(gh, store, pacer(0));
        let token = token();
        let merged = m
            .merge_dirty(
                scope(&token, p, ConflictPolicy::PmhubWins),
                &dirty("issues.edited"),
            )
            .await
            .unwrap();
        assert_eq!(merged, Merged::EchoIgnored);
    }
}

#[tokio::test]
async fn a_task_edit_that_finds_both_sides_equal_writes_nothing() {
    let p = ProjectId::new();
    let s = snapshot();
    let link = linked(p, &s, Some(s.clone()));
    let gh = github(IssueRead::NotModified, s.clone(), 0);
    let mut store = store_linking(link);
    store.expect_apply().never();
    store.expect_record_events().never();
    let merged = merge_dirty(gh, store, p, ConflictPolicy::PmhubWins, "task.edited").await;
    assert_eq!(merged, Merged::Unchanged);
}

#[tokio::test]
async fn a_github_change_is_applied_to_the_task_without_a_patch() {
    let p = ProjectId::new();
    let s = snapshot();
    let mut g = s.clone();
    g.status = IssueStatus::NotPlanned;
    g.labels.insert("wontfix".into());
    let link = linked(p, &s, Some(s.clone()));
    let gh = github(found(&g), g.clone(), 0);
    let mut store = store_linking(link);
    let expected = g.clone();
    store
        .expect_apply()
        .withf(move |a| {
            a.task_patch.status == Some(TaskStatus::Canceled)
                && a.task_patch.labels.as_ref().map(Labels::as_slice)
                    == Some(&["bug".to_string(), "wontfix".into()][..])
                && a.snapshot.as_ref() == Some(&expected)
                && a.etag.as_deref() == Some("\"v2\"")
                && a.events
                    .iter()
                    .all(|e| e.direction == Some(SyncDirectionOfChange::ToPmhub))
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let merged = merge_dirty(gh, store, p, ConflictPolicy::PmhubWins, "issues.closed").await;
    assert_eq!(merged, Merged::Updated { conflicts: 0 });
}

#[tokio::test]
async fn a_stale_write_is_merged_again_without_a_false_conflict_or_a_lost_edit() {
    let p = ProjectId::new();
    let s = snapshot();
    // pmhub retitled; GitHub meanwhile closed the issue.
    let mut t0 = s.clone();
    t0.title = "Mine".into();
    let mut g = s.clone();
    g.status = IssueStatus::Completed;
    let first = linked(p, &t0, Some(s.clone()));
    // While the first merge ran, the user also edited the description.
    let mut t1 = t0.clone();
    t1.body = "Edited meanwhile".into();
    let mut second = first.clone();
    second.task = task(p, &t1, first.task.updated_at + time::Duration::seconds(1));
    second.task.id = first.task.id;

    let mut gh = MockGithubApi::new();
    gh.expect_get_issue()
        .times(1)
        .return_once(move |_, _, _, _| Ok(found(&g)));
    let mut seq = Sequence::new();
    let github_now = Mutex::new({
        let mut g = s.clone();
        g.status = IssueStatus::Completed;
        g
    });
    let patches = Arc::new(Mutex::new(Vec::new()));
    let seen_patches = patches.clone();
    gh.expect_update_issue()
        .times(2)
        .returning(move |_, _, _, patch| {
            seen_patches.lock().unwrap().push(patch.clone());
            let mut f = github_now.lock().unwrap();
            apply_patch(&mut f, patch);
            Ok(issue(&f))
        });
    let mut store = MockMergeStore::new();
    let f = first.clone();
    store
        .expect_linked_issue()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(Some(f.clone())));
    store
        .expect_apply()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Applied::Stale));
    let sc = second.clone();
    store
        .expect_linked_issue()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(Some(sc.clone())));
    let applied = Arc::new(Mutex::new(None));
    let keep = applied.clone();
    let fence = second.task.updated_at;
    store
        .expect_apply()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |a| {
            assert_eq!(a.expected_updated_at, fence, "fenced on the re-read task");
            *keep.lock().unwrap() = Some(a.clone());
            Ok(Applied::Done)
        });
    let m = merger(gh, store, pacer(2));
    let token = token();
    let merged = m
        .merge_dirty(
            scope(&token, p, ConflictPolicy::PmhubWins),
            &dirty("issues.closed"),
        )
        .await
        .unwrap();
    assert_eq!(merged, Merged::Updated { conflicts: 0 });
    let patches = patches.lock().unwrap();
    assert_eq!(patches[0].title.as_deref(), Some("Mine"));
    assert_eq!(patches[0].state, None);
    assert_eq!(patches[1].title, None, "the title is not sent twice");
    assert_eq!(patches[1].body.as_deref(), Some("Edited meanwhile"));
    let a = applied.lock().unwrap().clone().unwrap();
    assert!(
        a.conflicts.is_empty(),
        "no false conflict: {:?}",
        a.conflicts
    );
    assert_eq!(
        a.task_patch.status,
        Some(TaskStatus::Done),
        "GitHub's close is kept"
    );
    assert!(a.task_patch.title.is_none() && a.task_patch.description.is_none());
    let fields: Vec<_> = a.events.iter().map(|e| (e.field, e.direction)).collect();
    assert!(fields.contains(&(
        Some(SyncField::Title),
        Some(SyncDirectionOfChange::ToGithub)
    )));
    assert!(fields.contains(&(Some(SyncField::Body), Some(SyncDirectionOfChange::ToGithub))));
    assert!(fields.contains(&(
        Some(SyncField::Status),
        Some(SyncDirectionOfChange::ToPmhub)
    )));
    assert_eq!(a.events.len(), 3, "{:?}", a.events);
    let mut expected = t1.clone();
    expected.status = IssueStatus::Completed;
    assert_eq!(a.snapshot, Some(expected));
}

#[tokio::test]
async fn a_deleted_issue_keeps_the_task_and_marks_the_link() {
    let p = ProjectId::new();
    let s = snapshot();
    let link = linked(p, &s, Some(s.clone()));
    let gh = github(IssueRead::Deleted, s.clone(), 0);
    let mut store = store_linking(link);
    store
        .expect_apply()
        .withf(|a| {
            a.link == LinkChange::Deleted
                && a.task_patch.is_empty()
                && a.snapshot.is_none()
                && kinds(&a.events) == [SyncEventKind::LinkDeleted]
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let merged = merge_dirty(gh, store, p, ConflictPolicy::PmhubWins, "issues.deleted").await;
    assert_eq!(merged, Merged::LinkDeleted);
}

#[tokio::test]
async fn an_issue_transferred_out_marks_the_link_and_is_not_merged() {
    let p = ProjectId::new();
    let s = snapshot();
    let mut t = s.clone();
    t.title = "Changed in pmhub".into();
    let link = linked(p, &t, Some(s.clone()));
    let mut moved = issue(&s);
    moved.repo_full_name = Some("elsewhere/repo".into());
    moved.number = 77;
    moved.html_url = "https://github.com/elsewhere/repo/issues/77".into();
    let gh = github(
        IssueRead::Found {
            issue: Box::new(moved),
            etag: None,
        },
        s.clone(),
        0,
    );
    let mut store = store_linking(link);
    store
        .expect_apply()
        .withf(|a| {
            a.link == LinkChange::Transferred
                && a.task_patch.is_empty()
                && kinds(&a.events) == [SyncEventKind::LinkTransferred]
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let merged = merge_dirty(
        gh,
        store,
        p,
        ConflictPolicy::PmhubWins,
        "issues.transferred",
    )
    .await;
    assert_eq!(merged, Merged::LinkTransferred);
}

#[tokio::test]
async fn the_same_issue_under_a_new_repository_name_is_a_rename_and_is_followed() {
    let p = ProjectId::new();
    let s = snapshot();
    let link = linked(p, &s, Some(s.clone()));
    let number = link.issue_number;
    let mut renamed = issue(&s);
    renamed.repo_full_name = Some("octo/renamed".into());
    renamed.html_url = format!("https://github.com/octo/renamed/issues/{number}");
    let gh = github(
        IssueRead::Found {
            issue: Box::new(renamed),
            etag: None,
        },
        s.clone(),
        0,
    );
    let mut store = store_linking(link);
    store
        .expect_apply()
        .withf(move |a| {
            a.link
                == LinkChange::Moved {
                    reference: format!("octo/renamed#{number}"),
                    url: format!("https://github.com/octo/renamed/issues/{number}"),
                    issue_number: number,
                }
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let m = merger(gh, store, pacer(0));
    let token = token();
    m.merge_dirty(
        scope(&token, p, ConflictPolicy::PmhubWins),
        &dirty("issues.edited"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_issue_transferred_into_the_projects_repository_is_followed_and_merged() {
    let p = ProjectId::new();
    let s = snapshot();
    let mut link = linked(p, &s, Some(s.clone()));
    link.repo_full_name = "octo/old".into();
    let mut g = s.clone();
    g.title = "Retitled on GitHub".into();
    let mut moved = issue(&g);
    moved.number = 40;
    moved.html_url = format!("https://github.com/{REPO}/issues/40");
    let gh = {
        let mut gh = MockGithubApi::new();
        gh.expect_get_issue()
            .withf(|_, repo, number, _| repo.as_str() == "octo/old" && *number == 12)
            .times(1)
            .return_once(move |_, _, _, _| {
                Ok(IssueRead::Found {
                    issue: Box::new(moved),
                    etag: Some("\"v9\"".into()),
                })
            });
        gh.expect_update_issue().never();
        gh
    };
    let mut store = store_linking(link);
    store
        .expect_apply()
        .withf(|a| {
            a.link
                == LinkChange::Moved {
                    reference: format!("{REPO}#40"),
                    url: format!("https://github.com/{REPO}/issues/40"),
                    issue_number: 40,
                }
                && a.task_patch.title.as_ref().map(TaskTitle::as_str) == Some("Retitled on GitHub")
                && a.events.iter().all(|e| e.issue_number == Some(40))
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let merged = merge_dirty(
        gh,
        store,
        p,
        ConflictPolicy::PmhubWins,
        "issues.transferred",
    )
    .await;
    assert_eq!(merged, Merged::Updated { conflicts: 0 });
}

#[tokio::test]
async fn an_invisible_issue_is_skipped_with_its_reason() {
    let p = ProjectId::new();
    let s = snapshot();
    let link = linked(p, &s, Some(s.clone()));
    let gh = github(IssueRead::Missing, s.clone(), 0);
    let mut store = store_linking(link);
    store.expect_apply().never();
    store
        .expect_record_events()
        .withf(|_, events| {
            kinds(events) == [SyncEventKind::Skipped]
                && events[0].detail.as_deref() == Some(ISSUE_NOT_VISIBLE)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let merged = merge_dirty(gh, store, p, ConflictPolicy::PmhubWins, "issues.edited").await;
    assert_eq!(merged, Merged::Skipped);
}

#[tokio::test]
async fn a_rate_limit_stops_the_job_and_other_failures_are_recorded() {
    let p = ProjectId::new();
    let s = snapshot();
    let mut t = s.clone();
    t.title = "Mine".into();
    let link = linked(p, &t, Some(s.clone()));

    // Rate limited: the error goes up, nothing is recorded.
    let mut gh = MockGithubApi::new();
    gh.expect_get_issue().times(1).returning(|_, _, _, _| {
        Err(GithubError::RateLimited {
            retry_after_secs: 60,
        })
    });
    let mut store = MockMergeStore::new();
    let l = link.clone();
    store
        .expect_linked_issue()
        .returning(move |_, _| Ok(Some(l.clone())));
    store.expect_record_events().never();
    store.expect_apply().never();
    let m = merger(gh, store, pacer(0));
    let token = token();
    let err = m
        .merge_dirty(
            scope(&token, p, ConflictPolicy::PmhubWins),
            &dirty("issues.edited"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "GITHUB_RATE_LIMITED");

    // The PATCH is refused: a `failed` event with the code, and the merge moves on.
    let mut gh = github(found(&s), s.clone(), 0);
    gh.expect_update_issue().times(1).returning(|_, _, _, _| {
        Err(GithubError::Forbidden {
            message: "no push access".into(),
        })
    });
    let mut store = store_linking(link);
    store.expect_apply().never();
    store
        .expect_record_events()
        .withf(|_, events| {
            kinds(events) == [SyncEventKind::Failed]
                && events[0].detail.as_deref() == Some("GITHUB_FORBIDDEN")
                && events[0].task_number == Some(3)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let m = merger(gh, store, pacer(1));
    let merged = m
        .merge_dirty(
            scope(&token, p, ConflictPolicy::PmhubWins),
            &dirty("issues.edited"),
        )
        .await
        .unwrap();
    assert_eq!(merged, Merged::Failed);
}

#[tokio::test]
async fn a_conflict_follows_the_policy_and_is_recorded_with_both_values() {
    let p = ProjectId::new();
    let s = snapshot();
    let mut t = s.clone();
    t.title = "pmhub's".into();
    let mut g = s.clone();
    g.title = "GitHub's".into();
    for policy in [ConflictPolicy::PmhubWins, ConflictPolicy::GithubWins] {
        let link = linked(p, &t, Some(s.clone()));
        let patches = usize::from(policy == ConflictPolicy::PmhubWins);
        let gh = github(found(&g), g.clone(), patches);
        let mut store = MockMergeStore::new();
        store
            .expect_linked_issue()
            .returning(move |_, _| Ok(Some(link.clone())));
        store
            .expect_apply()
            .withf(move |a| {
                let c = &a.conflicts;
                let task_title = a.task_patch.title.as_ref().map(TaskTitle::as_str);
                c.len() == 1
                    && c[0].pmhub_value == serde_json::json!("pmhub's")
                    && c[0].github_value == serde_json::json!("GitHub's")
                    && c[0].base_value == Some(serde_json::json!("Title"))
                    && c[0].policy == policy
                    && kinds(&a.events) == [SyncEventKind::Conflict]
                    && match policy {
                        ConflictPolicy::PmhubWins => task_title.is_none(),
                        ConflictPolicy::GithubWins => task_title == Some("GitHub's"),
                    }
            })
            .times(1)
            .returning(|_| Ok(Applied::Done));
        let m = merger(gh, store, pacer(patches));
        let token = token();
        let merged = m
            .merge_dirty(scope(&token, p, policy), &dirty("issues.edited"))
            .await
            .unwrap();
        assert_eq!(merged, Merged::Updated { conflicts: 1 }, "{policy:?}");
    }
}

#[tokio::test]
async fn a_listed_page_is_merged_with_one_read_of_its_links_and_no_get() {
    let p = ProjectId::new();
    let s = snapshot();
    let mut changed = s.clone();
    changed.labels = BTreeSet::from(["bug".to_string(), "ui".to_string()]);
    let unchanged_link = linked(p, &s, Some(s.clone()));
    let mut changed_link = linked(p, &s, Some(s.clone()));
    changed_link.github_issue_id = 9002;
    let mut listed_changed = issue(&changed);
    listed_changed.id = 9002;
    let mut unlinked = issue(&s);
    unlinked.id = 7777;
    let issues = vec![issue(&s), listed_changed, unlinked];

    let mut gh = MockGithubApi::new();
    gh.expect_get_issue().never();
    gh.expect_update_issue().never();
    let mut store = MockMergeStore::new();
    store
        .expect_linked_issues()
        .withf(|_, ids| ids == [9001, 9002, 7777])
        .times(1)
        .returning(move |_, _| Ok(vec![unchanged_link.clone(), changed_link.clone()]));
    store
        .expect_apply()
        .withf(|a| {
            a.task_patch.labels.is_some()
                && a.events
                    .iter()
                    .all(|e| e.detail.as_deref() == Some("reconcile"))
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let m = merger(gh, store, pacer(0));
    let token = token();
    let page = m
        .merge_listed(
            scope(&token, p, ConflictPolicy::PmhubWins),
            &issues,
            "reconcile",
        )
        .await
        .unwrap();
    assert_eq!(page.counts.updated, 1);
    assert_eq!(page.counts.unchanged, 1);
    assert_eq!(page.linked, HashSet::from([9001, 9002]));
    assert!(page.failed.is_empty());
}

#[tokio::test]
async fn a_link_made_before_two_way_sync_takes_githubs_values() {
    let p = ProjectId::new();
    let mut t = snapshot();
    t.title = "Imported long ago".into();
    let s = snapshot();
    let mut link = linked(p, &t, None);
    link.etag = None;
    let gh = github(found(&s), s.clone(), 0);
    let mut store = store_linking(link);
    let expected = s.clone();
    store
        .expect_apply()
        .withf(move |a| {
            a.conflicts.is_empty()
                && a.task_patch.title.as_ref().map(TaskTitle::as_str) == Some("Title")
                && a.snapshot.as_ref() == Some(&expected)
        })
        .times(1)
        .returning(|_| Ok(Applied::Done));
    let merged = merge_dirty(gh, store, p, ConflictPolicy::PmhubWins, "issues.edited").await;
    assert_eq!(merged, Merged::Updated { conflicts: 0 });
}
