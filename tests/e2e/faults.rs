//! GitHub misbehaving mid-import: the pages already stored stay consistent, the run is
//! recorded as failed with its error code, and the next run completes without duplicates.

use crate::support::*;
use pm_github_fake::FaultSettings;
use std::time::{Duration, Instant};

/// What a failed import left behind, checked against the run's record.
async fn assert_partial_import(world: &World, slug: &str, code: &str) -> usize {
    let issues = world.issues();
    let tasks = world.tasks(slug).await;
    assert!(
        !tasks.is_empty() && tasks.len() < issues.len(),
        "page 1 was stored, the rest was not: {} of {} tasks",
        tasks.len(),
        issues.len()
    );
    assert_subset_of_issues(&tasks, &issues);
    let runs = world.runs(slug).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error_code"], code, "{run}");
    assert!(!run["finished_at"].is_null(), "{run}");
    assert_eq!(
        run["created"].as_u64(),
        Some(tasks.len() as u64),
        "the run counts what it stored: {run}"
    );
    tasks.len()
}

/// The retry after a failure: only what was missing is created.
async fn assert_retry_completes(world: &World, slug: &str, stored_before: usize) {
    let issues = world.issues();
    let retry = world.sync(slug).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    let (created, skipped, prs, seen) = counts(&retry.body);
    assert_eq!(
        usize::try_from(created).unwrap(),
        issues.len() - stored_before,
        "{}",
        retry.body
    );
    assert_eq!(
        usize::try_from(skipped).unwrap(),
        stored_before,
        "{}",
        retry.body
    );
    assert_eq!(prs, world.pull_request_count());
    assert_eq!(seen, ITEMS);
    assert_tasks_mirror_issues(&world.tasks(slug).await, &issues);
    let runs = world.runs(slug).await;
    assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_mid_import_then_retry_loses_and_duplicates_nothing() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Flaky GitHub").await;

    // pmhub retries a failing GET 3 times, so the fault must outlast the retries: once page 1
    // has been asked for, every later request fails. The fake checks for an injected error
    // when a request arrives and only then sleeps `latency_ms`, so slowing page 1 down gives
    // this watcher ample time to switch errors on before page 2 is requested.
    world.fake.set_faults(FaultSettings {
        latency_ms: Some(1_000),
        ..FaultSettings::default()
    });
    let before = world.fake.request_count();
    let fake = world.fake.clone();
    let watcher = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake.request_count() == before {
            assert!(Instant::now() < deadline, "page 1 was never requested");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        fake.set_faults(FaultSettings {
            error_every: Some(1),
            latency_ms: Some(0),
            ..FaultSettings::default()
        });
    });

    let failed = world.sync(&slug).await;
    watcher.await.expect("watcher");
    assert_problem(&failed, 502, "GITHUB_UNAVAILABLE");
    assert_eq!(
        world.issue_list_requests(),
        1 + 4,
        "page 1, then page 2 tried once and retried 3 times"
    );
    let stored = assert_partial_import(&world, &slug, "GITHUB_UNAVAILABLE").await;

    world.fake.clear_faults();
    assert_retry_completes(&world, &slug, stored).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_mid_import_is_recorded_and_the_next_run_completes() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Rate Limited").await;

    // Page 1 is served, then the primary limit is exhausted for two seconds.
    world.fake.set_faults(FaultSettings {
        primary_limit_after: Some(1),
        primary_reset_secs: Some(2),
        ..FaultSettings::default()
    });
    let limited = world.sync(&slug).await;
    assert_problem(&limited, 429, "GITHUB_RATE_LIMITED");
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=120).contains(&retry_after),
        "wait until GitHub's reset: {retry_after}"
    );
    assert_eq!(limited.body["retry_after"].as_u64(), Some(retry_after));
    assert_eq!(
        world.issue_list_requests(),
        2,
        "a limited token is not hammered with retries"
    );
    let stored = assert_partial_import(&world, &slug, "GITHUB_RATE_LIMITED").await;

    // Until the reset, pmhub refuses at once instead of asking GitHub again.
    world.fake.clear_faults();
    let again = world.sync(&slug).await;
    assert_problem(&again, 429, "GITHUB_RATE_LIMITED");
    assert_eq!(world.issue_list_requests(), 2, "no request while limited");

    tokio::time::sleep(std::time::Duration::from_secs(retry_after + 1)).await;
    assert_retry_completes(&world, &slug, stored).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Revoked").await;

    world.fake.revoke_token(GH_TOKEN);
    let sync = world.sync(&slug).await;
    assert_problem(&sync, 422, "GITHUB_UNAUTHORIZED");
    assert!(
        !sync.body.to_string().contains(GH_TOKEN),
        "the token is never echoed"
    );
    let repos = world.api.get("/api/v1/github/repos").await.unwrap();
    assert_problem(&repos, 422, "GITHUB_UNAUTHORIZED");
    assert!(world.tasks(&slug).await.is_empty());
    let runs = world.runs(&slug).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["error_code"], "GITHUB_UNAUTHORIZED");

    // Connecting with the revoked token is refused too, and the stored one is kept.
    let reconnect = world
        .api
        .post(
            "/api/v1/integrations/github",
            &serde_json::json!({ "token": GH_TOKEN }),
        )
        .await
        .unwrap();
    assert_problem(&reconnect, 422, "GITHUB_UNAUTHORIZED");
    let shown = world.api.get("/api/v1/integrations/github").await.unwrap();
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["account_login"], GH_LOGIN);
}
