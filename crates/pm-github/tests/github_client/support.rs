//! Shared helpers: real fixtures from the repository's `tests/fixtures/github/`, a client pointed at
//! a wiremock server, and request inspection.

use pm_github::{GithubClient, GithubConfig};
use pm_projects::RepoFullName;
use secrecy::SecretString;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;
use wiremock::{MockServer, ResponseTemplate};

/// Looks like a real token so that a leak would be recognisable.
pub const TOKEN: &str = "ghp_TestToken0123456789abcdefABCDEFxyz";
pub const USER_AGENT: &str = "pmhub-tests/1.0";

pub fn fixtures_dir() -> PathBuf {
    // The fixtures live in the repository, two levels up from crates/pm-github.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/github")
}

pub fn fixture(relative: &str) -> String {
    let path = fixtures_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

pub fn fixture_json(relative: &str) -> Value {
    serde_json::from_str(&fixture(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} is not JSON: {e}"))
}

pub fn token() -> SecretString {
    SecretString::from(TOKEN.to_string())
}

pub fn repo(full_name: &str) -> RepoFullName {
    RepoFullName::parse(full_name).expect("valid repo name")
}

/// Fast retries so failure paths do not slow the suite down.
pub fn config_for(base: &str) -> GithubConfig {
    let mut config = GithubConfig::new(Url::parse(base).expect("mock server URL"));
    config.user_agent = USER_AGENT.to_string();
    config.retry_base_delay = Duration::from_millis(1);
    config.request_timeout = Duration::from_secs(5);
    config
}

pub fn client(server: &MockServer) -> GithubClient {
    client_with(config_for(&server.uri()))
}

pub fn client_with(config: GithubConfig) -> GithubClient {
    GithubClient::new(config).expect("client builds")
}

/// A JSON answer with the body bytes exactly as given (fixtures stay byte-for-byte).
pub fn json(status: u16, body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/json; charset=utf-8")
}

pub async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

pub async fn request_count(server: &MockServer) -> usize {
    requests(server).await.len()
}

/// The official example issue, turned into a plain issue (the example carries a
/// `pull_request` object, which would make it a PR) with the given id and number.
pub fn plain_issue(id: i64, number: i64) -> Value {
    let mut issue = fixture_json("rest/official-examples/create-issue.201.json");
    let object = issue.as_object_mut().expect("issue is an object");
    object.remove("pull_request");
    object.insert("id".into(), id.into());
    object.insert("number".into(), number.into());
    object.insert(
        "html_url".into(),
        format!("https://github.com/octocat/Hello-World/issues/{number}").into(),
    );
    issue
}
