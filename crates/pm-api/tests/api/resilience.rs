//! Faults the service must survive: a database that freezes or goes away, bodies
//! that never finish, and malformed requests the framework rejects itself.

use crate::helpers::settings_for;
use crate::proxy::{Mode, Proxy};
use pm_api::Application;
use pm_postgres::testing::TestDb;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The app on a fresh database, reached through a switchable proxy.
struct ProxiedApp {
    base: String,
    port: u16,
    proxy: Proxy,
    token: String,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _db: TestDb,
}

impl Drop for ProxiedApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

async fn spawn_proxied(overrides: &[(&str, &str)]) -> ProxiedApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new().await;
    let parsed = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(upstream).await;
    let proxied_url = proxy.url_for(&db.url);
    let mut all = vec![("database.url", proxied_url.as_str())];
    all.extend_from_slice(overrides);
    let settings = settings_for(&db, &all);
    let app = Application::build(&settings).await.expect("build app");
    let port = app.port();
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    // The admin is created directly (not through the proxy).
    let state = pm_api::startup::build_state(&settings, db.db.clone()).unwrap();
    let token = state
        .accounts
        .bootstrap("faults", "admin@faults.example")
        .await
        .unwrap()
        .token
        .expose_secret()
        .to_string();
    ProxiedApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        proxy,
        token,
        client: reqwest::Client::new(),
        handle,
        _db: db,
    }
}

const SHORT_DB: &[(&str, &str)] = &[
    ("database.statement_timeout_ms", "1000"),
    ("database.operation_timeout_ms", "1500"),
    ("database.ping_timeout_ms", "1000"),
];

impl ProxiedApp {
    async fn me(&self) -> (reqwest::Response, Duration) {
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}/api/v1/me", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (resp, started.elapsed())
    }

    async fn readyz(&self) -> (u16, Duration) {
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), started.elapsed())
    }
}

