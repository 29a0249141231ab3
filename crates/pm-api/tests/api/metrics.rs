//! `GET /metrics`: the series and their labels after some traffic, and that no
//! label carries a token, a slug or a raw path.

use crate::helpers::TestApp;
use pm_jobs::{JobQueue, NewJob};
use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GITHUB_TOKEN: &str = "ghp_MetricsTestToken000000000000000001";

async fn scrape(app: &TestApp, bearer: Option<&str>) -> (StatusCode, String, Option<String>) {
    let mut req = app.client.get(format!("{}/metrics", app.base));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.text().await.unwrap(), content_type)
}

/// The label sets of every sample of `name` (`{a="b",c="d"}` → `a="b",c="d"`).
fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(name))
        .filter_map(|rest| rest.strip_prefix('{'))
        .filter_map(|rest| rest.rsplit_once('}').map(|(labels, _)| labels))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_requests_jobs_and_github_without_secrets_or_ids() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "4987")
                .insert_header("x-ratelimit-resource", "core")
                .set_body_json(json!({"login": "octocat", "id": 1})),
        )
        .mount(&github)
        .await;
    let uri = github.uri();
    let app = TestApp::spawn_with(&[("github.api_url", uri.as_str())]).await;
    let admin = app.bootstrap("metrics-ws").await;
    let project = app.create_project(&admin, "Metrics Project").await;
    let slug = project["slug"].as_str().unwrap().to_string();
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(Method::GET, "/no/such/route/12345", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/integrations/github",
            Some(&admin),
            Some(json!({"token": GITHUB_TOKEN})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let queue = pm_postgres::PgJobQueue::new(app.db.db.clone());
    queue
        .enqueue(NewJob::new("test.metrics", json!({})))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let (status, text, content_type) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        content_type
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );

    let requests = series(&text, "http_requests_total");
    assert!(
        requests.contains(&r#"method="GET",route="/api/v1/projects/{slug}/tasks",status="200""#),
        "{requests:?}"
    );
    assert!(
        requests.contains(&r#"method="GET",route="unmatched",status="404""#),
        "{requests:?}"
    );
    assert!(
        requests.contains(&r#"method="POST",route="/api/v1/integrations/github",status="201""#),
        "{requests:?}"
    );
    let buckets = series(&text, "http_request_duration_seconds_bucket");
    assert!(
        buckets
            .iter()
            .any(|l| l.contains(r#"route="/api/v1/projects/{slug}/tasks""#)
                && l.contains(r#"le="0.005""#)),
        "{buckets:?}"
    );
    assert!(
        series(&text, "pmhub_jobs").contains(&r#"kind="test.metrics",status="queued""#),
        "{text}"
    );
    let age = text
        .lines()
        .find_map(|l| l.strip_prefix("pmhub_jobs_oldest_queued_age_seconds "))
        .expect("oldest queued age")
        .parse::<f64>()
        .unwrap();
    assert!(age > 0.0 && age < 60.0, "{age}");
    assert!(
        series(&text, "pmhub_github_requests_total").contains(&r#"method="GET",outcome="ok""#),
        "{text}"
    );
    let fingerprint = {
        use pm_integrations::TokenFingerprint;
        pm_crypto::Sha256Fingerprint
            .fingerprint(&secrecy::SecretString::from(GITHUB_TOKEN))
            .as_str()
            .to_string()
    };
    let remaining = format!(
        r#"pmhub_github_rate_limit_remaining{{connection="{}",resource="core"}} 4987"#,
        &fingerprint[..12]
    );
    assert!(text.contains(&remaining), "{text}");

    // Nothing secret or specific to a request in any label.
    for sample in text.lines().filter(|l| !l.starts_with('#')) {
        for forbidden in [
            GITHUB_TOKEN,
            "MetricsTestToken",
            &admin,
            &slug,
            "12345",
            fingerprint.as_str(),
        ] {
            assert!(!sample.contains(forbidden), "{forbidden} in {sample}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metrics_token_is_required_when_configured() {
    let app = TestApp::spawn_with(&[("metrics.token", "scrape-secret-1")]).await;
    let (status, body, content_type) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert!(!body.contains("scrape-secret-1"));
    let (status, _, _) = scrape(&app, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body, _) = scrape(&app, Some("scrape-secret-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("http_requests_total"), "{body}");
}
