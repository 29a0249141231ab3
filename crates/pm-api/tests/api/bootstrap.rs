//! `pmhub bootstrap` (the real binary) on a database nobody has migrated yet.

use crate::helpers::settings_for;
use pm_api::Application;
use pm_postgres::testing::TestDb;
use std::path::Path;
use std::process::Command;

/// Runs `pmhub bootstrap` against `url`; returns (success, stdout, stderr).
fn bootstrap(url: &str, workspace: &str, email: &str) -> (bool, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_pmhub"))
        .args(["bootstrap", "--workspace", workspace, "--email", email])
        .current_dir(&root)
        .env("DATABASE_URL", url)
        .env("PMHUB_ENV", "development")
        .env("PMHUB_CONFIG_DIR", root.join("config"))
        .env_remove("PMHUB__DATABASE__URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("run pmhub");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_on_an_empty_database_migrates_it_and_prints_a_working_token() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::empty().await;

    let (ok, stdout, stderr) = bootstrap(&db.url, "acme", "admin@acme.example");
    assert!(ok, "bootstrap failed on an empty database: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout holds the token alone: {stdout:?}");
    let token = lines[0];
    assert!(!token.is_empty());
    assert!(
        !stderr.contains(token),
        "the token is printed on stdout only"
    );

    // The token works against a server on that database.
    let settings = settings_for(&db, &[]);
    let app = Application::build(&settings).await.expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    let client = reqwest::Client::new();
    let me = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["email"], "admin@acme.example", "{me}");
    assert_eq!(me["role"], "admin", "{me}");
    assert_eq!(me["workspace"]["name"], "acme", "{me}");
    let bad = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth("pmh_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);

    // A second bootstrap on the now migrated database applies nothing and works too.
    let (ok, stdout2, stderr) = bootstrap(&db.url, "globex", "admin@globex.example");
    assert!(ok, "second bootstrap failed: {stderr}");
    assert_ne!(stdout2.trim(), token);
    handle.stop(false).await;
}
