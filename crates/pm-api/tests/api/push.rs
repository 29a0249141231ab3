//! Pushing tasks to GitHub as issues: once per task, whatever happens.

use crate::github_double::*;
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers `POST /repos/octo/hello/issues` like GitHub: 201 with an issue that
/// echoes the title and body; after `limit_after` creates, a secondary rate limit.
struct CreateIssue {
    next: AtomicI64,
    limit_after: Option<i64>,
}

impl Respond for CreateIssue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        if self.limit_after.is_some_and(|limit| n > limit) {
            return ResponseTemplate::new(403)
                .set_body_json(fixture("errors/403.secondary-rate-limit.2022-form.json"));
        }
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        let mut issue = fixture("rest/official-examples/create-issue.201.json");
        let obj = issue.as_object_mut().unwrap();
        obj.remove("pull_request");
        obj.insert("id".into(), json!(7_000_000 + n));
        obj.insert("number".into(), json!(n));
        obj.insert("title".into(), sent["title"].clone());
        obj.insert("body".into(), sent["body"].clone());
        obj.insert(
            "html_url".into(),
            json!(format!("https://github.com/octo/hello/issues/{n}")),
        );
        ResponseTemplate::new(201).set_body_json(issue)
    }
}

async fn mount_creates(server: &MockServer, limit_after: Option<i64>) {
    Mock::given(method("POST"))
        .and(path("/repos/octo/hello/issues"))
        .respond_with(CreateIssue {
            next: AtomicI64::new(1),
            limit_after,
        })
        .mount(server)
        .await;
}

