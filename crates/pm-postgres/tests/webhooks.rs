//! The receive path of webhook deliveries against a real PostgreSQL: a delivery and
//! its job are stored together, once per delivery id, also when the same delivery
//! arrives on several connections at once, and the runners are woken.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use pm_integrations::webhooks::{DELIVERY_JOB, DeliveryStore, NewDelivery};
use pm_postgres::testing::TestDb;
use pm_postgres::{JOBS_CHANNEL, PgWebhookStore};
use serde_json::json;
use std::time::Duration;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let row: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {sql}"))
        .get_result(&mut conn)
        .await
        .unwrap();
    row.n
}

fn delivery(id: &str) -> NewDelivery {
    NewDelivery {
        delivery_id: id.to_string(),
        event: "issues".into(),
        action: Some("closed".into()),
        repository_id: Some(42),
        repo_full_name: Some("octo/repo".into()),
        payload: json!({ "action": "closed", "issue": { "id": 7, "number": 1 } }).to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_is_stored_with_its_job_and_a_redelivery_writes_nothing() {
    let t = TestDb::new().await;
    let store = PgWebhookStore::new(t.db.clone());
    assert!(store.record(&delivery("d-1")).await.unwrap());
    assert!(store.record(&delivery("d-2")).await.unwrap());
    assert!(!store.record(&delivery("d-1")).await.unwrap(), "redelivery");

    assert_eq!(count(&t.url, "github_deliveries").await, 2);
    assert_eq!(
        count(
            &t.url,
            &format!(
                "jobs WHERE kind = '{DELIVERY_JOB}' AND status = 'queued' AND attempts = 0
                   AND run_at <= now() AND concurrency_key IS NULL
                   AND payload->>'delivery_id' IN ('d-1', 'd-2')"
            )
        )
        .await,
        2,
        "one due job per delivery"
    );
    let stored = store.get("d-1").await.unwrap().expect("stored");
    assert_eq!(stored.delivery, delivery("d-1"));
    assert!(stored.processed_at.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payload_is_stored_as_sent_and_compressed_with_lz4() {
    let t = TestDb::new().await;
    let store = PgWebhookStore::new(t.db.clone());
    // GitHub's own formatting: indentation, an escaped slash, a number beyond f64's
    // precision, a NUL escape — all of which a parse into jsonb and back would change.
    let big = format!(
        "{{\n  \"action\" : \"closed\",\n  \"url\": \"a\\/b\",  \"n\": 123456789012345678901234567890,\n  \"z\": \"\\u0000\", \"body\": \"{}\"\n}}",
        "word ".repeat(2000)
    );
    let small = r#"{ "zen" : "Keep it logically awesome.",  "hook_id": 1 }"#;
    for (id, payload) in [("big", big.as_str()), ("small", small)] {
        let d = NewDelivery {
            payload: payload.to_string(),
            ..delivery(id)
        };
        assert!(store.record(&d).await.unwrap());
        let stored = store.get(id).await.unwrap().expect("stored");
        assert_eq!(stored.delivery.payload, payload, "{id}: byte for byte");
    }
    assert_eq!(
        count(
            &t.url,
            "github_deliveries WHERE delivery_id = 'big' AND pg_column_compression(payload) = 'lz4'"
        )
        .await,
        1,
        "a payload large enough to be compressed is compressed with lz4"
    );
    assert_eq!(
        count(
            &t.url,
            "github_deliveries WHERE delivery_id = 'small' AND payload->>'zen' = 'Keep it logically awesome.'"
        )
        .await,
        1,
        "the column is json: its operators work"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_delivery_on_eight_connections_at_once_is_stored_once() {
    let t = TestDb::new().await;
    let store = PgWebhookStore::new(t.db.clone());
    for round in 0..5 {
        let id = format!("race-{round}");
        let attempts = (0..8).map(|_| {
            let (store, d) = (store.clone(), delivery(&id));
            tokio::spawn(async move { store.record(&d).await.unwrap() })
        });
        let mut stored = 0;
        for attempt in attempts {
            stored += usize::from(attempt.await.unwrap());
        }
        assert_eq!(stored, 1, "exactly one caller stored {id}");
    }
    assert_eq!(count(&t.url, "github_deliveries").await, 5);
    assert_eq!(
        count(&t.url, &format!("jobs WHERE kind = '{DELIVERY_JOB}'")).await,
        5
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_delivery_wakes_the_runners_and_a_redelivery_does_not() {
    let t = TestDb::new().await;
    let store = PgWebhookStore::new(t.db.clone());
    let mut listener = AsyncPgConnection::establish(&t.url).await.unwrap();
    diesel::sql_query(format!("LISTEN {JOBS_CHANNEL}"))
        .execute(&mut listener)
        .await
        .unwrap();
    let mut notifications = std::pin::pin!(listener.notifications_stream());

    assert!(store.record(&delivery("n-1")).await.unwrap());
    let first = tokio::time::timeout(Duration::from_secs(5), notifications.next())
        .await
        .expect("a notification for the new delivery's job")
        .unwrap()
        .unwrap();
    assert_eq!(first.channel, JOBS_CHANNEL);
    assert_eq!(first.payload, DELIVERY_JOB);

    assert!(!store.record(&delivery("n-1")).await.unwrap());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), notifications.next())
            .await
            .is_err(),
        "a redelivery enqueues nothing, so it notifies nothing"
    );
}
