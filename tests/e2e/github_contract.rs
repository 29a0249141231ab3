//! The real GitHub adapter (`pm_github::GithubClient`) against the fake GitHub, for the calls
//! two-way sync makes: the two must agree on conditional reads, deleted and transferred issues,
//! PATCH, hook registration and the reconcile's idle `304`. No PostgreSQL involved.

use pm_github::{GithubClient, GithubConfig};
use pm_github_fake::{FakeGithub, GenerateIssues, Running};
use pm_integrations::{
    GithubApi, HookRegistration, IssuePageRequest, IssuePatch, IssueRead, IssueState, NewHook,
};
use pm_projects::RepoFullName;
use secrecy::SecretString;
use url::Url;

const TOKEN: &str = "ghp_contract0123456789abcdefABCDEF";

async fn world() -> (Running, FakeGithub, GithubClient) {
    let fake = FakeGithub::new();
    fake.add_user(TOKEN, "alice").expect("user");
    fake.add_org("acme").expect("org");
    fake.add_org_member("acme", "alice").expect("member");
    fake.add_repo("acme", "web", true).expect("repo");
    fake.add_repo("acme", "other", true).expect("repo");
    fake.add_issues("acme/web", &GenerateIssues::new(3))
        .expect("issues");
    let running = fake.clone().start("127.0.0.1:0").await.expect("start");
    let client = GithubClient::new(GithubConfig::new(
        Url::parse(&running.base_url).expect("URL"),
    ))
    .expect("client");
    (running, fake, client)
}

fn token() -> SecretString {
    SecretString::from(TOKEN.to_string())
}

fn web() -> RepoFullName {
    RepoFullName::parse("acme/web").expect("repo")
}

#[tokio::test]
async fn conditional_reads_deleted_and_transferred_issues() {
    let (running, fake, client) = world().await;
    let IssueRead::Found { issue, etag } = client
        .get_issue(&token(), &web(), 1, None)
        .await
        .expect("get")
    else {
        panic!("expected Found");
    };
    assert_eq!(issue.repo_full_name.as_deref(), Some("acme/web"));
    let etag = etag.expect("the fake sends ETags");
    assert_eq!(
        client
            .get_issue(&token(), &web(), 1, Some(etag.clone()))
            .await
            .expect("get"),
        IssueRead::NotModified
    );
    // Another issue changes: issue 1 is still unchanged.
    fake.close_issue("acme/web", 2, pm_github_fake::StateReason::Completed)
        .expect("close");
    assert_eq!(
        client
            .get_issue(&token(), &web(), 1, Some(etag.clone()))
            .await
            .expect("get"),
        IssueRead::NotModified
    );

    fake.delete_issue("acme/web", 3).expect("delete");
    assert_eq!(
        client
            .get_issue(&token(), &web(), 3, None)
            .await
            .expect("get"),
        IssueRead::Deleted
    );
    assert_eq!(
        client
            .get_issue(&token(), &web(), 99, None)
            .await
            .expect("get"),
        IssueRead::Missing
    );

    let moved = fake
        .transfer_issue("acme/web", 1, "acme/other")
        .expect("transfer");
    // With the old ETag: the 301 is followed and the issue found in its new repository.
    let IssueRead::Found { issue, .. } = client
        .get_issue(&token(), &web(), 1, Some(etag))
        .await
        .expect("get")
    else {
        panic!("expected Found after the transfer");
    };
    assert_eq!(issue.repo_full_name.as_deref(), Some("acme/other"));
    assert_eq!(
        (issue.id, issue.number),
        (
            i64::try_from(moved.id).unwrap(),
            i64::try_from(moved.number).unwrap()
        )
    );
    running.stop().await;
}

#[tokio::test]
async fn one_patch_per_update_and_hooks_registered_once() {
    let (running, fake, client) = world().await;
    let since = time::OffsetDateTime::now_utc();
    let patch = IssuePatch {
        title: Some("Retitled".into()),
        state: Some(IssueState::Closed),
        state_reason: Some("not_planned".into()),
        ..IssuePatch::default()
    };
    let issue = client
        .update_issue(&token(), &web(), 2, &patch)
        .await
        .expect("patch");
    assert_eq!(issue.title, "Retitled");
    assert_eq!(issue.state, IssueState::Closed);
    assert_eq!(issue.state_reason.as_deref(), Some("not_planned"));
    let counts = fake.patch_counts(Some(since));
    assert_eq!(counts.total, 1);
    assert_eq!(counts.issues[0].number, 2);

    let hook = NewHook {
        url: "https://pmhub.example.com/api/v1/webhooks/github".into(),
        secret: SecretString::from("whsec_contract_secret".to_string()),
        events: vec!["issues".into(), "repository".into()],
    };
    let created = client
        .create_hook(&token(), &web(), &hook)
        .await
        .expect("hook");
    assert!(matches!(created, HookRegistration::Created { id } if id > 0));
    assert_eq!(
        client
            .create_hook(&token(), &web(), &hook)
            .await
            .expect("hook"),
        HookRegistration::AlreadyExists
    );
    running.stop().await;
}

#[tokio::test]
async fn an_idle_reconcile_page_is_not_modified() {
    let (running, fake, client) = world().await;
    let request = IssuePageRequest::UpdatedSince {
        repo: web(),
        since: time::OffsetDateTime::now_utc() - time::Duration::days(365),
    };
    let first = client.list_issues(&token(), &request).await.expect("list");
    assert!(!first.not_modified);
    assert_eq!(first.issues.len(), 3);
    let before = fake.request_count();
    let second = client.list_issues(&token(), &request).await.expect("list");
    assert!(second.not_modified);
    assert_eq!(fake.request_count(), before + 1, "one request");
    fake.close_issue("acme/web", 1, pm_github_fake::StateReason::Completed)
        .expect("close");
    let third = client.list_issues(&token(), &request).await.expect("list");
    assert!(!third.not_modified, "a change is news");
    running.stop().await;
}
