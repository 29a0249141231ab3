//! The rate-limit gate and create pacing shared by instances: two clients on one
//! store behave like two pmhub instances on one database.

use crate::support::*;
use async_trait::async_trait;
use pm_github::{GithubClient, SharedThrottle};
use pm_integrations::{GithubApi, GithubThrottle, NewIssue, TokenKey};
use pm_kernel::{Error, GithubError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

/// Per token: blocked until, next create slot.
type Row = (Option<Instant>, Option<Instant>);

/// An in-memory store with the semantics of `PgGithubThrottle`.
#[derive(Default)]
struct MemoryThrottle {
    rows: Mutex<HashMap<TokenKey, Row>>,
    failing: AtomicBool,
    reservations: AtomicUsize,
}

impl MemoryThrottle {
    fn fail(&self) -> Result<(), Error> {
        if self.failing.load(Ordering::SeqCst) {
            Err(Error::Unavailable("database: down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl GithubThrottle for MemoryThrottle {
    async fn blocked_for(&self, token: &TokenKey) -> Result<Option<Duration>, Error> {
        self.fail()?;
        let now = Instant::now();
        Ok(self
            .rows
            .lock()
            .unwrap()
            .get(token)
            .and_then(|(blocked, _)| *blocked)
            .filter(|until| *until > now)
            .map(|until| until - now))
    }

    async fn block_for(&self, token: &TokenKey, wait: Duration) -> Result<(), Error> {
        self.fail()?;
        let until = Instant::now() + wait;
        let mut rows = self.rows.lock().unwrap();
        let row = rows.entry(token.clone()).or_default();
        row.0 = Some(row.0.map_or(until, |b| b.max(until)));
        Ok(())
    }

    async fn reserve_create_slot(
        &self,
        token: &TokenKey,
        interval: Duration,
    ) -> Result<Duration, Error> {
        self.fail()?;
        self.reservations.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let mut rows = self.rows.lock().unwrap();
        let row = rows.entry(token.clone()).or_default();
        let slot = row.1.map_or(now, |n| n.max(now));
        row.1 = Some(slot + interval);
        Ok(slot - now)
    }
}

fn instance(server: &MockServer, store: &Arc<MemoryThrottle>, interval: Duration) -> GithubClient {
    client(server).with_shared_throttle(SharedThrottle {
        throttle: store.clone(),
        fingerprint: Arc::new(pm_crypto::Sha256Fingerprint),
        create_interval: interval,
    })
}

fn issue() -> NewIssue {
    NewIssue {
        title: "t".into(),
        body: "b".into(),
        labels: vec![],
    }
}

async fn mount_secondary_limit(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            json(
                403,
                fixture("errors/403.secondary-rate-limit.2022-form.json"),
            )
            .insert_header("retry-after", "120"),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_limit_seen_by_one_instance_stops_the_other_without_a_request() {
    let server = MockServer::start().await;
    mount_secondary_limit(&server).await;
    let store = Arc::new(MemoryThrottle::default());
    let a = instance(&server, &store, Duration::ZERO);
    let b = instance(&server, &store, Duration::ZERO);

    let err = a.current_user(&token()).await.unwrap_err();
    assert_eq!(
        err,
        GithubError::RateLimited {
            retry_after_secs: 120
        }
    );
    let err = b.list_repos(&token()).await.unwrap_err();
    let GithubError::RateLimited { retry_after_secs } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert!(
        (119..=120).contains(&retry_after_secs),
        "{retry_after_secs}"
    );
    assert_eq!(
        request_count(&server).await,
        1,
        "the other instance does not hammer the limited token"
    );
    // Another token is not affected.
    let other = secrecy::SecretString::from("ghp_another_token");
    let _ = b.current_user(&other).await;
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn creates_are_paced_per_token_across_instances() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-issue.201.json"),
        ))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryThrottle::default());
    let interval = Duration::from_millis(150);
    let a = Arc::new(instance(&server, &store, interval));
    let b = Arc::new(instance(&server, &store, interval));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            client
                .create_issue(&token(), &repo("octocat/Hello-World"), &issue())
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(
        started.elapsed() >= 3 * interval,
        "4 creates with one token take at least 3 intervals: {:?}",
        started.elapsed()
    );
    assert_eq!(store.reservations.load(Ordering::SeqCst), 4);

    // Reads are not paced, and another token has its own slots.
    let other = secrecy::SecretString::from("ghp_another_token");
    let before = Instant::now();
    a.create_issue(&other, &repo("octocat/Hello-World"), &issue())
        .await
        .unwrap();
    assert!(before.elapsed() < interval, "{:?}", before.elapsed());
}

#[tokio::test]
async fn an_unreachable_store_fails_open_for_reads_and_waits_an_interval_for_creates() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-issue.201.json"),
        ))
        .mount(&server)
        .await;
    mount_secondary_limit(&server).await;
    let store = Arc::new(MemoryThrottle::default());
    store.failing.store(true, Ordering::SeqCst);
    let interval = Duration::from_millis(200);
    let github = instance(&server, &store, interval);
    let before = Instant::now();
    github
        .create_issue(&token(), &repo("octocat/Hello-World"), &issue())
        .await
        .unwrap();
    assert!(before.elapsed() >= interval, "{:?}", before.elapsed());
    // The local gate still holds a limit the store could not take.
    let err = github.current_user(&token()).await.unwrap_err();
    assert!(matches!(err, GithubError::RateLimited { .. }), "{err:?}");
    let _ = github.current_user(&token()).await;
    assert_eq!(
        request_count(&server).await,
        2,
        "one create, one limited read, then refused locally"
    );
}
