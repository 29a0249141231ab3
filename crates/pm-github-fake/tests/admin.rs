//! The `/_fake` control API and the `github-fake` binary.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{client, start};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn seeding_a_world_over_http() {
    let env = start().await;
    let admin = |m, p: &'static str, b| env.admin(m, p, b);

    let resp = admin(
        Method::POST,
        "/_fake/users",
        Some(json!({"token": "ghp_carol", "login": "carol"})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let carol: Value = resp.json().await.expect("JSON");
    assert!(carol["id"].as_u64().is_some());
    let resp = admin(
        Method::POST,
        "/_fake/orgs",
        Some(json!({"login": "initech", "members": ["carol"]})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let resp = admin(
        Method::POST,
        "/_fake/repos",
        Some(json!({"owner": "initech", "name": "tps", "private": true})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let repo: Value = resp.json().await.expect("JSON");
    assert_eq!(repo["full_name"], "initech/tps");
    let resp = admin(
        Method::POST,
        "/_fake/repos/initech/tps/issues/generate",
        Some(json!({"count": 12, "pull_request_every": 4, "closed_every": 3, "not_planned_every": 2})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let gen_result: Value = resp.json().await.expect("JSON");
    assert_eq!(
        gen_result,
        json!({"created": 12, "first_number": 1, "last_number": 12})
    );

    let resp = admin(
        Method::POST,
        "/_fake/repos/initech/tps/issues/1/close",
        Some(json!({"reason": "not_planned"})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let closed: Value = resp.json().await.expect("JSON");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["state_reason"], "not_planned");
    let resp = admin(
        Method::POST,
        "/_fake/repos/initech/tps/issues/1/reopen",
        None,
    )
    .await;
    let reopened: Value = resp.json().await.expect("JSON");
    assert_eq!(reopened["state"], "open");
    let resp = admin(
        Method::POST,
        "/_fake/repos/initech/tps/issues",
        Some(json!({"title": "By hand", "labels": ["bug"]})),
    )
    .await;
    assert_eq!(resp.status(), 201);

    // carol sees it through the API.
    let items: Value = env
        .client
        .get(env.url("/repos/initech/tps/issues?state=all&per_page=100"))
        .header("user-agent", "t")
        .bearer_auth("ghp_carol")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(items.as_array().map(Vec::len), Some(13));
    assert_eq!(items[0]["title"], "By hand");
    assert_eq!(items[0]["user"]["login"], "carol");

    let issues: Value = admin(Method::GET, "/_fake/repos/initech/tps/issues", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(issues.as_array().map(Vec::len), Some(13));

    // Errors are JSON with a message.
    let resp = admin(
        Method::POST,
        "/_fake/repos",
        Some(json!({"owner": "nobody", "name": "x"})),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nobody"))
    );
    let resp = admin(
        Method::POST,
        "/_fake/repos",
        Some(json!({"owner": "initech", "name": "tps"})),
    )
    .await;
    assert_eq!(resp.status(), 409);
    let resp = admin(
        Method::POST,
        "/_fake/repos/initech/nope/issues/generate",
        Some(json!({"count": 1})),
    )
    .await;
    assert_eq!(resp.status(), 404);

    // Reset forgets everything.
    assert_eq!(
        admin(Method::POST, "/_fake/reset", None).await.status(),
        204
    );
    assert!(env.fake.repo("initech/tps").is_none());
    assert_eq!(env.get("/user").await.status(), 401);
    env.running.stop().await;
}

#[tokio::test]
async fn seed_endpoint_accepts_the_seed_file_format() {
    let env = start().await;
    let seed = json!({
        "users": [{"token": "ghp_dave", "login": "dave"}],
        "orgs": [{"login": "globex", "members": ["dave"]}],
        "repos": [{"owner": "globex", "name": "hammock", "private": true,
                   "issues": {"count": 3, "labels": ["bug"]}}]
    });
    let resp = env.admin(Method::POST, "/_fake/seed", Some(seed)).await;
    assert_eq!(resp.status(), 204);
    let issues = env.fake.issues_of("globex/hammock").expect("repo");
    assert_eq!(issues.len(), 3);
    assert!(
        issues
            .iter()
            .all(|i| i.labels == ["bug"] && i.author == "dave")
    );
    env.running.stop().await;
}

/// Kills the child on drop so a failing test leaves no process behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_its_url_and_serves_the_seed() {
    let dir = std::env::temp_dir().join(format!("github-fake-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let seed_path = dir.join("seed.json");
    std::fs::write(
        &seed_path,
        json!({
            "users": [{"token": "ghp_erin", "login": "erin"}],
            "repos": [{"owner": "erin", "name": "notes", "issues": {"count": 45}}]
        })
        .to_string(),
    )
    .expect("write seed");

    let mut child = Server(
        Command::new(env!("CARGO_BIN_EXE_github-fake"))
            .args(["--bind", "127.0.0.1:0", "--seed-file"])
            .arg(&seed_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn github-fake"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        }),
    )
    .await
    .expect("ready in time")
    .expect("reader task")
    .expect("read line");
    let base = line.trim();
    assert!(base.starts_with("http://127.0.0.1:"), "{base:?}");

    let resp = client(true)
        .get(format!("{base}/repos/erin/notes/issues"))
        .header("user-agent", "t")
        .bearer_auth("ghp_erin")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("link").is_some(),
        "45 issues at 30 per page"
    );
    let items: Value = resp.json().await.expect("JSON");
    assert_eq!(items[0]["number"], 45);
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_example_seed_file_stays_valid() {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/seed.example.json"))
        .expect("seed.example.json");
    let seed: pm_github_fake::Seed = serde_json::from_str(&raw).expect("parses as Seed");
    let fake = pm_github_fake::FakeGithub::new();
    fake.apply_seed(&seed).expect("applies");
    assert_eq!(
        fake.repo("acme/benchmark").map(|r| r.issue_count),
        Some(10_000)
    );
    assert_eq!(fake.repo("alice/notes").map(|r| r.private), Some(false));
}
