//! The GitHub token must appear in no log line, response body or Debug output,
//! whatever happens: connect, sync, and every kind of GitHub error.
//!
//! Its own test binary: it installs a process-wide log subscriber, so it must not
//! share a process with other tests whatever the test runner.

#[path = "api/github_double.rs"]
#[allow(dead_code)]
mod github_double;
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use github_double::{
    TOKEN, app_with_github, connect, fixture, github_double, issues, serve_issues,
};
use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_reaches_logs_responses_or_debug_output() {
    // The only test in this binary, so this subscriber sees only its logs;
    // TRACE everywhere catches the HTTP client's logs too.
    let captured = Captured::default();
    let sink = captured.clone();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .try_init();

    let server = github_double().await;
    let app = app_with_github(&server, &[("github.token", TOKEN)]).await;
    let admin = app.bootstrap("acme").await;
    let mut bodies = Vec::new();
    bodies.push(connect(&app, &admin).await.to_string());
    serve_issues(&server, issues(120, 7)).await;
    for (route, status, body) in [
        (
            "/repos/octo/unauth/issues",
            401,
            fixture("errors/401.bad-credentials.json"),
        ),
        (
            "/repos/octo/limited/issues",
            403,
            fixture("errors/403.secondary-rate-limit.2022-form.json"),
        ),
        (
            "/repos/octo/forbidden/issues",
            403,
            json!({"message": "Resource not accessible by personal access token"}),
        ),
        (
            "/repos/octo/broken/issues",
            502,
            json!({"message": "Server Error"}),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
    }
    for repo in [
        "octo/hello",
        "octo/unauth",
        "octo/forbidden",
        "octo/broken",
        // Last: once limited, the token makes no more requests.
        "octo/limited",
    ] {
        // A project each: a failed attempt that is retried in the background keeps
        // its project's import active, and a second sync would join it.
        let p = app.create_project(&admin, &format!("Secrets {repo}")).await;
        let slug = p["slug"].as_str().unwrap();
        let (_, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/projects/{slug}/github/sync"),
                Some(&admin),
                Some(json!({"repo": repo})),
            )
            .await;
        bodies.push(body.to_string());
    }
    let (_, shown) = app
        .call(
            Method::GET,
            "/api/v1/integrations/github",
            Some(&admin),
            None,
        )
        .await;
    bodies.push(shown.to_string());
    let (_, bad) = app
        .call(
            Method::POST,
            "/api/v1/integrations/github",
            Some(&admin),
            Some(json!({"token": TOKEN, "x": 1})),
        )
        .await;
    bodies.push(bad.to_string());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("issue import"),
        "the capture works: {}",
        &logs[..logs.len().min(500)]
    );
    for code in [
        "GITHUB_UNAUTHORIZED",
        "GITHUB_FORBIDDEN",
        "GITHUB_UNAVAILABLE",
        "GITHUB_RATE_LIMITED",
    ] {
        assert!(logs.contains(code), "no log line for {code}");
    }
    assert!(!logs.contains(TOKEN), "a log line carries the token");
    for body in &bodies {
        assert!(
            !body.contains(TOKEN),
            "a response carries the token: {body}"
        );
    }
    let settings_debug = format!("{:?}", app.settings);
    assert!(!settings_debug.contains(TOKEN));
    assert!(
        !settings_debug.contains("dGVzdC1rZXkt"),
        "the encryption key leaks in Debug"
    );
}
