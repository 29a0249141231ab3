//! The GitHub token must appear in no log line, response body or Debug output,
//! whatever happens: connect, sync, and every kind of GitHub error; nor the webhook
//! secrets or a delivery's body.
//!
//! Its own test binary: it installs a process-wide log subscriber, so it must not
//! share a process with other tests whatever the test runner.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

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

const WEBHOOK_SECRETS: &str = "whsec-old-0123456789,whsec-new-9876543210";
const WEBHOOK_BODY_MARKER: &str = "body-marker-4f1c";

/// A good, a badly signed and an unsigned delivery; returns the response bodies.
async fn webhook_deliveries(app: &helpers::TestApp) -> Vec<String> {
    let body = json!({"zen": WEBHOOK_BODY_MARKER, "hook_id": 1}).to_string();
    let good = pm_crypto::HmacWebhookVerifier::from_config(Some("whsec-new-9876543210"))
        .sign(body.as_bytes())
        .unwrap();
    let mut out = Vec::new();
    for (i, signature) in [Some(good.as_str()), Some("sha256=00"), None]
        .iter()
        .enumerate()
    {
        let mut req = app
            .client
            .post(format!("{}/api/v1/webhooks/github", app.base))
            .header("x-github-event", "ping")
            .header("x-github-delivery", format!("secrets-{i}"))
            .body(body.clone());
        if let Some(s) = signature {
            req = req.header("x-hub-signature-256", *s);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), if i == 0 { 200 } else { 401 });
        out.push(resp.text().await.unwrap());
    }
    out
}

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
    let app = app_with_github(
        &server,
        &[
            ("github.token", TOKEN),
            ("github.webhook_secret", WEBHOOK_SECRETS),
        ],
    )
    .await;
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

    bodies.extend(webhook_deliveries(&app).await);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("webhook delivery refused"),
        "refusals are logged"
    );
    for secret in WEBHOOK_SECRETS.split(',') {
        assert!(
            !logs.contains(secret),
            "a log line carries a webhook secret"
        );
        assert!(!format!("{:?}", app.settings).contains(secret));
    }
    assert!(
        !logs.contains(WEBHOOK_BODY_MARKER),
        "a log line carries a delivery's body"
    );
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
        assert!(
            !body.contains("whsec-"),
            "a response carries a webhook secret"
        );
    }
    let settings_debug = format!("{:?}", app.settings);
    assert!(!settings_debug.contains(TOKEN));
    assert!(
        !settings_debug.contains("dGVzdC1rZXkt"),
        "the encryption key leaks in Debug"
    );
}