/// A project linked to octo/hello with `n` manual tasks; returns its slug.
async fn project_with_tasks(app: &TestApp, admin: &str, server: &MockServer, n: usize) -> String {
    let mut repo = fixture("rest/official-examples/create-org-repo.201.full-repository.json");
    repo["full_name"] = json!("octo/hello");
    Mock::given(method("GET"))
        .and(path("/repos/octo/hello"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo))
        .mount(server)
        .await;
    let p = app.create_project(admin, "Push").await;
    let slug = p["slug"].as_str().unwrap().to_string();
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/projects/{slug}/github-repo"),
            Some(admin),
            Some(json!({"full_name": "octo/hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for i in 1..=n {
        let (status, _) = app
            .create_task(
                admin,
                &slug,
                json!({"title": format!("Task {i}"), "description": "details", "labels": ["api"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    slug
}

fn creates(requests: &[Request]) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/repos/octo/hello/issues")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn n_tasks_become_n_linked_issues_and_a_second_push_creates_none() {
    let server = github_double().await;
    let app = app_with_github(&server, &[("github.push_interval_ms", "0")]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    mount_creates(&server, None).await;
    let slug = project_with_tasks(&app, &admin, &server, 3).await;
    let push = format!("/api/v1/projects/{slug}/github/push");

    let (status, report) = app.call(Method::POST, &push, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["created"].as_i64(), report["skipped"].as_i64()),
        (Some(3), Some(0))
    );
    assert_eq!(report["repo"], "octo/hello");
    let sent = creates(&server.received_requests().await.unwrap());
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0]["title"], "Task 1");
    assert_eq!(sent[0]["labels"], json!(["api"]));
    let body = sent[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with("details") && body.contains("<!-- pmhub:task:"),
        "{body}"
    );

    let (_, task) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks/2"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(task["external_links"][0]["reference"], "octo/hello#2");
    assert_eq!(
        task["external_links"][0]["url"],
        "https://github.com/octo/hello/issues/2"
    );

    let (_, again) = app.call(Method::POST, &push, Some(&admin), None).await;
    assert_eq!(
        (again["created"].as_i64(), again["skipped"].as_i64()),
        (Some(0), Some(3))
    );
    assert_eq!(creates(&server.received_requests().await.unwrap()).len(), 3);

    let (_, runs) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/sync-runs"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(runs["items"][0]["kind"], "push");
    assert_eq!(runs["items"][1]["created"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_githubs_201_is_reconciled_without_a_duplicate() {
    let server = github_double().await;
    let app = app_with_github(&server, &[("github.push_interval_ms", "0")]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let slug = project_with_tasks(&app, &admin, &server, 1).await;
    let (_, task) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks/1"),
            Some(&admin),
            None,
        )
        .await;
    let task_id = task["id"].as_str().unwrap().to_string();

    // The state a crash leaves: the intent recorded, the issue created on GitHub
    // (with the marker), the link never written.
    app.sql(&format!(
        "INSERT INTO sync_runs (id, project_id, kind, repo, status, started_at)
           SELECT '{run}', project_id, 'push', 'octo/hello', 'running', now() FROM tasks WHERE id = '{task_id}';
         INSERT INTO push_intents (task_id, project_id, run_id)
           SELECT id, project_id, '{run}' FROM tasks WHERE id = '{task_id}';",
        run = uuid_v7()
    ))
    .await;
    let mut existing = fixture("rest/official-examples/create-issue.201.json");
    existing.as_object_mut().unwrap().remove("pull_request");
    existing["id"] = json!(8_800_001);
    existing["number"] = json!(41);
    existing["html_url"] = json!("https://github.com/octo/hello/issues/41");
    existing["body"] = json!(format!("details\n\n<!-- pmhub:task:{task_id} -->"));
    Mock::given(method("GET"))
        .and(path("/repos/octo/hello/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([existing])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/hello/issues"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;

    let (status, report) = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{slug}/github/push"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["created"].as_i64(), report["skipped"].as_i64()),
        (Some(0), Some(1))
    );
    let (_, task) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks/1"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(task["external_links"][0]["reference"], "octo/hello#41");
    assert_eq!(app.count("push_intents").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_mid_push_stops_cleanly_with_counts_recorded() {
    let server = github_double().await;
    let app = app_with_github(&server, &[("github.push_interval_ms", "0")]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    mount_creates(&server, Some(2)).await;
    let slug = project_with_tasks(&app, &admin, &server, 4).await;
    let push = format!("/api/v1/projects/{slug}/github/push");

    // The rate limit parks the push (`waiting`) past the request's wait: 202 at once.
    let (status, parked) = app.call(Method::POST, &push, Some(&admin), None).await;
    assert_eq!(status, 202, "{parked}");
    assert_eq!(parked["status"], "waiting", "{parked}");
    assert!(parked["resumes_at"].is_string());
    let (_, runs) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/sync-runs"),
            Some(&admin),
            None,
        )
        .await;
    let run = &runs["items"][0];
    assert_eq!(
        (run["status"].as_str(), run["error_code"].as_str()),
        (Some("waiting"), Some("GITHUB_RATE_LIMITED"))
    );
    assert_eq!(run["created"], 2);
    assert_eq!(run["progress"]["tasks_done"], 2);
    assert_eq!(run["progress"]["tasks_remaining"], 2);
    assert_eq!(app.count("external_links").await, 2);
    assert_eq!(
        app.count("push_intents").await,
        0,
        "a refused create leaves no intent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn push_needs_a_linked_repository_and_a_token_and_respects_tenancy() {
    let server = github_double().await;
    let app = app_with_github(&server, &[("github.push_interval_ms", "0")]).await;
    let admin = app.bootstrap("acme").await;
    let stranger = app.bootstrap("evil").await;
    let p = app.create_project(&admin, "Unlinked").await;
    let push = format!(
        "/api/v1/projects/{}/github/push",
        p["slug"].as_str().unwrap()
    );
    let (status, problem) = app.call(Method::POST, &push, Some(&admin), None).await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    let (status, problem) = app.call(Method::POST, &push, Some(&stranger), None).await;
    assert_problem(status, &problem, 404, "NOT_FOUND");
    assert_eq!(app.count("sync_runs").await, 0);
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}
