//! API-wide conventions: health, documents, 404/405, body limits, problem+json.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn_with(&[]).await;
    // Point a second app at a database that does not exist.
    let mut settings = app.settings.clone();
    settings.database.url = Some(pm_postgres::testing::url_for(
        &app.db.url,
        "pmhub_no_such_db",
    ));
    let broken = pm_api::Application::build(&settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", broken.port());
    let server = broken.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    let resp = reqwest::get(format!("{base}/readyz")).await.unwrap();
    expect_problem(resp, 503, "NOT_READY").await;
    let resp = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(resp.status(), 200);
    handle.stop(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_is_3_1_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let expected: &[(&str, &[&str])] = &[
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/users", &["post"]),
        ("/api/v1/projects", &["get", "post"]),
        ("/api/v1/projects/{slug}", &["get", "patch", "delete"]),
        ("/api/v1/projects/{slug}/spec", &["get", "put"]),
        ("/api/v1/projects/{slug}/spec/submit", &["post"]),
        ("/api/v1/projects/{slug}/approve", &["post"]),
        ("/api/v1/projects/{slug}/tasks", &["get", "post"]),
        (
            "/api/v1/projects/{slug}/tasks/{number}",
            &["get", "patch", "delete"],
        ),
        ("/api/v1/integrations/github", &["get", "post", "delete"]),
        ("/api/v1/github/repos", &["get"]),
        ("/api/v1/projects/{slug}/github-repo", &["put", "delete"]),
        ("/api/v1/projects/{slug}/github/sync", &["post"]),
        ("/api/v1/projects/{slug}/github/sync-runs", &["get"]),
        ("/api/v1/projects/{slug}/github/push", &["post"]),
        ("/api/v1/webhooks/github", &["post"]),
        ("/api/v1/projects/{slug}/github/settings", &["get", "patch"]),
        (
            "/api/v1/projects/{slug}/github/sync-runs/{id}/events",
            &["get"],
        ),
        (
            "/api/v1/projects/{slug}/tasks/{number}/sync-events",
            &["get"],
        ),
        ("/api/v1/projects/{slug}/github/conflicts", &["get"]),
        (
            "/api/v1/projects/{slug}/github/conflicts/{id}/acknowledge",
            &["post"],
        ),
        ("/api/v1/projects/{slug}/github/health", &["get"]),
    ];
    for (path, methods) in expected {
        for method in *methods {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} missing from /openapi.json");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path} has no success response"
            );
            if *path != "/healthz" {
                assert!(
                    responses
                        .values()
                        .any(|r| r["content"]["application/problem+json"].is_object()),
                    "{method} {path} documents no problem+json error"
                );
            }
            if matches!(*method, "post" | "put" | "patch")
                && !path.ends_with("submit")
                && !path.ends_with("approve")
                && !path.ends_with("push")
                && !path.ends_with("acknowledge")
            {
                assert!(
                    op["requestBody"].is_object(),
                    "{method} {path} has no request body"
                );
            }
        }
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    // The document parses as OpenAPI 3.1 …
    let spec = oas3::from_json(doc.to_string()).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"));
    // … and every reference points at a schema that exists.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {r}"
        );
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_ui_is_served_without_internet() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("cdn."),
        "the UI must not load assets from a CDN"
    );
    let resp = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // `/docs` itself leads to the UI.
    let resp = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_method_is_405_with_allow_and_unknown_route_is_404() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let resp = app
        .client
        .put(format!("{}/api/v1/projects", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("allow").unwrap(), "GET, POST");
    expect_problem(resp, 405, "METHOD_NOT_ALLOWED").await;
    let resp = app
        .client
        .post(format!("{}/api/v1/projects/some-slug/tasks/1", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("allow").unwrap(), "GET, PATCH, DELETE");
    expect_problem(resp, 405, "METHOD_NOT_ALLOWED").await;
    let resp = app
        .client
        .get(format!("{}/api/v2/nothing", app.base))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 404, "NOT_FOUND").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_oversized_and_untyped_bodies_are_4xx_and_write_nothing() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let path = "/api/v1/projects";
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (
            Some("application/json"),
            b"{\"name\": ".to_vec(),
            400,
            "VALIDATION_FAILED",
        ),
        (
            Some("application/json"),
            b"not json".to_vec(),
            400,
            "VALIDATION_FAILED",
        ),
        (
            Some("application/json"),
            Vec::new(),
            400,
            "VALIDATION_FAILED",
        ),
        (
            Some("application/json"),
            b"{\"name\": 5}".to_vec(),
            422,
            "VALIDATION_FAILED",
        ),
        (
            Some("application/json"),
            b"[1,2]".to_vec(),
            422,
            "VALIDATION_FAILED",
        ),
        (
            Some("application/json"),
            b"{\"name\": \"x\", \"owner\": \"me\"}".to_vec(),
            422,
            "VALIDATION_FAILED",
        ),
        (
            Some("text/plain"),
            b"{\"name\": \"x\"}".to_vec(),
            415,
            "VALIDATION_FAILED",
        ),
        (
            Some("application/json"),
            format!("{{\"name\": \"{}\"}}", "x".repeat(1_100_000)).into_bytes(),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (ct, body, status, code) in cases {
        let preview = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
        let resp = app.raw(Method::POST, path, &token, ct, body).await;
        let problem = expect_problem(resp, status, code).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{preview}");
    }
    assert_eq!(app.count("projects").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_field_names_the_field() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let resp = app
        .raw(
            Method::POST,
            "/api/v1/projects",
            &token,
            Some("application/json"),
            r#"{"name": "x", "colour": "red"}"#,
        )
        .await;
    let problem: Value = expect_problem(resp, 422, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["field"], "colour", "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_401_whatever_the_body() {
    let app = TestApp::spawn().await;
    app.bootstrap("acme").await;
    for (ct, body) in [
        (Some("application/json"), "not json".to_string()),
        (Some("text/plain"), "{}".to_string()),
        (
            Some("application/json"),
            format!("{{\"name\": \"{}\"}}", "x".repeat(1_100_000)),
        ),
        (Some("application/json"), "{\"name\": 5}".to_string()),
    ] {
        let resp = app
            .raw(Method::POST, "/api/v1/projects", "pmh_wrong", ct, body)
            .await;
        expect_problem(resp, 401, "UNAUTHENTICATED").await;
    }
    // Unknown routes under /api/v1 do not tell strangers what exists either.
    let resp = app
        .client
        .get(format!("{}/api/v1/nothing", app.base))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401, "UNAUTHENTICATED").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn framework_errors_are_problems_too() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let p = app.create_project(&token, "Raw").await;
    // A raw-body endpoint: the framework itself refuses the oversized body.
    let resp = app
        .raw(
            Method::POST,
            &format!(
                "/api/v1/projects/{}/github/sync",
                p["slug"].as_str().unwrap()
            ),
            &token,
            Some("application/json"),
            vec![b' '; 2 * 1024 * 1024],
        )
        .await;
    expect_problem(resp, 413, "PAYLOAD_TOO_LARGE").await;
}

/// Generated clients name their functions and types after `operationId`s: each must be
/// unique, and every response needs a description.
#[test]
fn every_operation_has_a_unique_id_and_described_responses() {
    let doc = serde_json::to_value(pm_api::openapi::document()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(
                seen.insert(id.to_string()),
                "operationId {id} is used twice"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                let described = response["description"].as_str().unwrap_or_default();
                assert!(
                    !described.trim().is_empty(),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }
    assert!(seen.contains("listTasks") && seen.contains("syncGithubIssues"));
}
