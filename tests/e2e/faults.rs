//! GitHub misbehaving mid-import: the pages already stored stay consistent, and the same
//! run resumes at its checkpoint by itself (after a retry's back-off or a rate limit's
//! reset) and completes without duplicates.

use crate::support::*;
use pm_github_fake::FaultSettings;
use std::time::{Duration, Instant};

/// What an interrupted import left behind, checked against the run's record.
async fn assert_partial_import(world: &World, slug: &str) -> usize {
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
    assert_eq!(
        runs[0]["created"].as_u64(),
        Some(tasks.len() as u64),
        "the run counts what it stored: {}",
        runs[0]
    );
    tasks.len()
}

/// Polls the run at `location` until it finished; returns it and every status seen.
async fn until_finished(
    world: &World,
    location: &str,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let run = world.api.get(location).await.expect("run");
        assert_eq!(run.status, 200, "{}", run.body);
        seen.push(run.body.clone());
        if ["succeeded", "failed", "canceled"].contains(&run.body["status"].as_str().unwrap_or(""))
        {
            return (run.body, seen);
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish: {}",
            run.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same run, resumed by itself, ends with every issue imported exactly once.
fn assert_resumed_run_completes(
    world: &World,
    slug: &str,
    run: &serde_json::Value,
) -> impl std::future::Future<Output = ()> {
    let issues = world.issues();
    let run = run.clone();
    let slug = slug.to_string();
    async move {
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["created"].as_u64(), Some(issues.len() as u64), "{run}");
        assert_eq!(run["total_seen"].as_u64(), Some(ITEMS), "{run}");
        assert_eq!(run["progress"]["pages"], 3, "{run}");
        assert_tasks_mirror_issues(&world.tasks(&slug).await, &issues);
        assert_eq!(world.runs(&slug).await.len(), 1, "no second run was needed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_mid_import_then_the_retry_resumes_and_duplicates_nothing() {
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
    let fake = world.fake.clone();
    let list_requests = move |fake: &pm_github_fake::FakeGithub| -> u64 {
        fake.stats()
            .by_route
            .iter()
            .filter(|(route, _)| route.starts_with("GET ") && route.ends_with("/issues"))
            .map(|(_, n)| n)
            .sum()
    };
    let watcher = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        // (The repository check before the run is queued is not a list request.)
        while list_requests(&fake) == 0 {
            assert!(Instant::now() < deadline, "page 1 was never requested");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        fake.set_faults(FaultSettings {
            error_every: Some(1),
            latency_ms: Some(0),
            ..FaultSettings::default()
        });
    });

    // The attempt fails; the run is queued for a retry, and the waiting request is
    // answered at once with the run and its error.
    let failed = world.sync(&slug).await;
    watcher.await.expect("watcher");
    world.fake.clear_faults();
    assert_eq!(failed.status, 202, "{}", failed.body);
    assert_eq!(
        failed.body["error_code"], "GITHUB_UNAVAILABLE",
        "{}",
        failed.body
    );
    assert!(
        world.issue_list_requests() > 4,
        "page 1, then page 2 tried once and retried 3 times"
    );
    assert_partial_import(&world, &slug).await;

    // The retry resumes at page 2 (its checkpoint), by itself.
    let location = failed.header("location").expect("Location").to_string();
    let (run, _) = until_finished(&world, &location).await;
    assert!(run["attempts"].as_u64() >= Some(2), "{run}");
    assert_resumed_run_completes(&world, &slug, &run).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_mid_import_parks_the_run_and_it_finishes_by_itself() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Rate Limited").await;

    // Page 1 is served, then the primary limit is exhausted for two seconds.
    world.fake.set_faults(FaultSettings {
        primary_limit_after: Some(1),
        primary_reset_secs: Some(2),
        ..FaultSettings::default()
    });
    // No wait: 202 at once; the run parks at the limit and resumes by itself after the
    // reset, with no further call.
    let started = world
        .api
        .post(
            &format!("/api/v1/projects/{slug}/github/sync"),
            &serde_json::json!({ "repo": REPO }),
        )
        .await
        .expect("sync");
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    assert_eq!(
        started.body["id"].as_str().map(|id| location.ends_with(id)),
        Some(true)
    );
    let (run, seen) = until_finished(&world, &location).await;
    let waiting = seen
        .iter()
        .find(|r| r["status"] == "waiting")
        .unwrap_or_else(|| panic!("never seen waiting: {seen:?}"));
    assert_eq!(waiting["error_code"], "GITHUB_RATE_LIMITED", "{waiting}");
    assert!(waiting["resumes_at"].is_string(), "{waiting}");
    assert_resumed_run_completes(&world, &slug, &run).await;
    assert_eq!(
        world.issue_list_requests(),
        4,
        "page 1, page 2 refused, then pages 2 and 3 after the reset: a limited token is not hammered"
    );
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
    assert!(runs.is_empty(), "refused before a run is queued: {runs:?}");

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
