use super::*;
use crate::IssueState;
use crate::{
    GithubCredential, IssuePage, MockCredentialStore, MockGithubApi, MockSecretCipher,
    MockSyncStore, PageImported, SealedSecret, SyncStatus,
};
use mockall::Sequence;
use pm_kernel::{GithubError, Role, WorkspaceId};
use pm_projects::MockProjectRepository;
use pm_projects::Project;
use secrecy::{ExposeSecret, SecretString};

fn actor() -> Actor {
    pm_kernel::testing::actor(Role::Member)
}

fn project(ws: WorkspaceId, repo: Option<&str>) -> Project {
    pm_projects::testing::project(ws, "sync-abc123", "Sync", repo)
}

fn issue(id: i64, number: i64, state: IssueState, reason: Option<&str>) -> GithubIssue {
    GithubIssue {
        updated_at: None,
        repo_full_name: None,
        id,
        number,
        title: format!("Issue {number}"),
        body: Some("body".into()),
        state,
        state_reason: reason.map(str::to_string),
        labels: vec!["bug".into()],
        html_url: format!("https://github.com/octo/hello/issues/{number}"),
    }
}

fn projects(p: Project) -> Arc<MockProjectRepository> {
    let mut repo = MockProjectRepository::new();
    repo.expect_get().returning(move |_, _| Ok(Some(p.clone())));
    Arc::new(repo)
}

/// A token source that answers from the workspace connection (`ws-token`) or,
/// with `server`, from the server-wide fallback.
fn tokens(connected: bool, server: Option<&str>) -> TokenSource {
    let mut store = MockCredentialStore::new();
    store.expect_get().returning(move |ws| {
        Ok(connected.then(|| GithubCredential {
            id: uuid::Uuid::now_v7(),
            workspace_id: ws,
            account_login: "octo".into(),
            token_hint: "oken".into(),
            sealed: SealedSecret {
                key_id: "k".into(),
                nonce: vec![0; 12],
                ciphertext: vec![1],
            },
            connected_at: pm_kernel::now(),
        }))
    });
    let mut cipher = MockSecretCipher::new();
    cipher
        .expect_open()
        .returning(|_, _| Ok(SecretString::from("ws-token")));
    TokenSource::new(
        Arc::new(store),
        Arc::new(cipher),
        server.map(|s| SecretString::from(s.to_string())),
    )
}

fn github_with_pages(pages: Vec<IssuePage>) -> MockGithubApi {
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    let mut seq = Sequence::new();
    for page in pages {
        github
            .expect_list_issues()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(page.clone()));
    }
    github
}

fn runs_accepting(created_per_page: Vec<u32>) -> MockSyncStore {
    let mut runs = MockSyncStore::new();
    runs.expect_fail_stale_runs().returning(|_, _, _| Ok(0));
    runs.expect_start_run()
        .times(1)
        .returning(|_, _, _| Ok(SyncRunId::new()));
    let mut seq = Sequence::new();
    for created in created_per_page {
        runs.expect_import_page()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, issues, _| {
                Ok(PageImported {
                    created,
                    skipped: u32::try_from(issues.len()).unwrap() - created,
                })
            });
    }
    runs
}

#[tokio::test]
async fn imports_every_page_and_records_success() {
    let actor = actor();
    let p = project(actor.workspace_id, Some("octo/hello"));
    let github = github_with_pages(vec![
        IssuePage {
            not_modified: false,
            issues: vec![
                issue(11, 1, IssueState::Open, None),
                issue(12, 2, IssueState::Open, None),
            ],
            pull_requests_skipped: 1,
            next: Some("https://api.github.com/repositories/1/issues?page=2".into()),
        },
        IssuePage {
            not_modified: false,
            issues: vec![issue(13, 3, IssueState::Closed, Some("completed"))],
            pull_requests_skipped: 0,
            next: None,
        },
    ]);
    let mut runs = runs_accepting(vec![2, 0]);
    runs.expect_finish_run()
        .withf(|_, status, _, code| *status == SyncStatus::Succeeded && code.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(github),
        tokens(true, None),
        Arc::new(runs),
    );
    let report = importer.run(&actor, &p_slug(), None).await.unwrap();
    assert_eq!(report.repo.as_str(), "octo/hello");
    assert_eq!(
        report.counts,
        SyncCounts {
            created: 2,
            skipped: 1,
            pull_requests_ignored: 1,
            total_seen: 4,
            ..SyncCounts::default()
        }
    );
}

