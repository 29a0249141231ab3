//! The two-way sync calls: `get_issue` (ETag, 304, 410, 404, pull requests, a
//! transferred issue's 301), `update_issue` (PATCH body with only the set fields,
//! one bounded retry, redirects of writes) and `create_hook` (body, created,
//! already exists, no rights, the secret kept out of everything).

use crate::support::*;
use pm_integrations::{GithubApi, HookRegistration, IssuePatch, IssueRead, IssueState, NewHook};
use pm_kernel::GithubError;
use secrecy::SecretString;
use serde_json::{Value, json as json_value};
use wiremock::matchers::{body_json, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUE_PATH: &str = "/repos/octocat/Hello-World/issues/1347";
/// A strong ETag as GitHub sends them (quoted, as received).
const ETAG: &str = "\"6ea4ba6f1e8dc6ac0d1f3b5c1d0f1e2c7f1b2a3c4d5e6f708192a3b4c5d6e7f8\"";
const SECRET: &str = "whsec_DoNotLeakThis0123456789abcdef";
const HOOK_PATH: &str = "/repos/octocat/Hello-World/hooks";

/// The official issue example (used by GitHub's spec for GET, create and update)
/// as a plain issue with `repository_url` pointing at `full_name` on `api`.
fn issue_in(api: &str, full_name: &str) -> Value {
    let mut issue = plain_issue(1, 1347);
    issue["repository_url"] = format!("{api}/repos/{full_name}").into();
    issue
}

async fn get(server: &MockServer, etag: Option<&str>) -> Result<IssueRead, GithubError> {
    client(server)
        .get_issue(
            &token(),
            &repo("octocat/Hello-World"),
            1347,
            etag.map(str::to_string),
        )
        .await
}

#[tokio::test]
async fn found_issue_carries_its_etag_and_repository() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(
            json(
                200,
                issue_in(&server.uri(), "octocat/Hello-World").to_string(),
            )
            .insert_header("etag", ETAG),
        )
        .expect(1)
        .mount(&server)
        .await;
    let IssueRead::Found { issue, etag } = get(&server, None).await.unwrap() else {
        panic!("expected Found");
    };
    assert_eq!((issue.id, issue.number), (1, 1347));
    assert_eq!(issue.title, "Found a bug");
    assert_eq!(issue.state, IssueState::Open);
    assert_eq!(issue.repo_full_name.as_deref(), Some("octocat/Hello-World"));
    assert!(issue.updated_at.is_some());
    assert_eq!(etag.as_deref(), Some(ETAG));
    let sent = requests(&server).await;
    assert!(sent[0].headers.get("if-none-match").is_none());
}

#[tokio::test]
async fn the_official_example_parses_as_is_with_its_own_repository() {
    // Unchanged example: it carries a `pull_request` object, so it is a PR…
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(json(
            200,
            fixture("rest/official-examples/create-issue.201.json"),
        ))
        .mount(&server)
        .await;
    assert_eq!(get(&server, None).await.unwrap(), IssueRead::Missing);

    // …and without it, its `repository_url` names octocat/Hello-World.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(json(200, plain_issue(1, 1347).to_string()))
        .mount(&server)
        .await;
    let IssueRead::Found { issue, etag } = get(&server, None).await.unwrap() else {
        panic!("expected Found");
    };
    assert_eq!(issue.repo_full_name.as_deref(), Some("octocat/Hello-World"));
    assert_eq!(etag, None, "no ETag header, no ETag");
}

#[tokio::test]
async fn not_modified_sends_the_etag_and_reads_304() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .and(header("if-none-match", ETAG))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", ETAG))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        get(&server, Some(ETAG)).await.unwrap(),
        IssueRead::NotModified
    );
    assert_eq!(request_count(&server).await, 1, "a 304 is not retried");
}

#[tokio::test]
async fn gone_is_deleted_but_disabled_issues_are_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(json(410, fixture("errors/410.get-issue.deleted.json")))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(get(&server, Some(ETAG)).await.unwrap(), IssueRead::Deleted);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(json(
            410,
            r#"{"message":"Issues are disabled for this repo","documentation_url":"https://docs.github.com/rest/issues/issues#get-an-issue","status":"410"}"#,
        ))
        .mount(&server)
        .await;
    assert_eq!(
        get(&server, None).await.unwrap_err(),
        GithubError::NotFound {
            message: "Issues are disabled for this repo".into()
        }
    );
}

