//! Webhooks end to end: the fake GitHub sends signed deliveries to the real pmhub,
//! whose job workers store each once, mark the changed issue dirty and enqueue the
//! project's merge in the same transaction (what the merge then does is in
//! `two_way.rs`).

use crate::support::{GH_LOGIN, GH_TOKEN, ORG, REPO};
use pm_api::Application;
use pm_e2e::api::Api;
use pm_github_fake::{DeliveryStatus, FakeGithub, GenerateIssues, NewHook, StateReason};
use pm_integrations::two_way::MERGE_JOB;
use pm_integrations::webhooks::{DELIVERY_JOB, DeliveryOutcome, DeliveryStore, DirtyIssues};
use pm_jobs::{JobFilter, JobQueue};
use pm_kernel::ProjectId;
use pm_postgres::testing::TestDb;
use pm_postgres::{PgJobQueue, PgWebhookStore};
use secrecy::ExposeSecret;
use serde_json::json;
use std::time::{Duration, Instant};

const SECRET: &str = "e2e-webhook-secret";

#[tokio::test(flavor = "multi_thread")]
async fn closing_an_issue_on_github_is_stored_once_and_enqueues_the_merge() {
    let fake = FakeGithub::new();
    fake.add_user(GH_TOKEN, GH_LOGIN).unwrap();
    fake.add_org(ORG).unwrap();
    fake.add_org_member(ORG, GH_LOGIN).unwrap();
    let (owner, name) = REPO.split_once('/').unwrap();
    fake.add_repo(owner, name, true).unwrap();
    fake.add_issues(REPO, &GenerateIssues::new(3)).unwrap();
    let github = fake.clone().start("127.0.0.1:0").await.unwrap();

    let db = TestDb::new().await;
    let settings = pm_e2e::settings::extract(
        pm_e2e::settings::figment(&db.url, &github.base_url, ORG)
            .merge(("server.workers", 2))
            .merge(("github.webhook_secret", format!("old-secret,{SECRET}")))
            .merge(("jobs.poll_interval_ms", 50)),
    )
    .unwrap();
    let app = Application::build(&settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    let workers = pm_api::jobs::start(&settings).unwrap();

    let state = pm_api::startup::build_state(&settings, db.db.clone()).unwrap();
    let admin = state
        .accounts
        .bootstrap("e2e", "admin@e2e.example")
        .await
        .unwrap();
    let api = Api::new(base.clone())
        .unwrap()
        .with_token(admin.token.expose_secret());
    let reply = api
        .post("/api/v1/integrations/github", &json!({ "token": GH_TOKEN }))
        .await
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = api
        .post(
            "/api/v1/projects",
            &json!({ "name": "Hooked", "description": "e2e" }),
        )
        .await
        .unwrap();
    let slug = reply.body["slug"].as_str().unwrap().to_string();
    let project = ProjectId::from_uuid(reply.body["id"].as_str().unwrap().parse().unwrap());
    let reply = api
        .put(
            &format!("/api/v1/projects/{slug}/github-repo"),
            &json!({ "full_name": REPO }),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);

    // The hook, as an admin would add it on GitHub (creating it sends a ping).
    fake.add_hook(
        REPO,
        NewHook {
            url: format!("{base}/api/v1/webhooks/github"),
            secret: Some(SECRET.into()),
            events: vec!["issues".into(), "repository".into()],
            content_type: None,
            active: None,
        },
    )
    .unwrap();
    let issue = fake.close_issue(REPO, 2, StateReason::Completed).unwrap();
    let issue_id = i64::try_from(issue.id).expect("an issue id fits i64");

    let store = PgWebhookStore::new(db.db.clone());
    let queue = PgJobQueue::new(db.db.clone());
    let merges = || async {
        queue
            .list(&JobFilter {
                kind: Some(MERGE_JOB.into()),
                ..JobFilter::for_project(project)
            })
            .await
            .unwrap()
    };
    // The delivery was processed: marked dirty, and the merge enqueued with the mark
    // (the merge clears the mark, so the job is what is left to see).
    let deadline = Instant::now() + Duration::from_secs(10);
    while merges().await.is_empty() {
        assert!(Instant::now() < deadline, "no merge was enqueued");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let first_merges = merges().await.len();
    // The fake saw its deliveries accepted (the ping 200, the close 202), and each is stored.
    let deliveries = fake.deliveries();
    let ping = deliveries.iter().find(|d| d.event == "ping").expect("ping");
    let closed = deliveries
        .iter()
        .find(|d| d.action.as_deref() == Some("closed"))
        .expect("closed");
    assert_eq!(ping.status, DeliveryStatus::Delivered);
    assert_eq!(ping.status_code, Some(200));
    assert_eq!(closed.status_code, Some(202));
    let stored = store.get(&closed.guid).await.unwrap().expect("stored");
    assert_eq!(stored.outcome, Some(DeliveryOutcome::MarkedDirty));
    let payload: serde_json::Value = serde_json::from_str(&stored.delivery.payload).unwrap();
    assert_eq!(payload["issue"]["id"].as_i64(), Some(issue_id));
    assert_eq!(
        stored.delivery.repository_id,
        Some(i64::try_from(closed.repository_id).expect("a repository id fits i64"))
    );

    // A redelivery of the same GUID is answered 200 and changes nothing.
    let again = fake.redeliver(closed.id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.delivery(again).unwrap().status_code.is_none() {
        assert!(Instant::now() < deadline, "the redelivery was not sent");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(fake.delivery(again).unwrap().status_code, Some(200));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let deliveries = queue
        .list(&JobFilter {
            kind: Some(DELIVERY_JOB.into()),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        deliveries
            .iter()
            .filter(|j| j.payload["delivery_id"] == closed.guid.as_str())
            .count(),
        1,
        "the redelivery was not processed again"
    );
    assert_eq!(merges().await.len(), first_merges, "no new merge");
    assert!(
        store.list(project, 10).await.unwrap().is_empty(),
        "no new mark"
    );

    workers.shutdown().await;
    handle.stop(false).await;
    drop(github);
}
