//! The shared GitHub throttle against a real PostgreSQL, with two pools standing
//! for two pmhub instances.

use pm_integrations::{GithubThrottle, TokenFingerprint, TokenKey};
use pm_postgres::testing::TestDb;
use pm_postgres::{Database, DbConfig, PgGithubThrottle};
use secrecy::SecretString;
use std::time::Duration;

fn key(token: &str) -> TokenKey {
    pm_crypto::Sha256Fingerprint.fingerprint(&SecretString::from(token))
}

/// A second "instance": its own pool on the same database.
fn second_instance(test: &TestDb) -> PgGithubThrottle {
    let mut config = DbConfig::new(&test.url);
    config.max_connections = 8;
    PgGithubThrottle::new(Database::connect(&config).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_reserving_at_once_never_get_slots_closer_than_the_interval() {
    let test = TestDb::new().await;
    let a = PgGithubThrottle::new(test.db.clone());
    let b = second_instance(&test);
    let token = key("ghp_shared_token");
    let interval = Duration::from_millis(250);

    let reserve = |throttle: PgGithubThrottle, token: TokenKey| {
        tokio::spawn(async move { throttle.reserve_slot(&token, interval).await.unwrap() })
    };
    let mut tasks = Vec::new();
    for i in 0..24 {
        let throttle = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(reserve(throttle, token.clone()));
    }
    let mut slots = Vec::new();
    for task in tasks {
        slots.push(task.await.unwrap());
    }
    slots.sort_by_key(|(slot, _)| *slot);
    for pair in slots.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= time::Duration::milliseconds(250),
            "slots {} and {} are {gap} apart",
            pair[0].0,
            pair[1].0
        );
    }
    // 24 slots at 250 ms: the last caller waits about 23 intervals (less the
    // time the reservations took), the first not at all.
    let waits: Vec<Duration> = slots.iter().map(|(_, w)| *w).collect();
    assert!(waits[0] < Duration::from_millis(250), "{waits:?}");
    assert!(waits[23] > Duration::from_millis(20 * 250), "{waits:?}");

    // Another token has its own pacing: its first slot is now.
    let (_, other_wait) = b
        .reserve_slot(&key("ghp_other_token"), interval)
        .await
        .unwrap();
    assert_eq!(other_wait, Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_written_by_one_instance_is_honoured_by_the_other() {
    let test = TestDb::new().await;
    let a = PgGithubThrottle::new(test.db.clone());
    let b = second_instance(&test);
    let token = key("ghp_limited_token");
    let other = key("ghp_free_token");

    assert_eq!(b.blocked_for(&token).await.unwrap(), None);
    a.block_for(&token, Duration::from_secs(120)).await.unwrap();
    let left = b.blocked_for(&token).await.unwrap().expect("blocked");
    assert!(
        left > Duration::from_secs(118) && left <= Duration::from_secs(120),
        "{left:?}"
    );
    assert_eq!(b.blocked_for(&other).await.unwrap(), None, "per token");

    // A shorter block reported later does not shorten the longer one.
    b.block_for(&token, Duration::from_secs(5)).await.unwrap();
    let left = a.blocked_for(&token).await.unwrap().expect("blocked");
    assert!(left > Duration::from_secs(118), "{left:?}");

    // A block lifts by itself.
    a.block_for(&other, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(b.blocked_for(&other).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.blocked_for(&other).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_fingerprint_is_stored() {
    use diesel::QueryableByName;
    use diesel::sql_types::Text;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        token_key: String,
    }
    let test = TestDb::new().await;
    let throttle = PgGithubThrottle::new(test.db.clone());
    let token = "ghp_SuperSecretToken1234567890abcd";
    throttle
        .block_for(&key(token), Duration::from_secs(1))
        .await
        .unwrap();
    throttle
        .reserve_create_slot(&key(token), Duration::from_secs(1))
        .await
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&test.url).await.unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT token_key FROM github_throttle")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_key, key(token).as_str());
    assert!(!rows[0].token_key.contains("SuperSecret"));
}
