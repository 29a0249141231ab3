//! Imports and pushes as durable jobs, through the real `pmhub serve` binary (one or two
//! processes on one database), the in-memory GitHub and PostgreSQL: answered at once,
//! resumed after `kill -9` and SIGTERM, parked by rate limits, one run per project
//! across processes.
//! (The fleet of processes is in `fleet.rs`.)

use crate::fleet::{
    Fleet, connect_and_project, finished, run_at, start_sync, sync_path, task_count, until,
};
use crate::support::REPO;
use pm_github_fake::FaultSettings;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;
use std::time::{Duration, Instant};

const TEN_THOUSAND: u64 = 10_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_answers_202_at_once_while_a_10000_issue_import_runs_and_counts_grow() {
    let fleet = Fleet::start(TEN_THOUSAND, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;

    let started = start_sync(&server.api, &slug).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    assert_eq!(
        location,
        format!(
            "/api/v1/projects/{slug}/github/sync-runs/{}",
            started.body["id"].as_str().unwrap()
        )
    );
    // While it runs, another sync answers 202 with the same run, well under 100 ms.
    let running = until(&server.api, &location, Duration::from_secs(60), |r| {
        r["status"] == "running" && r["progress"]["pages"].as_u64() >= Some(1)
    })
    .await;
    let mut latencies = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let again = start_sync(&server.api, &slug).await;
        latencies.push(t.elapsed());
        assert_eq!(again.status, 202, "{}", again.body);
        assert_eq!(again.body["id"], started.body["id"]);
    }
    latencies.sort();
    // A debug build on a busy 2-core machine has outliers: the median must be well under
    // 100 ms and none slow (the release figures, p99 included, are `make bench`'s).
    assert!(
        latencies[5] < Duration::from_millis(100),
        "median 202: {latencies:?}"
    );
    assert!(
        latencies[10] < Duration::from_secs(1),
        "slowest 202: {latencies:?}"
    );
    let later = until(&server.api, &location, Duration::from_secs(120), |r| {
        r["created"].as_u64() > running["created"].as_u64() || finished(r)
    })
    .await;
    assert!(
        later["created"].as_u64() > running["created"].as_u64(),
        "counts grow: {running} → {later}"
    );
    let done = until(&server.api, &location, Duration::from_secs(300), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["created"].as_u64(), Some(TEN_THOUSAND));
    assert_eq!(done["progress"]["pages"], 100);
    assert_eq!(fleet.issue_list_requests(), 100);

    // `Prefer: wait=60`: the one-call flow answers 200 with the counts.
    let waited = server
        .api
        .send_with(
            Method::POST,
            &sync_path(&slug),
            Some(&json!({ "repo": REPO })),
            &[("prefer", "wait=60")],
        )
        .await
        .expect("sync");
    assert_eq!(waited.status, 200, "{}", waited.body);
    assert_eq!(waited.header("preference-applied"), Some("wait=60"));
    assert_eq!(waited.body["created"], 0);
    assert_eq!(waited.body["skipped"].as_u64(), Some(TEN_THOUSAND));
    assert_ne!(waited.body["sync_run_id"], started.body["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_import_then_restart_resumes_the_same_run_from_its_checkpoint() {
    let fleet = Fleet::start(TEN_THOUSAND, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    let started = start_sync(&server.api, &slug).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    until(&server.api, &location, Duration::from_secs(120), |r| {
        r["progress"]["pages"].as_u64() >= Some(10)
    })
    .await;
    server.signal("-KILL");
    drop(server);
    let listed_before_restart = fleet.issue_list_requests();

    let server = fleet.serve().await;
    let done = until(&server.api, &location, Duration::from_secs(300), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["id"], started.body["id"], "the same run");
    assert!(done["attempts"].as_u64() >= Some(2), "{done}");
    assert_eq!(task_count(&server.api, &slug).await, TEN_THOUSAND as usize);
    let after = fleet.issue_list_requests() - listed_before_restart;
    assert!(after < 100, "listed {after} pages after the restart");
    let runs = server.api.sync_runs(&slug).await.expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_parks_the_run_waiting_then_it_finishes_by_itself() {
    let fleet = Fleet::start(250, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    fleet.fake.set_faults(FaultSettings {
        primary_limit_after: Some(2),
        primary_reset_secs: Some(3),
        ..FaultSettings::default()
    });
    let started = start_sync(&server.api, &slug).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    let waiting = until(&server.api, &location, Duration::from_secs(30), |r| {
        r["status"] == "waiting" || finished(r)
    })
    .await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    assert!(waiting["resumes_at"].is_string(), "{waiting}");
    assert_eq!(waiting["error_code"], "GITHUB_RATE_LIMITED");
    fleet.fake.clear_faults();
    // No further call: the run continues when GitHub allows.
    let done = until(&server.api, &location, Duration::from_secs(60), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["created"], 250, "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_eight_concurrent_syncs_one_import_every_caller_the_same_run() {
    let fleet = Fleet::start(250, 0).await;
    let a = fleet.serve().await;
    let b = fleet.serve().await;
    let slug = connect_and_project(&a.api).await;
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let api = if i % 2 == 0 {
                a.api.clone()
            } else {
                b.api.clone()
            };
            let slug = slug.clone();
            tokio::spawn(async move {
                api.send_with(
                    Method::POST,
                    &sync_path(&slug),
                    Some(&json!({ "repo": REPO })),
                    &[("prefer", "wait=60")],
                )
                .await
                .expect("sync")
            })
        })
        .collect();
    let mut replies = Vec::new();
    for call in calls {
        replies.push(call.await.expect("call"));
    }
    let first = &replies[0].body["sync_run_id"];
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            &reply.body["sync_run_id"], first,
            "every caller gets the same run"
        );
    }
    assert_eq!(task_count(&a.api, &slug).await, 250);
    assert_eq!(a.api.sync_runs(&slug).await.expect("runs").len(), 1);
    assert_eq!(fleet.issue_list_requests(), 3, "one import: 3 pages");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_push_of_20_tasks_then_the_restarted_process_completes_it() {
    let fleet = Fleet::start(0, 200).await;
    let mut server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    let linked = server
        .api
        .put(
            &format!("/api/v1/projects/{slug}/github-repo"),
            &json!({ "full_name": REPO }),
        )
        .await
        .expect("link");
    assert_eq!(linked.status, 200, "{}", linked.body);
    for i in 0..20 {
        let task = server
            .api
            .post(
                &format!("/api/v1/projects/{slug}/tasks"),
                &json!({ "title": format!("Task {i}") }),
            )
            .await
            .expect("task");
        assert_eq!(task.status, 201, "{}", task.body);
    }
    let started = server
        .api
        .post(&format!("/api/v1/projects/{slug}/github/push"), &json!({}))
        .await
        .expect("push");
    assert_eq!(started.status, 202, "{}", started.body);
    let location = started.header("location").expect("Location").to_string();
    until(&server.api, &location, Duration::from_secs(60), |r| {
        r["progress"]["tasks_done"].as_u64() >= Some(3)
    })
    .await;
    server.signal("-TERM");
    server.exited(Duration::from_secs(30)).await;
    drop(server);

    let server = fleet.serve().await;
    let done = until(&server.api, &location, Duration::from_secs(120), finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["progress"]["tasks_remaining"], 0, "{done}");
    let tasks = server.api.tasks(&slug).await.expect("tasks");
    assert_eq!(tasks.len(), 20);
    for task in &tasks {
        let links = task["external_links"].as_array().expect("links");
        assert_eq!(
            links.len(),
            1,
            "each task linked to exactly one issue: {task}"
        );
    }
    let issues = fleet.fake.issues_of(REPO).expect("repo");
    assert_eq!(issues.len(), 20, "no issue created twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_another_workspace_is_404_and_a_queued_run_can_be_canceled() {
    let fleet = Fleet::start(250, 0).await;
    let server = fleet.serve().await;
    let slug = connect_and_project(&server.api).await;
    // Slow GitHub down so the run is still going when canceled.
    fleet.fake.set_faults(FaultSettings {
        latency_ms: Some(500),
        ..FaultSettings::default()
    });
    let started = start_sync(&server.api, &slug).await;
    let location = started.header("location").expect("Location").to_string();
    let other = pm_api::startup::account_service(&fleet.db.db)
        .bootstrap("other", "admin@other.example")
        .await
        .expect("bootstrap");
    let stranger = server.api.with_token(other.token.expose_secret());
    let seen = stranger.get(&location).await.expect("get");
    assert_eq!(seen.status, 404, "{}", seen.body);
    let canceled = stranger.delete(&location).await.expect("delete");
    assert_eq!(canceled.status, 404, "{}", canceled.body);

    let cancel = server.api.delete(&location).await.expect("delete");
    assert!(
        [200, 202].contains(&cancel.status.as_u16()),
        "{}",
        cancel.body
    );
    let done = until(&server.api, &location, Duration::from_secs(30), finished).await;
    assert_eq!(done["status"], "canceled", "{done}");
    assert!(task_count(&server.api, &slug).await < 250);
    let again = server.api.delete(&location).await.expect("delete");
    assert_eq!(again.status, 200, "{}", again.body);
    let _ = run_at(&server.api, &location).await;
}
