//! `POST /api/v1/webhooks/github`: signatures, storage once per delivery, and the
//! `github.delivery` job (run by real job workers on the test database).

use crate::helpers::{TestApp, expect_problem};
use pm_crypto::HmacWebhookVerifier;
use pm_integrations::DirtyIssues;
use pm_postgres::PgWebhookStore;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SECRET: &str = "It's a Secret to Everybody";
const PATH: &str = "/api/v1/webhooks/github";
const REPO: &str = "Codertocat/Hello-World";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/github/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `issues.closed`: GitHub's `issues.reopened` example with the action and state
/// of a close (the fixtures hold only the schema of a closed delivery).
fn closed_payload() -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("issues.reopened.json")).unwrap();
    v["action"] = json!("closed");
    v["issue"]["state"] = json!("closed");
    v["issue"]["state_reason"] = json!("completed");
    v["issue"]["closed_at"] = json!("2019-05-15T15:21:00Z");
    serde_json::to_vec(&v).unwrap()
}

fn sign(secret: &str, body: &[u8]) -> String {
    HmacWebhookVerifier::from_config(Some(secret))
        .sign(body)
        .unwrap()
}

async fn deliver(
    app: &TestApp,
    event: Option<&str>,
    delivery: Option<&str>,
    signature: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}{PATH}", app.base))
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/044aadd")
        .body(body);
    if let Some(e) = event {
        req = req.header("x-github-event", e);
    }
    if let Some(d) = delivery {
        req = req.header("x-github-delivery", d);
    }
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    req.send().await.expect("request")
}

async fn signed(app: &TestApp, event: &str, delivery: &str, body: Vec<u8>) -> reqwest::Response {
    let signature = sign(SECRET, &body);
    deliver(app, Some(event), Some(delivery), Some(&signature), body).await
}

async fn app_with_secret(secret: &str) -> TestApp {
    TestApp::spawn_with(&[
        ("github.webhook_secret", secret),
        ("jobs.poll_interval_ms", "50"),
    ])
    .await
}

/// Runs the job workers until `check` holds (or 10 s pass).
async fn until(app: &TestApp, what: &str, check: impl AsyncFn() -> bool) {
    let workers = pm_api::jobs::start(&app.settings).expect("job workers");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    workers.shutdown().await;
}

async fn outcome(app: &TestApp, delivery: &str) -> Option<String> {
    let n = app
        .count(&format!(
            "github_deliveries WHERE delivery_id = '{delivery}' AND processed_at IS NOT NULL"
        ))
        .await;
    if n == 0 {
        return None;
    }
    for o in [
        "ping",
        "unlinked",
        "ignored",
        "marked_dirty",
        "repository_renamed",
        "malformed",
    ] {
        let n = app
            .count(&format!(
                "github_deliveries WHERE delivery_id = '{delivery}' AND outcome = '{o}'"
            ))
            .await;
        if n == 1 {
            return Some(o.to_string());
        }
    }
    None
}

