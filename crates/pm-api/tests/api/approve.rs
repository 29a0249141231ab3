//! Approval creates the project's private repository on GitHub, or says why not;
//! the approval itself always stands.

use crate::github_double::*;
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn submitted_project(app: &TestApp, admin: &str) -> (String, String) {
    let p = app.create_project(admin, "Billing").await;
    let slug = p["slug"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{slug}");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{base}/spec/submit"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (slug, base)
}

fn created_repo(full_name: &str) -> Value {
    let mut repo = fixture("rest/official-examples/create-org-repo.201.full-repository.json");
    repo["full_name"] = json!(full_name);
    repo["private"] = json!(true);
    repo["html_url"] = json!(format!("https://github.com/{full_name}"));
    repo
}

async fn approve(app: &TestApp, token: &str, base: &str) -> (StatusCode, Value) {
    app.call(Method::POST, &format!("{base}/approve"), Some(token), None)
        .await
}

async fn project_repo(app: &TestApp, token: &str, base: &str) -> Value {
    app.call(Method::GET, base, Some(token), None).await.1["github_repo"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_creates_a_private_repository_under_the_org() {
    let server = github_double().await;
    let app = app_with_github(&server, &[("github.org", "acme-projects")]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let (slug, base) = submitted_project(&app, &admin).await;
    Mock::given(method("POST"))
        .and(path("/orgs/acme-projects/repos"))
        .and(body_partial_json(json!({"name": slug, "private": true})))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(created_repo(&format!("acme-projects/{slug}"))),
        )
        .expect(1)
        .mount(&server)
        .await;

    let (status, body) = approve(&app, &admin, &base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["status"], "review");
    assert_eq!(body["repository"]["outcome"], "created");
    assert_eq!(
        body["repository"]["full_name"],
        format!("acme-projects/{slug}")
    );
    assert!(body["repository"]["error_code"].is_null());
    assert_eq!(
        project_repo(&app, &admin, &base).await,
        format!("acme-projects/{slug}")
    );

    // Approving again: idempotent, and no second repository.
    let (status, again) = approve(&app, &admin, &base).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["repository"]["outcome"], "already_set");
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_with_a_linked_repository_calls_nothing() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let (_, base) = submitted_project(&app, &admin).await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/existing"))
        .respond_with(ResponseTemplate::new(200).set_body_json(created_repo("octo/existing")))
        .mount(&server)
        .await;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("{base}/github-repo"),
            Some(&admin),
            Some(json!({"full_name": "octo/existing"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    Mock::given(method("POST"))
        .and(path("/orgs/auditmos-projects/repos"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let (status, body) = approve(&app, &admin, &base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["repository"]["outcome"], "already_set");
    assert_eq!(body["repository"]["full_name"], "octo/existing");
}

async fn approval_failure(server: &MockServer, response: ResponseTemplate, expected_code: &str) {
    let app = app_with_github(server, &[]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let (_, base) = submitted_project(&app, &admin).await;
    Mock::given(method("POST"))
        .and(path("/orgs/auditmos-projects/repos"))
        .respond_with(response)
        .mount(server)
        .await;
    let (status, body) = approve(&app, &admin, &base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["status"], "review");
    assert_eq!(body["repository"]["outcome"], "failed");
    assert_eq!(body["repository"]["error_code"], expected_code);
    assert!(body["repository"]["full_name"].is_null());
    assert!(project_repo(&app, &admin, &base).await.is_null());
    let (_, spec) = app
        .call(Method::GET, &format!("{base}/spec"), Some(&admin), None)
        .await;
    assert_eq!(spec["status"], "review", "the approval was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_administration_permission_leaves_the_approval_standing() {
    let server = github_double().await;
    approval_failure(
        &server,
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": "Resource not accessible by personal access token"})),
        "GITHUB_FORBIDDEN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persistent_name_clash_leaves_the_approval_standing() {
    let server = github_double().await;
    approval_failure(
        &server,
        ResponseTemplate::new(422)
            .set_body_json(fixture("errors/422.create-repo.name-already-exists.json")),
        "GITHUB_REPO_NAME_TAKEN",
    )
    .await;
    let creates = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/orgs/auditmos-projects/repos")
        .count();
    assert_eq!(creates, 2, "one try and one retry with a suffix");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_being_down_leaves_the_approval_standing() {
    let server = github_double().await;
    approval_failure(&server, ResponseTemplate::new(503), "GITHUB_UNAVAILABLE").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_any_token_the_approval_stands_and_says_so() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    let (_, base) = submitted_project(&app, &admin).await;
    let (status, body) = approve(&app, &admin, &base).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["repository"]["outcome"], "failed");
    assert_eq!(
        body["repository"]["error_code"],
        "INTEGRATION_NOT_CONNECTED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_get_403_and_other_workspaces_404_with_nothing_called() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let stranger = app.bootstrap("other").await;
    connect(&app, &admin).await;
    let (_, base) = submitted_project(&app, &admin).await;
    Mock::given(method("POST"))
        .and(path("/orgs/auditmos-projects/repos"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let (status, body) = approve(&app, &member, &base).await;
    assert_problem(status, &body, 403, "FORBIDDEN");
    let (status, body) = approve(&app, &stranger, &base).await;
    assert_problem(status, &body, 404, "NOT_FOUND");
    let (_, spec) = app
        .call(Method::GET, &format!("{base}/spec"), Some(&admin), None)
        .await;
    assert_eq!(spec["status"], "interviewing");
}