fn p_slug() -> Slug {
    Slug::parse("sync-abc123").unwrap()
}

#[tokio::test]
async fn second_page_follows_the_next_link_as_given() {
    let actor = actor();
    let p = project(actor.workspace_id, Some("octo/hello"));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    github
        .expect_list_issues()
        .withf(|_, req| matches!(req, IssuePageRequest::First { repo } if repo.as_str() == "octo/hello"))
        .times(1)
        .returning(|_, _| {
            Ok(IssuePage {
                not_modified: false,
                issues: vec![],
                pull_requests_skipped: 0,
                next: Some("https://api.github.com/repositories/9/issues?page=2".into()),
            })
        });
    github
        .expect_list_issues()
        .withf(|_, req| {
            matches!(req, IssuePageRequest::Next { url } if url == "https://api.github.com/repositories/9/issues?page=2")
        })
        .times(1)
        .returning(|_, _| Ok(IssuePage::default()));
    let mut runs = runs_accepting(vec![0, 0]);
    runs.expect_finish_run().returning(|_, _, _, _| Ok(()));
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(github),
        tokens(true, None),
        Arc::new(runs),
    );
    importer.run(&actor, &p_slug(), None).await.unwrap();
}

#[tokio::test]
async fn a_failure_mid_run_is_recorded_with_its_code() {
    let actor = actor();
    let p = project(actor.workspace_id, Some("octo/hello"));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    let mut seq = Sequence::new();
    github
        .expect_list_issues()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Ok(IssuePage {
                not_modified: false,
                issues: vec![issue(1, 1, IssueState::Open, None)],
                pull_requests_skipped: 0,
                next: Some("https://api.github.com/x?page=2".into()),
            })
        });
    github
        .expect_list_issues()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Err(GithubError::RateLimited {
                retry_after_secs: 60,
            })
        });
    let mut runs = runs_accepting(vec![1]);
    runs.expect_finish_run()
        .withf(|_, status, _, code| {
            *status == SyncStatus::Failed && code.as_deref() == Some("GITHUB_RATE_LIMITED")
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(github),
        tokens(true, None),
        Arc::new(runs),
    );
    let err = importer.run(&actor, &p_slug(), None).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Github(GithubError::RateLimited {
            retry_after_secs: 60
        })
    ));
}

#[tokio::test]
async fn issues_become_linked_github_tasks_with_mapped_states() {
    let repo = RepoFullName::parse("octo/hello").unwrap();
    let open = issue_import("github.com", &repo, &issue(7, 3, IssueState::Open, None));
    assert_eq!(open.dedup_key, "github:github.com:issue:7");
    assert_eq!(open.link.reference, "octo/hello#3");
    assert_eq!(open.link.url, "https://github.com/octo/hello/issues/3");
    assert_eq!(open.link.provider, "github");
    assert_eq!(open.task.source, TaskSource::Github);
    assert_eq!(open.task.status, TaskStatus::Todo);
    assert_eq!(open.task.labels.as_slice(), ["bug"]);
    let done = issue_import(
        "github.com",
        &repo,
        &issue(8, 4, IssueState::Closed, Some("completed")),
    );
    assert_eq!(done.task.status, TaskStatus::Done);
    let reasonless = issue_import("github.com", &repo, &issue(9, 5, IssueState::Closed, None));
    assert_eq!(reasonless.task.status, TaskStatus::Done);
    let canceled = issue_import(
        "github.com",
        &repo,
        &issue(10, 6, IssueState::Closed, Some("not_planned")),
    );
    assert_eq!(canceled.task.status, TaskStatus::Canceled);
}

