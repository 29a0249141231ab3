//! The GitHub endpoints against the local GitHub double.

use crate::github_double::*;
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn connect_verifies_stores_and_never_shows_the_token() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    let body = connect(&app, &admin).await;
    assert_eq!(body["provider"], "github");
    assert_eq!(body["account_login"], "octocat");
    assert_eq!(body["token_hint"], "0001");
    assert!(!body.to_string().contains(TOKEN));

    let (status, shown) = app
        .call(
            Method::GET,
            "/api/v1/integrations/github",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["token_hint"], "0001");
    assert!(!shown.to_string().contains(TOKEN));

    // A second connect with a bad token: GitHub says 401, nothing is replaced.
    let (status, problem) = app
        .call(
            Method::POST,
            "/api/v1/integrations/github",
            Some(&admin),
            Some(json!({"token": "ghp_revoked"})),
        )
        .await;
    assert_problem(status, &problem, 422, "GITHUB_UNAUTHORIZED");
    let (_, still) = app
        .call(
            Method::GET,
            "/api/v1/integrations/github",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(still["token_hint"], "0001");

    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/integrations/github",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = app
        .call(
            Method::GET,
            "/api/v1/integrations/github",
            Some(&admin),
            None,
        )
        .await;
    assert_problem(status, &problem, 404, "INTEGRATION_NOT_CONNECTED");
    assert_eq!(app.count("github_credentials").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_is_per_workspace_and_admin_only() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let other = app.bootstrap("other").await;
    connect(&app, &admin).await;

    let (status, problem) = app
        .call(
            Method::POST,
            "/api/v1/integrations/github",
            Some(&member),
            Some(json!({"token": TOKEN})),
        )
        .await;
    assert_problem(status, &problem, 403, "FORBIDDEN");
    let (status, problem) = app
        .call(
            Method::DELETE,
            "/api/v1/integrations/github",
            Some(&member),
            None,
        )
        .await;
    assert_problem(status, &problem, 403, "FORBIDDEN");
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/integrations/github",
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app
        .call(
            Method::GET,
            "/api/v1/integrations/github",
            Some(&other),
            None,
        )
        .await;
    assert_problem(status, &problem, 404, "INTEGRATION_NOT_CONNECTED");
    let (status, problem) = app
        .call(
            Method::DELETE,
            "/api/v1/integrations/github",
            Some(&other),
            None,
        )
        .await;
    assert_problem(status, &problem, 404, "INTEGRATION_NOT_CONNECTED");
    assert_eq!(app.count("github_credentials").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_connect_bodies_do_not_echo_the_token() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    for body in [
        format!("\"{TOKEN}\""),
        format!("{{\"token\": \"{TOKEN}\", \"extra\": 1}}"),
        format!("{{\"tokn\": \"{TOKEN}\"}}"),
        format!("{{\"token\": \"{TOKEN}"),
        "{\"token\": \"has spaces in it\"}".to_string(),
    ] {
        let resp = app
            .raw(
                Method::POST,
                "/api/v1/integrations/github",
                &admin,
                Some("application/json"),
                body,
            )
            .await;
        assert!(resp.status().is_client_error());
        let text = resp.text().await.unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("VALIDATION_FAILED"), "{text}");
    }
    assert_eq!(app.count("github_credentials").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_any_token_github_calls_are_409_not_connected() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    let (status, problem) = app
        .call(Method::GET, "/api/v1/github/repos", Some(&admin), None)
        .await;
    assert_problem(status, &problem, 409, "INTEGRATION_NOT_CONNECTED");
    let p = app.create_project(&admin, "P").await;
    let path = format!(
        "/api/v1/projects/{}/github/sync",
        p["slug"].as_str().unwrap()
    );
    let (status, problem) = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"repo": "octo/hello"})),
        )
        .await;
    assert_problem(status, &problem, 409, "INTEGRATION_NOT_CONNECTED");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_token_is_the_fallback() {
    let server = github_double().await;
    let app = app_with_github(&server, &[("github.token", TOKEN)]).await;
    let admin = app.bootstrap("acme").await;
    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("rest/official-examples/list-user-repos.200.json")),
        )
        .mount(&server)
        .await;
    let (status, repos) = app
        .call(Method::GET, "/api/v1/github/repos", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{repos}");
    assert_eq!(repos["items"][0]["full_name"], "octocat/Hello-World");
    assert!(repos["items"][0]["private"].is_boolean());
    assert!(repos["items"][0]["html_url"].is_string());
    assert!(repos["next_cursor"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_a_repository_is_checked_on_github() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Linked").await;
    let base = format!(
        "/api/v1/projects/{}/github-repo",
        p["slug"].as_str().unwrap()
    );
    let mut repo = fixture("rest/official-examples/create-org-repo.201.full-repository.json");
    repo["full_name"] = json!("octo/hello");
    Mock::given(method("GET"))
        .and(path("/repos/octo/hello"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/secret"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
        ))
        .mount(&server)
        .await;

    let (status, problem) = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"full_name": "octo/secret"})),
        )
        .await;
    assert_problem(status, &problem, 404, "GITHUB_NOT_FOUND");
    let (status, problem) = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"full_name": "not a repo"})),
        )
        .await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    let (status, problem) = app
        .call(
            Method::PUT,
            &base,
            Some(&member),
            Some(json!({"full_name": "octo/hello"})),
        )
        .await;
    assert_problem(status, &problem, 403, "FORBIDDEN");
    let (status, project) = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"full_name": "octo/hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    assert_eq!(project["github_repo"], "octo/hello");
    let (status, project) = app.call(Method::DELETE, &base, Some(&admin), None).await;
    assert_eq!(
        (status, project["github_repo"].clone()),
        (StatusCode::OK, Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_imports_issues_skips_prs_and_is_idempotent() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    serve_issues(&server, issues(250, 25)).await;
    let p = app.create_project(&admin, "Import").await;
    let slug = p["slug"].as_str().unwrap();
    let path = format!("/api/v1/projects/{slug}/github/sync");

    let (status, report) = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"repo": "octo/hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["repo"], "octo/hello");
    assert_eq!(report["created"], 240);
    assert_eq!(report["pull_requests_ignored"], 10);
    assert_eq!(report["total_seen"], 250);
    assert_eq!(report["skipped"], 0);

    let (_, again) = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"repo": "octo/hello"})),
        )
        .await;
    assert_eq!(
        (again["created"].as_i64(), again["skipped"].as_i64()),
        (Some(0), Some(240))
    );
    assert_eq!(app.count("tasks").await, 240);

    let (_, task) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks/1"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(task["source"], "github");
    assert_eq!(
        task["external_links"],
        json!([{"provider": "github", "reference": "octo/hello#1", "url": "https://github.com/octo/hello/issues/1"}])
    );
    let (_, done) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks?status=canceled&limit=200"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        done["items"].as_array().unwrap().len(),
        10,
        "multiples of 20 are closed as not planned; 100 and 200 are pull requests"
    );

    let (status, runs) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/sync-runs"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = runs["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["status"], "succeeded");
    assert_eq!(items[0]["kind"], "import");
    assert_eq!(items[1]["created"], 240);
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_defaults_to_the_linked_repository_and_needs_one() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Import").await;
    let slug = p["slug"].as_str().unwrap();
    let path = format!("/api/v1/projects/{slug}/github/sync");
    let (status, problem) = app.call(Method::POST, &path, Some(&admin), None).await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    for body in [
        json!({"repo": "bad name"}),
        json!({"repository": "octo/hello"}),
        json!({"repo": 7}),
    ] {
        let (status, problem) = app
            .call(Method::POST, &path, Some(&admin), Some(body))
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    assert_eq!(app.count("sync_runs").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_failures_map_to_codes_and_are_recorded() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Fail").await;
    let slug = p["slug"].as_str().unwrap();
    Mock::given(method("GET"))
        .and(path("/repos/octo/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    // A repository the token cannot see is refused before any run is queued.
    let (status, problem) = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{slug}/github/sync"),
            Some(&admin),
            Some(json!({"repo": "octo/gone"})),
        )
        .await;
    assert_problem(status, &problem, 404, "GITHUB_NOT_FOUND");
    assert_eq!(app.count("sync_runs").await, 0);

    Mock::given(method("GET"))
        .and(path("/repos/octo/limited/issues"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header(
                    "x-ratelimit-reset",
                    (time::OffsetDateTime::now_utc().unix_timestamp() + 120)
                        .to_string()
                        .as_str(),
                )
                .set_body_json(fixture(
                    "errors/403.primary-rate-limit.unauthenticated.2023-form.json",
                )),
        )
        .mount(&server)
        .await;
    // A rate limit parks the run until GitHub's reset: waiting past the request's
    // wait, so it answers 202 with the run at once.
    let started = std::time::Instant::now();
    let (status, run) = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{slug}/github/sync"),
            Some(&admin),
            Some(json!({"repo": "octo/limited"})),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(run["status"], "waiting", "{run}");
    assert_eq!(run["error_code"], "GITHUB_RATE_LIMITED");
    let resumes_at = time::OffsetDateTime::parse(
        run["resumes_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let in_secs = (resumes_at - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((60..=130).contains(&in_secs), "{in_secs}");
    assert_eq!(run["attempts"], 0, "a park gives its attempt back");

    // While limited, the token asks GitHub nothing: the next sync is refused here.
    let before = server.received_requests().await.unwrap().len();
    let (status, problem) = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{slug}/github/sync"),
            Some(&admin),
            Some(json!({"repo": "octo/gone"})),
        )
        .await;
    assert_problem(status, &problem, 429, "GITHUB_RATE_LIMITED");
    assert_eq!(server.received_requests().await.unwrap().len(), before);

    let (_, runs) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/sync-runs"),
            Some(&admin),
            None,
        )
        .await;
    let codes: Vec<_> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].clone(), r["error_code"].clone()))
        .collect();
    assert_eq!(codes, [(json!("waiting"), json!("GITHUB_RATE_LIMITED"))]);

    // Canceling the parked run ends it at once.
    let run_url = format!(
        "/api/v1/projects/{slug}/github/sync-runs/{}",
        run["id"].as_str().unwrap()
    );
    let (status, canceled) = app.call(Method::DELETE, &run_url, Some(&admin), None).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    let (status, problem) = app.call(Method::DELETE, &run_url, Some(&admin), None).await;
    assert_eq!(
        (status.as_u16(), &problem["status"]),
        (200, &json!("canceled"))
    );
    let (status, shown) = app.call(Method::GET, &run_url, Some(&admin), None).await;
    assert_eq!(
        (status.as_u16(), &shown["status"]),
        (200, &json!("canceled"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_project_is_404_for_github_routes() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let owner = app.bootstrap("acme").await;
    let intruder = app.bootstrap("evil").await;
    connect(&app, &intruder).await;
    let p = app.create_project(&owner, "Mine").await;
    let slug = p["slug"].as_str().unwrap();
    for (m, path, body) in [
        (
            Method::POST,
            format!("/api/v1/projects/{slug}/github/sync"),
            Some(json!({"repo": "octo/hello"})),
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{slug}/github/sync-runs"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/projects/{slug}/github-repo"),
            Some(json!({"full_name": "octo/hello"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/projects/{slug}/github-repo"),
            None,
        ),
    ] {
        let (status, problem) = app.call(m, &path, Some(&intruder), body).await;
        assert_problem(status, &problem, 404, "NOT_FOUND");
    }
    assert_eq!(app.count("sync_runs").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_null_sync_body_is_no_body_and_other_non_objects_get_a_clear_422() {
    let server = github_double().await;
    let app = app_with_github(&server, &[]).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Import").await;
    let slug = p["slug"].as_str().unwrap();
    let path = format!("/api/v1/projects/{slug}/github/sync");
    // No body and `null` get the same answer: the project has no linked repository.
    let (status, none) = app.call(Method::POST, &path, Some(&admin), None).await;
    assert_problem(status, &none, 422, "VALIDATION_FAILED");
    let resp = app
        .raw(
            Method::POST,
            &path,
            &admin,
            Some("application/json"),
            "null",
        )
        .await;
    let null = expect_problem(resp, 422, "VALIDATION_FAILED").await;
    assert_eq!(null["detail"], none["detail"], "{null}");
    assert_eq!(null["errors"], none["errors"], "{null}");
    for body in ["[]", "\"octo/hello\"", "7", "true"] {
        let resp = app
            .raw(Method::POST, &path, &admin, Some("application/json"), body)
            .await;
        let problem = expect_problem(resp, 422, "VALIDATION_FAILED").await;
        let text = problem.to_string();
        assert!(
            text.contains("must be a JSON object") && !text.contains("SyncRequest"),
            "{body}: {problem}"
        );
    }
    assert_eq!(app.count("sync_runs").await, 0);
}