async fn link(app: &TestApp, slug: &str, repo: &str) {
    app.sql(&format!(
        "UPDATE projects SET github_repo = '{repo}' WHERE slug = '{slug}'"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_missing_altered_and_unknown_signatures_are_401_and_store_nothing() {
    let app = app_with_secret(SECRET).await;
    let body = fixture("issues.opened.json");
    let good = sign(SECRET, &body);
    let mut altered = body.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0x01;
    let cases: Vec<(Option<String>, Vec<u8>)> = vec![
        (Some("sha256=".to_string() + &"0".repeat(64)), body.clone()),
        (None, body.clone()),
        (Some(good.clone()), altered),
        (Some(sign("an unknown secret", &body)), body.clone()),
        (Some(good.replace("sha256=", "sha1=")), body.clone()),
    ];
    for (signature, body) in cases {
        let resp = deliver(
            &app,
            Some("issues"),
            Some("d-401"),
            signature.as_deref(),
            body,
        )
        .await;
        let problem = expect_problem(resp, 401, "WEBHOOK_SIGNATURE_INVALID").await;
        assert!(problem["detail"].as_str().unwrap().contains("signature"));
    }
    assert_eq!(app.count("github_deliveries").await, 0);
    // (The test app runs job workers, whose periodic jobs — the cleanup, the
    // reconcile tick — have `periodic:` keys.)
    assert_eq!(
        app.count("jobs WHERE concurrency_key IS NULL OR concurrency_key NOT LIKE 'periodic:%'")
            .await,
        0
    );

    // The good signature is accepted (so the cases above failed for their reason).
    let resp = deliver(&app, Some("issues"), Some("d-401"), Some(&good), body).await;
    assert_eq!(resp.status().as_u16(), 202);
    assert_eq!(app.count("github_deliveries").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn either_of_two_configured_secrets_verifies_while_rotating() {
    let app = app_with_secret(" new-secret , old-secret ").await;
    for (i, secret) in ["old-secret", "new-secret"].iter().enumerate() {
        let body = fixture("issues.edited.json");
        let signature = sign(secret, &body);
        let resp = deliver(
            &app,
            Some("issues"),
            Some(&format!("rot-{i}")),
            Some(&signature),
            body,
        )
        .await;
        assert_eq!(resp.status().as_u16(), 202, "{secret}");
    }
    assert_eq!(app.count("github_deliveries").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_secret_every_delivery_is_refused() {
    let app = TestApp::spawn().await;
    let body = fixture("ping.json");
    let signature = sign(SECRET, &body);
    for sig in [Some(signature.as_str()), None] {
        let resp = deliver(&app, Some("ping"), Some("d-none"), sig, body.clone()).await;
        let problem = expect_problem(resp, 503, "WEBHOOK_NOT_CONFIGURED").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("no webhook secret")
        );
    }
    assert_eq!(app.count("github_deliveries").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_github_headers_and_non_json_bodies_are_400() {
    let app = app_with_secret(SECRET).await;
    let body = fixture("ping.json");
    let signature = sign(SECRET, &body);
    let resp = deliver(&app, None, Some("d-1"), Some(&signature), body.clone()).await;
    let p = expect_problem(resp, 400, "VALIDATION_FAILED").await;
    assert!(
        p["detail"].as_str().unwrap().contains("X-GitHub-Event"),
        "{p}"
    );
    let resp = deliver(&app, Some("ping"), None, Some(&signature), body).await;
    let p = expect_problem(resp, 400, "VALIDATION_FAILED").await;
    assert!(
        p["detail"].as_str().unwrap().contains("X-GitHub-Delivery"),
        "{p}"
    );
    let form = b"payload=%7B%22zen%22%3A%22x%22%7D".to_vec();
    let sig = sign(SECRET, &form);
    let resp = deliver(&app, Some("ping"), Some("d-2"), Some(&sig), form).await;
    let p = expect_problem(resp, 400, "VALIDATION_FAILED").await;
    assert!(
        p["detail"].as_str().unwrap().contains("application/json"),
        "{p}"
    );
    assert_eq!(app.count("github_deliveries").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_bearer_token_is_needed_and_other_methods_are_405() {
    let app = app_with_secret(SECRET).await;
    let resp = app
        .client
        .get(format!("{}{PATH}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "POST");
    expect_problem(resp, 405, "METHOD_NOT_ALLOWED").await;
    // The rest of /api/v1 still needs a token.
    let (status, _) = app.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(status.as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_up_to_25_mb_are_read_and_larger_ones_are_413() {
    let app = app_with_secret(SECRET).await;
    // 2 MiB: over the 1 MiB of other routes, accepted here.
    let mut v: Value = serde_json::from_slice(&fixture("issues.edited.json")).unwrap();
    v["issue"]["body"] = json!("x".repeat(2 * 1024 * 1024));
    let resp = signed(&app, "issues", "big-1", serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(resp.status().as_u16(), 202);
    let huge = vec![b' '; 25 * 1024 * 1024 + 1];
    let resp = signed(&app, "issues", "big-2", huge).await;
    expect_problem(resp, 413, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(app.count("github_deliveries").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_is_200_and_processed() {
    let app = app_with_secret(SECRET).await;
    let resp = signed(&app, "ping", "ping-1", fixture("ping.json")).await;
    assert_eq!(resp.status().as_u16(), 200);
    let receipt: Value = resp.json().await.unwrap();
    assert_eq!(
        receipt,
        json!({"delivery_id": "ping-1", "event": "ping", "duplicate": false})
    );
    until(&app, "the ping to be processed", async || {
        outcome(&app, "ping-1").await.as_deref() == Some("ping")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivery_is_stored_and_processed_once() {
    let app = app_with_secret(SECRET).await;
    let token = app.bootstrap("hooks").await;
    let project = app.create_project(&token, "Hooks").await;
    let slug = project["slug"].as_str().unwrap();
    link(&app, slug, REPO).await;

    let body = fixture("issues.edited.json");
    let first = signed(&app, "issues", "redelivered", body.clone()).await;
    assert_eq!(first.status().as_u16(), 202);
    let again = signed(&app, "issues", "redelivered", body.clone()).await;
    assert_eq!(again.status().as_u16(), 200);
    let receipt: Value = again.json().await.unwrap();
    assert_eq!(receipt["duplicate"], true);
    assert_eq!(app.count("github_deliveries").await, 1);
    assert_eq!(app.count("jobs WHERE kind = 'github.delivery'").await, 1);
    let sent = std::str::from_utf8(&body).unwrap().replace('\'', "''");
    assert_eq!(
        app.count(&format!(
            "github_deliveries WHERE delivery_id = 'redelivered' AND payload::text = '{sent}' \
             AND pg_column_compression(payload) = 'lz4'"
        ))
        .await,
        1,
        "the payload is stored byte for byte as GitHub sent it (its indentation too), lz4"
    );

    until(&app, "the delivery to be processed", async || {
        outcome(&app, "redelivered").await.is_some()
    })
    .await;
    // Redelivered after processing: still nothing new.
    let late = signed(&app, "issues", "redelivered", body).await;
    assert_eq!(late.status().as_u16(), 200);
    assert_eq!(app.count("jobs WHERE kind = 'github.delivery'").await, 1);
    assert_eq!(app.count("jobs WHERE status = 'succeeded'").await, 1);
    let dirty = app
        .count("github_dirty_issues WHERE generation = 1 AND reason = 'issues.edited'")
        .await;
    assert_eq!(dirty, 1, "marked once");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_of_an_unlinked_repository_are_recorded_and_ignored() {
    let app = app_with_secret(SECRET).await;
    let token = app.bootstrap("hooks").await;
    let project = app.create_project(&token, "Other").await;
    link(&app, project["slug"].as_str().unwrap(), "someone/else").await;

    let resp = signed(&app, "issues", "unlinked-1", closed_payload()).await;
    assert_eq!(resp.status().as_u16(), 202);
    until(&app, "the delivery to be processed", async || {
        outcome(&app, "unlinked-1").await.is_some()
    })
    .await;
    assert_eq!(
        outcome(&app, "unlinked-1").await.as_deref(),
        Some("unlinked")
    );
    assert_eq!(app.count("github_dirty_issues").await, 0);
    assert_eq!(
        app.count(&format!(
            "github_deliveries WHERE repo_full_name = '{REPO}' AND repository_id = 186853002 \
             AND event = 'issues' AND action = 'closed' AND payload->'issue'->>'state' = 'closed'"
        ))
        .await,
        1,
        "the delivery is recorded with its repository and payload"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_repositorys_closed_issue_is_marked_dirty_for_the_merge() {
    let app = app_with_secret(SECRET).await;
    let token = app.bootstrap("hooks").await;
    let project = app.create_project(&token, "Linked").await;
    let slug = project["slug"].as_str().unwrap();
    // Linked with another spelling: GitHub's names are case-insensitive.
    link(&app, slug, "codertocat/hello-world").await;

    let resp = signed(&app, "issues", "closed-1", closed_payload()).await;
    assert_eq!(resp.status().as_u16(), 202);
    let receipt: Value = resp.json().await.unwrap();
    assert_eq!(
        receipt,
        json!({"delivery_id": "closed-1", "event": "issues", "duplicate": false})
    );
    until(&app, "the issue to be marked dirty", async || {
        app.count("github_dirty_issues").await == 1
    })
    .await;
    assert_eq!(
        outcome(&app, "closed-1").await.as_deref(),
        Some("marked_dirty")
    );

    // The seam the merge job reads.
    let store = PgWebhookStore::new(app.db.db.clone());
    let project_id = project_id(&app, slug).await;
    let dirty = store.list(project_id, 10).await.unwrap();
    assert_eq!(dirty.len(), 1);
    let d = &dirty[0];
    assert_eq!(
        (
            d.github_issue_id,
            d.issue_number,
            d.reason.as_str(),
            d.delivery_id.as_str()
        ),
        (444500041, 1, "issues.closed", "closed-1")
    );
    assert_eq!(d.repo_full_name, REPO);

    // A mark that arrives while the merge works survives the merge's clear.
    let resp = signed(
        &app,
        "issues",
        "reopened-1",
        fixture("issues.reopened.json"),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 202);
    until(&app, "the second mark", async || {
        app.count("github_dirty_issues WHERE generation = 2").await == 1
    })
    .await;
    assert!(
        !store
            .clear(project_id, d.github_issue_id, d.generation)
            .await
            .unwrap()
    );
    let again = store.list(project_id, 10).await.unwrap();
    assert_eq!(again[0].reason, "issues.reopened");
    assert!(
        store
            .clear(project_id, d.github_issue_id, again[0].generation)
            .await
            .unwrap()
    );
    assert_eq!(app.count("github_dirty_issues").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_linked_repository_is_followed() {
    let app = app_with_secret(SECRET).await;
    let token = app.bootstrap("hooks").await;
    let project = app.create_project(&token, "Renamed").await;
    let slug = project["slug"].as_str().unwrap();
    link(&app, slug, "Codertocat/Old-Name").await;
    let mut v: Value = serde_json::from_slice(&fixture("issues.opened.json")).unwrap();
    let v = json!({
        "action": "renamed",
        "changes": {"repository": {"name": {"from": "Old-Name"}}},
        "repository": v["repository"].take(),
        "sender": v["sender"].take(),
    });
    let resp = signed(
        &app,
        "repository",
        "renamed-1",
        serde_json::to_vec(&v).unwrap(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 202);
    until(&app, "the rename to be followed", async || {
        outcome(&app, "renamed-1").await.is_some()
    })
    .await;
    assert_eq!(
        outcome(&app, "renamed-1").await.as_deref(),
        Some("repository_renamed")
    );
    let (_, p) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(p["github_repo"], REPO);
}

async fn project_id(app: &TestApp, slug: &str) -> pm_kernel::ProjectId {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let row: Id = diesel::sql_query("SELECT id FROM projects WHERE slug = $1")
        .bind::<diesel::sql_types::Text, _>(slug)
        .get_result(&mut conn)
        .await
        .unwrap();
    pm_kernel::ProjectId::from_uuid(row.id)
}