async fn expect_unavailable(resp: reqwest::Response) {
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "DATABASE_UNAVAILABLE", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_answers_503_within_the_deadline_and_recovers() {
    let app = spawn_proxied(SHORT_DB).await;
    let (resp, _) = app.me().await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.readyz().await.0, 200);

    app.proxy.set(Mode::Frozen);
    let (status, took) = app.readyz().await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_secs(2), "/readyz took {took:?}");
    // Several at once: each holds (or waits for) a connection that hangs.
    let calls = futures_util::future::join_all((0..4).map(|_| app.me())).await;
    for (resp, took) in calls {
        assert!(took < Duration::from_millis(2500), "took {took:?}");
        expect_unavailable(resp).await;
    }

    app.proxy.set(Mode::Open);
    let (resp, took) = app.me().await;
    assert_eq!(resp.status(), 200, "after the freeze");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(app.readyz().await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_answers_503_not_500_and_recovers() {
    let app = spawn_proxied(SHORT_DB).await;
    assert_eq!(app.me().await.0.status(), 200);

    app.proxy.set(Mode::Down);
    let (resp, took) = app.me().await;
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    expect_unavailable(resp).await;
    // A second call: the pool must open a new connection, and cannot.
    expect_unavailable(app.me().await.0).await;
    assert_eq!(app.readyz().await.0, 503);

    app.proxy.set(Mode::Open);
    assert_eq!(app.me().await.0.status(), 200, "after the outage");
    assert_eq!(app.readyz().await.0, 200);
}

/// Open file descriptors of this (test) process, where the server runs too.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Reads until the server closes the connection (or `limit` passes).
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_cut_with_408_and_their_connections_closed() {
    let app = spawn_proxied(&[("server.body_timeout_secs", "1")]).await;
    // Warm the pool (up to its 16 connections, 3 descriptors each through the
    // in-process proxy) and the workers, then count.
    for (resp, _) in futures_util::future::join_all((0..48).map(|_| app.me())).await {
        assert_eq!(resp.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = open_fds();

    let started = Instant::now();
    let mut streams = Vec::new();
    for i in 0..200 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        // Most with a token (the handler waits on the body), some without (401
        // before the body is read): neither may keep the connection.
        let auth = if i % 10 == 0 {
            String::new()
        } else {
            format!("Authorization: Bearer {}\r\n", app.token)
        };
        let head = format!(
            "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": \"half"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        streams.push((i, stream));
    }
    let during = open_fds();
    assert!(during >= idle + 200, "idle {idle}, during {during}");

    let answers = futures_util::future::join_all(
        streams
            .iter_mut()
            .map(|(i, s)| async { (*i, read_to_close(s, Duration::from_secs(5)).await) }),
    )
    .await;
    let took = started.elapsed();
    for (i, answer) in answers {
        let answer = answer.unwrap_or_else(|| panic!("connection {i} was not closed"));
        let expected = if i % 10 == 0 { "401" } else { "408" };
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {expected}")),
            "{i}: {answer}"
        );
        assert!(answer.contains("application/problem+json"), "{answer}");
    }
    assert!(took < Duration::from_secs(4), "took {took:?}");
    drop(streams);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = open_fds();
    assert!(after <= idle + 10, "idle {idle}, after {after}");
    // The server still serves.
    assert_eq!(app.me().await.0.status(), 200);
}

/// Sends raw bytes and returns everything the server answers before it closes.
async fn raw_exchange(port: u16, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_to_close(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closes the connection")
}

/// Head and parsed problem of a raw answer that must be problem+json with an
/// exact `content-length`.
fn problem_of(answer: &str) -> (String, Value) {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head end: {answer}"));
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("\r\ncontent-type: application/problem+json\r\n")
            || lower.ends_with("\r\ncontent-type: application/problem+json"),
        "{answer}"
    );
    assert!(
        lower.contains(&format!("\r\ncontent-length: {}", body.len())),
        "{answer}"
    );
    let problem = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    (lower, problem)
}

/// actix-http's h1 dispatcher answers these itself, before any of our code runs;
/// `transport_errors::ProblemWriter` rewrites its empty-bodied heads into
/// problem+json (docs/api.md, "Errors the server answers before the application").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_rejections_over_raw_tcp() {
    let app = spawn_proxied(&[("server.head_timeout_secs", "1")]).await;
    let bad_line = raw_exchange(app.port, b"GARBAGE\r\n\r\n").await;
    let bad_header = raw_exchange(app.port, b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n").await;
    // A head over actix's 128 KiB limit.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let too_large = raw_exchange(app.port, huge.as_bytes()).await;
    let started = Instant::now();
    let stalled = raw_exchange(app.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    let stalled_took = started.elapsed();
    // A good request, then a bad one on the same connection: the first answer
    // passes unchanged, the second is the problem.
    let pipelined = raw_exchange(
        app.port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
    )
    .await;
    let (first, second) = pipelined
        .split_once("HTTP/1.1 400")
        .unwrap_or_else(|| panic!("{pipelined}"));
    assert!(first.starts_with("HTTP/1.1 200"), "{pipelined}");
    let second = format!("HTTP/1.1 400{second}");
    for (answer, status, code) in [
        (&bad_line, "400", "VALIDATION_FAILED"),
        (&bad_header, "400", "VALIDATION_FAILED"),
        (&too_large, "431", "HEADERS_TOO_LARGE"),
        (&stalled, "408", "REQUEST_TIMEOUT"),
        (&second, "400", "VALIDATION_FAILED"),
    ] {
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        let (head, problem) = problem_of(answer);
        assert!(head.contains("\r\nconnection: close"), "{answer}");
        assert_eq!(problem["code"], code, "{answer}");
        assert_eq!(problem["status"].as_u64(), status.parse().ok(), "{answer}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // actix-http counts the head deadline from a clock it refreshes every 500 ms
    // (its date service), so it can fire up to 500 ms early.
    assert!(
        stalled_took >= Duration::from_millis(450) && stalled_took < Duration::from_secs(3),
        "the head timeout is 1 s; took {stalled_took:?}"
    );
    // The same faults inside a well-formed request reach the application and
    // are problem+json: an unparseable body, a body over the limit.
    let bad_json = raw_exchange(
        app.port,
        format!(
            "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{{nope",
            app.token
        )
        .as_bytes(),
    )
    .await;
    assert!(bad_json.starts_with("HTTP/1.1 400"), "{bad_json}");
    assert_eq!(problem_of(&bad_json).1["code"], "VALIDATION_FAILED");
}

/// A stop lets a request that is still arriving finish (within
/// `server.shutdown_timeout_secs`), closes its connection afterwards and accepts
/// no new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let app = spawn_proxied(&[]).await;
    let body = r#"{"name": "Stopping"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let head = format!(
        "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        app.token,
        body.len(),
        &body[..5]
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let handle = app.handle.clone();
    let stopping = tokio::spawn(async move { handle.stop(true).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "the stop waits for the request");
    stream.write_all(&body.as_bytes()[5..]).await.unwrap();
    let answer = read_to_close(&mut stream, Duration::from_secs(5))
        .await
        .expect("the connection is closed after the answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    tokio::time::timeout(Duration::from_secs(3), stopping)
        .await
        .expect("the stop completes")
        .unwrap();
    assert!(TcpStream::connect(("127.0.0.1", app.port)).await.is_err());
}
