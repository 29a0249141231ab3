//! Shared setup: a started fake with one user in one organization, and a reqwest client that
//! talks to it the way pmhub does (User-Agent, token, GitHub's Accept header).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]
#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeSet;

use pm_github_fake::{FakeGithub, Running};
use reqwest::{Client, Method, RequestBuilder, Response, redirect};
use serde_json::Value;

pub const TOKEN: &str = "ghp_alice";
pub const OTHER_TOKEN: &str = "ghp_bob";
pub const ORG: &str = "acme";

pub struct Env {
    pub running: Running,
    pub fake: FakeGithub,
    pub client: Client,
    /// Does not follow redirects, to observe them.
    pub raw_client: Client,
}

pub fn client(follow_redirects: bool) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policy = if follow_redirects {
        redirect::Policy::default()
    } else {
        redirect::Policy::none()
    };
    Client::builder()
        .redirect(policy)
        .build()
        .expect("reqwest client")
}

/// alice (token [`TOKEN`]) is a member of [`ORG`]; bob (token [`OTHER_TOKEN`]) is not.
pub async fn start() -> Env {
    let fake = FakeGithub::new();
    fake.add_user(TOKEN, "alice").expect("alice");
    fake.add_user(OTHER_TOKEN, "bob").expect("bob");
    fake.add_org(ORG).expect("org");
    fake.add_org_member(ORG, "alice").expect("member");
    let running = fake.clone().start("127.0.0.1:0").await.expect("start");
    Env {
        running,
        fake,
        client: client(true),
        raw_client: client(false),
    }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.running.base_url, path)
        }
    }

    /// A request as pmhub sends it (absolute URLs, e.g. from `Link`, are used as they are).
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("user-agent", "pmhub-tests")
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .bearer_auth(TOKEN)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("JSON body")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.req(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// Admin API call (no auth needed).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("admin request")
    }
}

/// A fixture from the repository's `tests/fixtures/github/`, read at test time.
pub fn fixture(rel: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/github/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// First item of an array fixture, or the fixture itself.
pub fn first(v: Value) -> Value {
    match v {
        Value::Array(mut items) => items.swap_remove(0),
        other => other,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Asserts that every key of `example` (except `allowed_missing`) is in `actual`, listing all
/// missing keys at once.
pub fn assert_has_keys(actual: &Value, example: &Value, allowed_missing: &[&str], what: &str) {
    assert!(example.is_object(), "{what}: example is not an object");
    assert!(
        actual.is_object(),
        "{what}: answer is not an object: {actual}"
    );
    let have = keys(actual);
    let missing: Vec<String> = keys(example)
        .into_iter()
        .filter(|k| !have.contains(k) && !allowed_missing.contains(&k.as_str()))
        .collect();
    assert!(missing.is_empty(), "{what}: missing keys {missing:?}");
}

/// Parses a `Link` header into `(rel, url)` pairs, in order.
pub fn links(resp: &Response) -> Vec<(String, String)> {
    let Some(value) = resp.headers().get("link") else {
        return Vec::new();
    };
    value
        .to_str()
        .expect("ASCII link header")
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").expect("url; rel");
            let url = url.trim_start_matches('<').trim_end_matches('>');
            let rel = rel
                .strip_prefix("rel=\"")
                .and_then(|r| r.strip_suffix('"'))
                .expect("rel=\"...\"");
            (rel.to_owned(), url.to_owned())
        })
        .collect()
}

pub fn link<'a>(links: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    links
        .iter()
        .find(|(r, _)| r == rel)
        .map(|(_, u)| u.as_str())
}

pub fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}
