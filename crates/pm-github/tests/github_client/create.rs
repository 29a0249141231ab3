//! `create_issue` and `create_org_repo`: request bodies, parsing of the official
//! 201 examples, the name-clash retry, and POSTs never repeated after they may
//! have reached GitHub.

use crate::support::*;
use pm_integrations::{GithubApi, IssueState, NewIssue, NewRepoOptions};
use pm_kernel::GithubError;
use serde_json::{Value, json as json_value};
use std::time::Duration;
use wiremock::matchers::{body_json, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORG: &str = "auditmos-projects";
const ORG_REPOS: &str = "/orgs/auditmos-projects/repos";

async fn create_repo(
    server: &MockServer,
    name: &str,
) -> Result<pm_integrations::GithubRepo, GithubError> {
    client(server)
        .create_org_repo(&token(), ORG, name, &NewRepoOptions::default())
        .await
}

fn sent_names(requests: &[wiremock::Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn create_issue_sends_title_body_labels_and_parses_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .and(body_json(json_value!({
            "title": "Found a bug",
            "body": "I'm having a problem with this.",
            "labels": ["bug"]
        })))
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-issue.201.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let issue = client(&server)
        .create_issue(
            &token(),
            &repo("octocat/Hello-World"),
            &NewIssue {
                title: "Found a bug".into(),
                body: "I'm having a problem with this.".into(),
                labels: vec!["bug".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!((issue.id, issue.number), (1, 1347));
    assert_eq!(issue.title, "Found a bug");
    assert_eq!(issue.state, IssueState::Open);
    assert_eq!(issue.labels, vec!["bug".to_string()]);
    assert_eq!(
        issue.html_url,
        "https://github.com/octocat/Hello-World/issues/1347"
    );
    let sent = requests(&server).await;
    assert_eq!(
        sent[0].headers.get("content-type").unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn create_issue_parses_the_recorded_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json(
            201,
            fixture("rest/recorded/create-issue.201.body.json"),
        ))
        .mount(&server)
        .await;
    let issue = client(&server)
        .create_issue(
            &token(),
            &repo("octokit-fixture-org/add-labels"),
            &NewIssue {
                title: "Issue without a label".into(),
                body: String::new(),
                labels: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!((issue.id, issue.number), (1_308_967_529, 1));
    assert_eq!(issue.body, None);
    assert!(issue.labels.is_empty());
}

#[tokio::test]
async fn create_org_repo_asks_for_a_private_repo_and_parses_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ORG_REPOS))
        .and(body_json(json_value!({
            "name": "Hello-World",
            "private": true,
            "description": "This your first repo!"
        })))
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-org-repo.201.full-repository.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let options = NewRepoOptions {
        description: Some("This your first repo!".into()),
    };
    let created = client(&server)
        .create_org_repo(&token(), ORG, "Hello-World", &options)
        .await
        .unwrap();
    assert_eq!(created.id, 1_296_269);
    assert_eq!(created.full_name, "octocat/Hello-World");
    assert_eq!(created.html_url, "https://github.com/octocat/Hello-World");
    assert!(!created.private, "taken from the answer as is");
    assert_eq!(created.default_branch.as_deref(), Some("master"));
}

#[tokio::test]
async fn create_org_repo_without_description_sends_none_and_parses_recorded_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ORG_REPOS))
        .and(body_json(
            json_value!({"name": "tmp-scenario", "private": true}),
        ))
        .respond_with(json(
            201,
            fixture("rest/recorded/create-org-repo.201.body.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let created = create_repo(&server, "tmp-scenario").await.unwrap();
    assert_eq!(
        created.full_name,
        "octokit-fixture-org/tmp-scenario-errors-20220719043735842-akvrn"
    );
    assert_eq!(created.default_branch.as_deref(), Some("main"));
}

#[tokio::test]
async fn name_clash_is_retried_once_with_a_random_suffix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ORG_REPOS))
        .and(body_partial_json(
            json_value!({"name": "billing", "private": true}),
        ))
        .respond_with(json(
            422,
            fixture("errors/422.create-repo.name-already-exists.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ORG_REPOS))
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-org-repo.201.full-repository.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let created = create_repo(&server, "billing").await.unwrap();
    assert_eq!(created.full_name, "octocat/Hello-World");

    let sent = requests(&server).await;
    let names = sent_names(&sent);
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], "billing");
    let suffix = names[1]
        .strip_prefix("billing-")
        .expect("renamed as billing-xxxx");
    assert_eq!(suffix.len(), 4, "{}", names[1]);
    assert!(
        suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{}",
        names[1]
    );
    assert_eq!(sent[1].body_json::<Value>().unwrap()["private"], true);
}

#[tokio::test]
async fn second_name_clash_is_repo_name_taken() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ORG_REPOS))
        .respond_with(json(
            422,
            fixture("errors/422.create-repo.name-already-exists.json"),
        ))
        .mount(&server)
        .await;
    let err = create_repo(&server, "billing").await.unwrap_err();
    assert_eq!(
        err,
        GithubError::RepoNameTaken {
            name: "billing".into()
        }
    );
    assert_eq!(request_count(&server).await, 2, "one retry, no more");
}

#[tokio::test]
async fn other_validation_failure_is_rejected_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ORG_REPOS))
        .respond_with(json(
            422,
            fixture("rest/recorded/create-label.422.validation-failed-invalid-color.body.json"),
        ))
        .mount(&server)
        .await;
    let err = create_repo(&server, "billing").await.unwrap_err();
    let GithubError::Rejected { message, .. } = &err else {
        panic!("expected Rejected, got {err:?}");
    };
    assert!(message.starts_with("Validation Failed"), "{message}");
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn create_org_repo_unauthorized_and_forbidden() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json(401, fixture("errors/401.bad-credentials.json")))
        .mount(&server)
        .await;
    assert_eq!(
        create_repo(&server, "x").await.unwrap_err(),
        GithubError::Unauthorized
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json(
            403,
            r#"{"message":"You need admin access to the organization before adding a repository to it.","status":"403"}"#,
        ))
        .mount(&server)
        .await;
    let err = create_repo(&server, "x").await.unwrap_err();
    assert!(
        matches!(err, GithubError::Forbidden { ref message } if message.contains("admin access")),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn posts_are_not_repeated_after_a_server_error_or_time_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let err = create_repo(&server, "x").await.unwrap_err();
    assert!(matches!(err, GithubError::Unavailable { .. }), "{err:?}");
    assert_eq!(
        request_count(&server).await,
        1,
        "the repository may have been created"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            json(201, fixture("rest/official-examples/create-issue.201.json"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let mut config = config_for(&server.uri());
    config.request_timeout = Duration::from_millis(150);
    let err = client_with(config)
        .create_issue(
            &token(),
            &repo("o/r"),
            &NewIssue {
                title: "t".into(),
                body: "b".into(),
                labels: vec![],
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GithubError::Unavailable { .. }), "{err:?}");
    assert_eq!(
        request_count(&server).await,
        1,
        "the issue may have been created"
    );
}

#[tokio::test]
async fn invalid_org_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let err = client(&server)
        .create_org_repo(&token(), "../admin", "x", &NewRepoOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, GithubError::Rejected { .. }), "{err:?}");
    assert_eq!(request_count(&server).await, 0);
}
