//! A local HTTP double of GitHub (wiremock) serving the real payloads from the repository's
//! `tests/fixtures/github/`, and helpers to point the app at it.

use crate::helpers::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TOKEN: &str = "ghp_R3alLookingT0kenForTests0000000001";

pub fn fixture(rel: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/github/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

pub async fn github_double() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture(
            "rest/official-examples/get-user.200.private-and-public-profile.json",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("errors/401.bad-credentials.json")),
        )
        .mount(&server)
        .await;
    // Syncs and pushes first check that the token sees the repository
    // (`GET /repos/{o}/{r}`): every repository exists unless a test mounts otherwise
    // (this mock has the lowest priority).
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(r"^/repos/[^/]+/[^/]+$"))
        .respond_with(move |req: &wiremock::Request| {
            let full_name = req.url.path().trim_start_matches("/repos/").to_string();
            let mut repo =
                fixture("rest/official-examples/create-org-repo.201.full-repository.json");
            repo["full_name"] = serde_json::json!(full_name);
            ResponseTemplate::new(200).set_body_json(repo)
        })
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

pub async fn app_with_github(server: &MockServer, extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![("github.api_url", server.uri())];
    overrides.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let borrowed: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(&borrowed).await
}

pub async fn connect(app: &TestApp, admin: &str) -> Value {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/integrations/github",
            Some(admin),
            Some(json!({"token": TOKEN})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Serves `issues` for octo/hello in pages of 100, with GitHub-shaped Link headers
/// whose next URLs use the `/repositories/{id}/issues` form.
pub async fn serve_issues(server: &MockServer, issues: Vec<Value>) {
    let pages: Vec<Vec<Value>> = issues.chunks(100).map(<[Value]>::to_vec).collect();
    let last = pages.len().max(1);
    for (i, page) in pages.iter().enumerate() {
        let n = i + 1;
        let mut response = ResponseTemplate::new(200).set_body_json(Value::Array(page.clone()));
        if n < last {
            response = response.insert_header(
                "link",
                format!(
                    "<{base}/repositories/42/issues?state=all&per_page=100&page={next}>; rel=\"next\", <{base}/repositories/42/issues?state=all&per_page=100&page={last}>; rel=\"last\"",
                    base = server.uri(),
                    next = n + 1
                )
                .as_str(),
            );
        }
        if n == 1 {
            Mock::given(method("GET"))
                .and(path("/repos/octo/hello/issues"))
                .and(query_param("state", "all"))
                .and(query_param("per_page", "100"))
                .respond_with(response)
                .mount(server)
                .await;
        } else {
            Mock::given(method("GET"))
                .and(path("/repositories/42/issues"))
                .and(query_param("page", n.to_string().as_str()))
                .respond_with(response)
                .mount(server)
                .await;
        }
    }
}

/// `count` issues built from GitHub's official issue example; every `pr_every`-th
/// is a pull request; every 10th closed, every 20th closed as not planned.
pub fn issues(count: i64, pr_every: i64) -> Vec<Value> {
    let template = fixture("rest/official-examples/create-issue.201.json");
    (1..=count)
        .map(|n| {
            let mut issue = template.clone();
            let obj = issue.as_object_mut().unwrap();
            obj.remove("pull_request");
            obj.insert("id".into(), json!(5_000_000 + n));
            obj.insert("number".into(), json!(n));
            obj.insert("title".into(), json!(format!("Issue {n}")));
            obj.insert("html_url".into(), json!(format!("https://github.com/octo/hello/issues/{n}")));
            let (state, reason) = match n {
                n if n % 20 == 0 => ("closed", json!("not_planned")),
                n if n % 10 == 0 => ("closed", json!("completed")),
                _ => ("open", Value::Null),
            };
            obj.insert("state".into(), json!(state));
            obj.insert("state_reason".into(), reason);
            if pr_every > 0 && n % pr_every == 0 {
                obj.insert(
                    "pull_request".into(),
                    json!({"url": "u", "html_url": format!("https://github.com/octo/hello/pull/{n}"), "diff_url": "d", "patch_url": "p"}),
                );
            }
            issue
        })
        .collect()
}