#[test]
fn reference_follows_the_issue_url_after_a_rename() {
    let asked = RepoFullName::parse("octo/old-name").unwrap();
    let mut moved = issue(1, 12, IssueState::Open, None);
    moved.html_url = "https://github.com/octo/new-name/issues/12".into();
    assert_eq!(issue_reference(&asked, &moved), "octo/new-name#12");
    moved.html_url = "not a url".into();
    assert_eq!(issue_reference(&asked, &moved), "octo/old-name#12");
}

#[tokio::test]
async fn uses_the_server_token_when_the_workspace_has_none() {
    let actor = actor();
    let p = project(actor.workspace_id, Some("octo/hello"));
    let mut github = MockGithubApi::new();
    github.expect_host().returning(|| "github.com".into());
    github
        .expect_list_issues()
        .withf(|token, _| token.expose_secret() == "server-token")
        .times(1)
        .returning(|_, _| Ok(IssuePage::default()));
    let mut runs = runs_accepting(vec![0]);
    runs.expect_finish_run().returning(|_, _, _, _| Ok(()));
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(github),
        tokens(false, Some("server-token")),
        Arc::new(runs),
    );
    importer.run(&actor, &p_slug(), None).await.unwrap();
}

#[tokio::test]
async fn without_any_token_nothing_is_called_or_recorded() {
    let actor = actor();
    let p = project(actor.workspace_id, Some("octo/hello"));
    let mut github = MockGithubApi::new();
    github.expect_list_issues().never();
    let mut runs = MockSyncStore::new();
    runs.expect_start_run().never();
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(github),
        tokens(false, None),
        Arc::new(runs),
    );
    let err = importer.run(&actor, &p_slug(), None).await.unwrap_err();
    assert!(matches!(err, Error::IntegrationNotConnected));
}

#[tokio::test]
async fn a_project_without_a_repository_needs_one() {
    let actor = actor();
    let p = project(actor.workspace_id, None);
    let mut runs = MockSyncStore::new();
    runs.expect_start_run().never();
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(MockGithubApi::new()),
        tokens(true, None),
        Arc::new(runs),
    );
    let err = importer.run(&actor, &p_slug(), None).await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
}

#[tokio::test]
async fn runs_left_running_by_a_dead_process_are_closed_first() {
    let actor = actor();
    let p = project(actor.workspace_id, Some("octo/hello"));
    let github = github_with_pages(vec![IssuePage::default()]);
    let mut runs = MockSyncStore::new();
    let mut seq = Sequence::new();
    runs.expect_fail_stale_runs()
        .withf(|_, before, code| {
            code == "INTERRUPTED"
                && *before < pm_kernel::now() - std::time::Duration::from_secs(3500)
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(2));
    runs.expect_start_run()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(SyncRunId::new()));
    runs.expect_import_page()
        .returning(|_, _, _, _| Ok(PageImported::default()));
    runs.expect_finish_run().returning(|_, _, _, _| Ok(()));
    let importer = IssueImporter::new(
        projects(p),
        Arc::new(github),
        tokens(true, None),
        Arc::new(runs),
    );
    importer.run(&actor, &p_slug(), None).await.unwrap();
}

#[test]
fn a_next_link_that_repeats_stops_the_import() {
    let mut guard = PageGuard::default();
    assert_eq!(
        guard.next(Some("u2".into())).unwrap().as_deref(),
        Some("u2")
    );
    assert_eq!(
        guard.next(Some("u3".into())).unwrap().as_deref(),
        Some("u3")
    );
    let err = guard.next(Some("u3".into())).unwrap_err();
    assert_eq!(err.code(), "GITHUB_UNAVAILABLE");
    assert_eq!(PageGuard::default().next(None).unwrap(), None);
}
