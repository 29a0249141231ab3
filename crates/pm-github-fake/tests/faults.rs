//! Injected faults: 502s, primary and secondary rate limits, latency, revoked tokens; and
//! clearing them.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, fixture, header, start};
use pm_github_fake::FaultSettings;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn error_every_third_request_is_a_502_until_cleared() {
    let env = start().await;
    let resp = env
        .admin(
            Method::POST,
            "/_fake/faults",
            Some(json!({"error_every": 3})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(env.get("/user").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 502, 200, 200, 502, 200, 200, 502]);
    let resp = {
        env.fake.set_faults(FaultSettings {
            error_every: Some(1),
            ..Default::default()
        });
        env.get("/user").await
    };
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["message"], "Server Error");
    assert_eq!(body["status"], "502");

    // Admin routes are never faulted.
    assert_eq!(
        env.admin(Method::GET, "/_fake/stats", None).await.status(),
        200
    );

    let resp = env.admin(Method::DELETE, "/_fake/faults", None).await;
    assert_eq!(resp.status(), 204);
    for _ in 0..4 {
        assert_eq!(env.get("/user").await.status(), 200);
    }
    env.running.stop().await;
}

#[tokio::test]
async fn primary_limit_after_n_requests() {
    let env = start().await;
    env.admin(
        Method::POST,
        "/_fake/faults",
        Some(json!({"primary_limit_after": 2})),
    )
    .await;
    assert_eq!(env.get("/user").await.status(), 200);
    assert_eq!(env.get("/user").await.status(), 200);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for _ in 0..2 {
        let resp = env.get("/user").await;
        assert_eq!(resp.status(), 403);
        assert_eq!(header(&resp, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(&resp, "x-ratelimit-limit"), Some("5000"));
        let reset: i64 = header(&resp, "x-ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("epoch seconds");
        assert!(
            (now + 58..=now + 62).contains(&reset),
            "reset {reset} vs now {now}"
        );
        assert!(header(&resp, "retry-after").is_none());
        let body: Value = resp.json().await.expect("JSON");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.starts_with("API rate limit exceeded for user ID "),
            "{message}"
        );
        assert!(!message.contains("secondary"));
    }
    env.fake.clear_faults();
    let resp = env.get("/user").await;
    assert_eq!(resp.status(), 200);
    assert_ne!(header(&resp, "x-ratelimit-remaining"), Some("0"));
    env.running.stop().await;
}

#[tokio::test]
async fn primary_limit_lifts_at_reset() {
    let env = start().await;
    env.fake.set_faults(FaultSettings {
        primary_limit_after: Some(0),
        primary_reset_secs: Some(1),
        ..Default::default()
    });
    let resp = env.get("/user").await;
    assert_eq!(resp.status(), 403);
    let reset: i64 = header(&resp, "x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("n");
    // Wait as a client would: until the advertised reset (bounded).
    let wait = reset - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(wait <= 2, "reset too far: {wait}s");
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(wait.max(0)).unwrap_or(0) * 1000 + 50,
    ))
    .await;
    assert_eq!(env.get("/user").await.status(), 200);
    env.running.stop().await;
}

#[tokio::test]
async fn secondary_limit_after_n_requests() {
    let env = start().await;
    env.admin(
        Method::POST,
        "/_fake/faults",
        Some(json!({"secondary_limit_after": 1})),
    )
    .await;
    assert_eq!(env.get("/user").await.status(), 200);
    let resp = env.get("/user").await;
    assert_eq!(resp.status(), 403);
    assert_eq!(header(&resp, "retry-after"), Some("60"));
    // Not a primary limit: remaining is not 0.
    assert_ne!(header(&resp, "x-ratelimit-remaining"), Some("0"));
    let body: Value = resp.json().await.expect("JSON");
    let expected = fixture("errors/403.secondary-rate-limit.2022-form.json");
    assert_eq!(body["message"], expected["message"]);
    assert_eq!(body, expected);
    // Still limited right after.
    assert_eq!(env.get("/user").await.status(), 403);
    env.admin(Method::DELETE, "/_fake/faults", None).await;
    assert_eq!(env.get("/user").await.status(), 200);
    env.running.stop().await;
}

#[tokio::test]
async fn latency_delays_api_answers() {
    let env = start().await;
    env.fake.set_faults(FaultSettings {
        latency_ms: Some(150),
        ..Default::default()
    });
    let t = Instant::now();
    assert_eq!(env.get("/user").await.status(), 200);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    let faults: Value = env
        .admin(Method::GET, "/_fake/faults", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(faults["latency_ms"], 150);
    env.fake.clear_faults();
    let faults: Value = env
        .admin(Method::GET, "/_fake/faults", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert!(faults["latency_ms"].is_null(), "{faults}");
    env.running.stop().await;
}

#[tokio::test]
async fn revoked_token_gets_401_until_cleared() {
    let env = start().await;
    env.admin(
        Method::POST,
        "/_fake/faults",
        Some(json!({"revoke_token": TOKEN})),
    )
    .await;
    let resp = env.get("/user").await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body, fixture("errors/401.bad-credentials.json"));
    env.admin(Method::DELETE, "/_fake/faults", None).await;
    assert_eq!(env.get("/user").await.status(), 200);
    env.running.stop().await;
}

#[tokio::test]
async fn bad_fault_bodies_are_rejected() {
    let env = start().await;
    let resp = env
        .admin(
            Method::POST,
            "/_fake/faults",
            Some(json!({"error_evry": 3})),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(env.fake.faults(), FaultSettings::default());
    env.running.stop().await;
}