#[tokio::test]
async fn not_found_is_missing_and_other_failures_stay_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(json(
            404,
            r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/issues/issues#get-an-issue","status":"404"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(get(&server, None).await.unwrap(), IssueRead::Missing);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(json(401, fixture("errors/401.bad-credentials.json")))
        .mount(&server)
        .await;
    assert_eq!(
        get(&server, None).await.unwrap_err(),
        GithubError::Unauthorized
    );

    let err = client(&server)
        .get_issue(&token(), &repo("octocat/Hello-World"), 0, None)
        .await
        .unwrap_err();
    assert!(matches!(err, GithubError::Rejected { .. }), "{err:?}");
}

#[tokio::test]
async fn a_transferred_issue_is_followed_with_the_token_to_its_new_repository() {
    let server = MockServer::start().await;
    let new_location = "/repositories/700000002/issues/7";
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("location", format!("{}{new_location}", server.uri()).as_str())
                .set_body_raw(
                    r#"{"message":"Moved Permanently","url":"…","documentation_url":"https://docs.github.com/v3/#http-redirects"}"#,
                    "application/json",
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut moved = issue_in(&server.uri(), "octocat/Elsewhere");
    moved["number"] = 7.into();
    Mock::given(method("GET"))
        .and(path(new_location))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json(200, moved.to_string()).insert_header("etag", ETAG))
        .expect(1)
        .mount(&server)
        .await;

    let IssueRead::Found { issue, etag } = get(&server, None).await.unwrap() else {
        panic!("expected Found");
    };
    assert_eq!(issue.number, 7);
    assert_eq!(issue.repo_full_name.as_deref(), Some("octocat/Elsewhere"));
    assert_eq!(etag.as_deref(), Some(ETAG));
}

#[tokio::test]
async fn a_304_behind_a_redirect_is_asked_again_without_the_etag() {
    let server = MockServer::start().await;
    let new_location = "/repositories/700000002/issues/7";
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(ResponseTemplate::new(301).insert_header(
            "location",
            format!("{}{new_location}", server.uri()).as_str(),
        ))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(new_location))
        .and(header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(new_location))
        .respond_with(json(
            200,
            issue_in(&server.uri(), "octocat/Elsewhere").to_string(),
        ))
        .with_priority(5)
        .expect(1)
        .mount(&server)
        .await;
    let read = get(&server, Some(ETAG)).await.unwrap();
    let IssueRead::Found { issue, .. } = read else {
        panic!("expected Found, got {read:?}");
    };
    assert_eq!(issue.repo_full_name.as_deref(), Some("octocat/Elsewhere"));
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUE_PATH))
        .respond_with(ResponseTemplate::new(301).insert_header(
            "location",
            format!("{}/repositories/1/issues/1", elsewhere.uri()).as_str(),
        ))
        .mount(&api)
        .await;
    let err = get(&api, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            GithubError::Unavailable {
                status: Some(301),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(request_count(&elsewhere).await, 0, "nothing sent elsewhere");
}

fn close_completed() -> IssuePatch {
    IssuePatch {
        state: Some(IssueState::Closed),
        state_reason: Some("completed".into()),
        ..IssuePatch::default()
    }
}

async fn patch(
    server: &MockServer,
    p: &IssuePatch,
) -> Result<pm_integrations::GithubIssue, GithubError> {
    client(server)
        .update_issue(&token(), &repo("octocat/Hello-World"), 1347, p)
        .await
}

#[tokio::test]
async fn patch_sends_only_the_set_fields_and_returns_githubs_issue() {
    let server = MockServer::start().await;
    let mut closed = issue_in(&server.uri(), "octocat/Hello-World");
    closed["state"] = "closed".into();
    closed["state_reason"] = "completed".into();
    Mock::given(method("PATCH"))
        .and(path(ISSUE_PATH))
        .and(body_json(
            json_value!({"state": "closed", "state_reason": "completed"}),
        ))
        .respond_with(json(200, closed.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let issue = patch(&server, &close_completed()).await.unwrap();
    assert_eq!(issue.state, IssueState::Closed);
    assert_eq!(issue.state_reason.as_deref(), Some("completed"));

    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_PATH))
        .and(body_json(
            json_value!({"title": "Retitled", "labels": ["bug", "ui"]}),
        ))
        .respond_with(json(200, plain_issue(1, 1347).to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let retitle = IssuePatch {
        title: Some("Retitled".into()),
        labels: Some(vec!["bug".into(), "ui".into()]),
        ..IssuePatch::default()
    };
    patch(&server, &retitle).await.unwrap();
    let sent = requests(&server).await;
    assert_eq!(
        sent[0].headers.get("content-type").unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn an_empty_patch_sends_nothing() {
    let server = MockServer::start().await;
    let err = patch(&server, &IssuePatch::default()).await.unwrap_err();
    assert!(matches!(err, GithubError::Rejected { status: None, .. }));
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn a_refused_patch_is_rejected_with_githubs_message() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_PATH))
        .respond_with(json(
            422,
            fixture("rest/recorded/create-label.422.validation-failed-invalid-color.body.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        patch(&server, &close_completed()).await.unwrap_err(),
        GithubError::Rejected {
            status: Some(422),
            message: "Validation Failed: Label.color invalid".into()
        }
    );
}

#[tokio::test]
async fn a_patch_is_retried_once_after_a_server_error_and_no_more() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_PATH))
        .respond_with(ResponseTemplate::new(502))
        .expect(2)
        .mount(&server)
        .await;
    let err = patch(&server, &close_completed()).await.unwrap_err();
    assert!(
        matches!(
            err,
            GithubError::Unavailable {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    // max_retries is 3: a GET would have made 4 attempts.
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn a_patch_follows_a_307_with_its_body_but_not_a_301() {
    let server = MockServer::start().await;
    // A renamed repository: GitHub answers writes with 307 (octokit/fixtures
    // rename-repository, API-FACTS §2); method and body are kept.
    Mock::given(method("PATCH"))
        .and(path(ISSUE_PATH))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/repositories/1296269/issues/1347", server.uri()).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repositories/1296269/issues/1347"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(
            json_value!({"state": "closed", "state_reason": "completed"}),
        ))
        .respond_with(json(200, plain_issue(1, 1347).to_string()))
        .expect(1)
        .mount(&server)
        .await;
    patch(&server, &close_completed()).await.unwrap();

    // A 301 to a write: the issue moved (transferred); not written there.
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_PATH))
        .respond_with(ResponseTemplate::new(301).insert_header(
            "location",
            format!("{}/repositories/2/issues/1", server.uri()).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = patch(&server, &close_completed()).await.unwrap_err();
    assert!(
        matches!(
            err,
            GithubError::Unavailable {
                status: Some(301),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 1, "the target was not asked");
}

fn new_hook() -> NewHook {
    NewHook {
        url: "https://pmhub.example.com/api/v1/webhooks/github".into(),
        secret: SecretString::from(SECRET.to_string()),
        events: vec!["issues".into(), "repository".into()],
    }
}

async fn hook(server: &MockServer) -> Result<HookRegistration, GithubError> {
    client(server)
        .create_hook(&token(), &repo("octocat/Hello-World"), &new_hook())
        .await
}

#[tokio::test]
async fn create_hook_sends_a_json_web_hook_with_the_secret() {
    let server = MockServer::start().await;
    // GitHub answers with the hook, the same object its ping delivery carries.
    let created = fixture_json("webhooks/ping.json")["hook"].clone();
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(body_json(json_value!({
            "name": "web",
            "active": true,
            "events": ["issues", "repository"],
            "config": {
                "url": "https://pmhub.example.com/api/v1/webhooks/github",
                "content_type": "json",
                "secret": SECRET,
                "insecure_ssl": "0"
            }
        })))
        .respond_with(json(201, created.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        hook(&server).await.unwrap(),
        HookRegistration::Created { id: 109_948_940 }
    );
}

#[tokio::test]
async fn an_existing_hook_is_already_exists() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(json(
            422,
            fixture("errors/422.create-hook.already-exists.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        hook(&server).await.unwrap(),
        HookRegistration::AlreadyExists
    );
}

#[tokio::test]
async fn no_admin_rights_are_forbidden_or_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(json(
            404,
            r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook","status":"404"}"#,
        ))
        .mount(&server)
        .await;
    assert!(matches!(
        hook(&server).await.unwrap_err(),
        GithubError::NotFound { .. }
    ));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(json(
            403,
            r#"{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook","status":"403"}"#,
        ).insert_header("x-ratelimit-remaining", "4999"))
        .mount(&server)
        .await;
    assert_eq!(
        hook(&server).await.unwrap_err(),
        GithubError::Forbidden {
            message: "Resource not accessible by personal access token".into()
        }
    );
}

#[tokio::test]
async fn the_secret_never_shows_in_debug_or_errors_and_a_hook_is_not_reposted() {
    assert!(!format!("{:?}", new_hook()).contains(SECRET));

    // A server that echoes the secret back in its message.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(json(
            422,
            json_value!({
                "message": format!("Validation Failed for secret {SECRET}"),
                "errors": [{"resource": "Hook", "code": "custom", "message": format!("secret {SECRET} is weak")}]
            })
            .to_string(),
        ))
        .mount(&server)
        .await;
    let err = hook(&server).await.unwrap_err();
    let text = format!("{err:?} {err}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("[redacted]"), "{text}");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = hook(&server).await.unwrap_err();
    assert!(!format!("{err:?}").contains(SECRET));
    assert_eq!(request_count(&server).await, 1, "a POST is never repeated");
}
