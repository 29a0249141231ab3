//! Hooks API, PATCH semantics, signed deliveries to a local receiver, delivery faults and
//! request counting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::{Env, ORG, OTHER_TOKEN, assert_has_keys, start};
use pm_github_fake::{
    DeliveryFaults, DeliveryStatus, GenerateIssues, NewHook, NewIssue, signature_256,
};
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "It's a Secret to Everybody";

/// A template copied into the crate (`templates/`), read at test time.
fn template(name: &str) -> Value {
    let path = format!("{}/templates/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&raw).expect("template JSON")
}

#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn action(&self) -> String {
        self.json()["action"].as_str().unwrap_or("").to_owned()
    }
}

/// A local HTTP receiver that records every request and answers 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = got.clone();
        let server = HttpServer::new(move || {
            let sink = sink.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let sink = sink.clone();
                async move {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    sink.lock().expect("lock").push(Received {
                        headers,
                        body: body.to_vec(),
                        at: Instant::now(),
                    });
                    HttpResponse::Ok().body("thanks")
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("bind receiver");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{addr}/hook"),
            got,
            handle,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until `n` requests arrived (or panics after 5 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} deliveries, got {}: {:?}",
                got.len(),
                got.iter().map(Received::action).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn patch(env: &Env, path: &str, body: Value) -> reqwest::Response {
    env.req(Method::PATCH, path)
        .json(&body)
        .send()
        .await
        .expect("PATCH")
}

fn hook_body(url: &str) -> Value {
    json!({
        "name": "web", "active": true, "events": ["issues", "repository"],
        "config": {"url": url, "content_type": "json", "secret": SECRET, "insecure_ssl": "0"}
    })
}

/// alice's repo `acme/web` with a hook to a fresh receiver; the ping is awaited and cleared.
async fn hooked() -> (Env, Receiver, u64) {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    let rx = Receiver::start().await;
    let resp = env.post("/repos/acme/web/hooks", hook_body(&rx.url)).await;
    assert_eq!(resp.status(), 201);
    let hook: Value = resp.json().await.expect("hook");
    let id = hook["id"].as_u64().expect("id");
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("x-github-event"), "ping");
    rx.got.lock().expect("lock").clear();
    (env, rx, id)
}

#[test]
fn signatures_match_every_test_vector() {
    let raw = std::fs::read_to_string(format!(
        "{}/tests/data/signature-test-vectors.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("vectors");
    let v: Value = serde_json::from_str(&raw).expect("JSON");
    let vectors = v["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 3);
    for vec in vectors {
        let payload: Vec<u8> = match vec.get("payload_utf8") {
            Some(p) => p.as_str().expect("str").as_bytes().to_vec(),
            None => {
                // The fixture files were copied verbatim into templates/ as webhook.<name>.
                let file = vec["payload_file"].as_str().expect("file");
                let name = file.trim_start_matches("webhooks/");
                std::fs::read(format!(
                    "{}/templates/webhook.{name}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .expect("payload file")
            }
        };
        if let Some(len) = vec.get("payload_len_bytes") {
            assert_eq!(payload.len() as u64, len.as_u64().expect("len"));
        }
        assert_eq!(
            signature_256(vec["secret"].as_str().expect("secret").as_bytes(), &payload),
            vec["x_hub_signature_256"].as_str().expect("sig"),
        );
    }
}

#[tokio::test]
async fn hooks_api_shapes_and_errors() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake.add_repo(ORG, "open", false).expect("public repo");
    let rx = Receiver::start().await;

    let resp = env.post("/repos/acme/web/hooks", hook_body(&rx.url)).await;
    assert_eq!(resp.status(), 201);
    let text = resp.text().await.expect("body");
    assert!(!text.contains(SECRET), "secret echoed: {text}");
    let hook: Value = serde_json::from_str(&text).expect("JSON");
    let example = template("webhook.ping.json")["hook"].clone();
    assert_has_keys(&hook, &example, &[], "created hook");
    assert_eq!(hook["config"]["secret"], "********");
    assert_eq!(hook["config"]["url"], rx.url);
    assert_eq!(hook["events"], json!(["issues", "repository"]));
    assert_eq!(hook["type"], "Repository");
    let id = hook["id"].as_u64().expect("id");

    // Duplicate URL and missing URL: GitHub's 422s.
    let dup = env.post("/repos/acme/web/hooks", hook_body(&rx.url)).await;
    assert_eq!(dup.status(), 422);
    let dup: Value = dup.json().await.expect("JSON");
    assert_eq!(
        dup["errors"][0]["message"],
        "Hook already exists on this repository"
    );
    let no_url = env
        .post(
            "/repos/acme/web/hooks",
            json!({"config": {"content_type": "json"}}),
        )
        .await;
    assert_eq!(no_url.status(), 422);

    // bob cannot see the private repository (404) and cannot administer the public one (403).
    let as_bob = |method: Method, path: &str| {
        env.client
            .request(method, env.url(path))
            .header("user-agent", "t")
            .bearer_auth(OTHER_TOKEN)
    };
    let r = as_bob(Method::POST, "/repos/acme/web/hooks")
        .json(&hook_body("http://127.0.0.1:1/x"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let r = as_bob(Method::POST, "/repos/acme/open/hooks")
        .json(&hook_body("http://127.0.0.1:1/x"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    let r = as_bob(Method::GET, "/repos/acme/web/hooks")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);

    // List, get, patch, ping, delete.
    let list = env.get_json("/repos/acme/web/hooks").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(!list.to_string().contains(SECRET));
    let one = env.get_json(&format!("/repos/acme/web/hooks/{id}")).await;
    assert_eq!(one["id"], id);
    let patched = patch(
        &env,
        &format!("/repos/acme/web/hooks/{id}"),
        json!({"add_events": ["ping"], "remove_events": ["repository"], "active": false}),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("JSON");
    assert_eq!(patched["events"], json!(["issues", "ping"]));
    assert_eq!(patched["active"], false);
    assert_eq!(patched["config"]["secret"], "********");
    let pings = env
        .post(&format!("/repos/acme/web/hooks/{id}/pings"), json!({}))
        .await;
    assert_eq!(pings.status(), 204);
    let gone = env
        .req(Method::DELETE, &format!("/repos/acme/web/hooks/{id}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(gone.status(), 204);
    assert_eq!(
        env.get(&format!("/repos/acme/web/hooks/{id}"))
            .await
            .status(),
        404
    );

    // The creation ping and the explicit ping were both delivered, signed.
    let got = rx.wait_for(2).await;
    assert!(got.iter().all(|r| r.header("x-github-event") == "ping"));
    let ping = got[0].json();
    assert_has_keys(
        &ping,
        &template("webhook.ping.json"),
        &["organization"],
        "ping",
    );
    assert_eq!(ping["hook_id"], id);
    assert!(!String::from_utf8_lossy(&got[0].body).contains(SECRET));

    // The library path: unsigned without a secret; a URL already hooked is refused.
    let lib = env
        .fake
        .add_hook(
            "acme/open",
            NewHook::new(rx.url.clone(), None).events(["issues"]),
        )
        .expect("hook");
    assert!(
        env.fake
            .add_hook("acme/open", NewHook::new(rx.url.clone(), None))
            .is_err()
    );
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].header("x-github-hook-id"), lib.to_string());
    assert_eq!(got[2].header("x-hub-signature-256"), "");
    rx.stop().await;
    env.running.stop().await;
}

#[tokio::test]
async fn patch_closes_reopens_replaces_labels_and_changes_etag() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    // Generated issues have timestamps in the past, so a bump of updated_at shows.
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(1).labels(["bug"]))
        .expect("issue");
    let first = env.get("/repos/acme/web/issues/1").await;
    let etag1 = common::header(&first, "etag").expect("etag").to_owned();
    let before: Value = first.json().await.expect("JSON");

    let closed = patch(
        &env,
        "/repos/acme/web/issues/1",
        json!({"state": "closed", "state_reason": "not_planned"}),
    )
    .await;
    assert_eq!(closed.status(), 200);
    let etag2 = common::header(&closed, "etag").expect("etag").to_owned();
    let closed: Value = closed.json().await.expect("JSON");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["state_reason"], "not_planned");
    assert!(closed["closed_at"].is_string());
    assert_eq!(closed["closed_by"]["login"], "alice");
    assert_ne!(etag1, etag2);
    assert!(closed["updated_at"].as_str() > before["updated_at"].as_str());
    // The old ETag no longer validates.
    let r = env
        .req(Method::GET, "/repos/acme/web/issues/1")
        .header("if-none-match", &etag1)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);

    let reopened: Value = patch(&env, "/repos/acme/web/issues/1", json!({"state": "open"}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["state_reason"], "reopened");
    assert!(reopened["closed_at"].is_null());

    let relabeled: Value = patch(
        &env,
        "/repos/acme/web/issues/1",
        json!({"labels": ["enhancement", "question"], "title": "New title", "body": null}),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let names: Vec<&str> = relabeled["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names, ["enhancement", "question"]);
    assert_eq!(relabeled["title"], "New title");
    assert!(relabeled["body"].is_null());

    for bad in [
        json!({"state": "merged"}),
        json!({"state_reason": "because"}),
        json!({"title": " "}),
        json!({"labels": "bug"}),
    ] {
        let r = patch(&env, "/repos/acme/web/issues/1", bad.clone()).await;
        assert_eq!(r.status(), 422, "{bad}");
    }
    // Nothing of the refused patches was applied.
    let now = env.get_json("/repos/acme/web/issues/1").await;
    assert_eq!(now["title"], "New title");
    assert_eq!(now["state"], "open");

    // Deleted and transferred issues (control API).
    env.fake.add_repo(ORG, "other", true).expect("repo");
    env.fake
        .add_issue("acme/web", NewIssue::titled("second"))
        .expect("issue");
    let moved = env
        .admin(
            Method::POST,
            "/_fake/repos/acme/web/issues/2/transfer",
            Some(json!({"to": "acme/other"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let r = env
        .raw_client
        .get(env.url("/repos/acme/web/issues/2"))
        .header("user-agent", "t")
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 301);
    let del = env
        .admin(Method::POST, "/_fake/repos/acme/web/issues/1/delete", None)
        .await;
    assert_eq!(del.status(), 204);
    assert_eq!(env.get("/repos/acme/web/issues/1").await.status(), 410);
    let listed = env.get_json("/repos/acme/web/issues?state=all").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(0));
    assert_eq!(env.fake.issues_of("acme/other").expect("issues").len(), 1);
    env.running.stop().await;
}

/// Every kind of change reaches the receiver as a signed delivery shaped like GitHub's.
#[tokio::test]
async fn a_signed_delivery_for_each_kind_of_change() {
    let (env, rx, hook_id) = hooked().await;
    env.fake.add_repo(ORG, "other", true).expect("repo");

    let created = env
        .post(
            "/repos/acme/web/issues",
            json!({"title": "First", "body": "b"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    patch(
        &env,
        "/repos/acme/web/issues/1",
        json!({"title": "Renamed"}),
    )
    .await;
    patch(
        &env,
        "/repos/acme/web/issues/1",
        json!({"labels": ["bug", "question"]}),
    )
    .await;
    patch(
        &env,
        "/repos/acme/web/issues/1",
        json!({"labels": ["question"]}),
    )
    .await;
    patch(
        &env,
        "/repos/acme/web/issues/1",
        json!({"state": "closed", "state_reason": "completed"}),
    )
    .await;
    patch(&env, "/repos/acme/web/issues/1", json!({"state": "open"})).await;
    env.fake
        .add_issue("acme/web", NewIssue::titled("Second"))
        .expect("issue");
    env.fake.delete_issue("acme/web", 2).expect("delete");
    env.fake
        .transfer_issue("acme/web", 1, "acme/other")
        .expect("transfer");
    env.fake.rename_repo("acme/web", "site").expect("rename");

    let expected = [
        ("issues", "opened"),
        ("issues", "edited"),
        ("issues", "labeled"),
        ("issues", "labeled"),
        ("issues", "unlabeled"),
        ("issues", "closed"),
        ("issues", "reopened"),
        ("issues", "opened"),
        ("issues", "deleted"),
        ("issues", "transferred"),
        ("repository", "renamed"),
    ];
    let got = rx.wait_for(expected.len()).await;
    let kinds: Vec<(String, String)> = got
        .iter()
        .map(|r| (r.header("x-github-event").to_owned(), r.action()))
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(e, a)| ((*e).to_owned(), (*a).to_owned()))
        .collect();
    assert_eq!(kinds, want);

    let mut guids = std::collections::HashSet::new();
    for r in &got {
        assert_eq!(
            r.header("x-hub-signature-256"),
            signature_256(SECRET.as_bytes(), &r.body)
        );
        assert!(r.header("x-hub-signature").starts_with("sha1="));
        assert_eq!(r.header("content-type"), "application/json");
        assert!(r.header("user-agent").starts_with("GitHub-Hookshot/"));
        assert_eq!(r.header("x-github-hook-id"), hook_id.to_string());
        assert_eq!(r.header("x-github-delivery").len(), 36);
        assert!(
            guids.insert(r.header("x-github-delivery").to_owned()),
            "GUID reused"
        );
        assert!(!String::from_utf8_lossy(&r.body).contains(SECRET));
    }

    // Key sets against the copied examples.
    let opened = template("webhook.issues.opened.with-organization.json");
    let edited = template("webhook.issues.edited.json");
    for (i, r) in got.iter().enumerate().take(10) {
        let p = r.json();
        let what = format!("delivery {i} ({})", r.action());
        assert_has_keys(&p, &opened, &[], &what);
        assert_has_keys(
            &p["issue"],
            &opened["issue"],
            &[],
            &format!("{what} .issue"),
        );
        assert_has_keys(&p["issue"]["user"], &opened["issue"]["user"], &[], &what);
        assert_has_keys(
            &p["repository"],
            &opened["repository"],
            &[],
            &format!("{what} .repository"),
        );
        assert_has_keys(
            &p["repository"]["owner"],
            &opened["repository"]["owner"],
            &[],
            &what,
        );
        assert_has_keys(
            &p["organization"],
            &opened["organization"],
            &[],
            &format!("{what} .organization"),
        );
        assert_has_keys(
            &p["sender"],
            &opened["sender"],
            &[],
            &format!("{what} .sender"),
        );
        assert!(p["repository"].get("permissions").is_none(), "{what}");
    }
    let e = got[1].json();
    assert_has_keys(&e, &edited, &[], "edited");
    assert_eq!(e["changes"]["title"]["from"], "First");
    assert_eq!(e["issue"]["title"], "Renamed");
    assert_eq!(got[2].json()["label"]["name"], "bug");
    assert_eq!(got[3].json()["label"]["name"], "question");
    assert_eq!(got[4].json()["label"]["name"], "bug");
    assert_has_keys(
        &got[4].json()["label"],
        &template("issue.json")["labels"][0],
        &[],
        "label",
    );
    assert_eq!(got[5].json()["issue"]["state"], "closed");
    assert!(got[5].json()["issue"]["closed_at"].is_string());
    let reopened = got[6].json();
    assert_has_keys(
        &reopened,
        &template("webhook.issues.reopened.json"),
        &["installation"],
        "reopened",
    );
    assert_eq!(reopened["issue"]["state"], "open");
    let deleted = got[8].json();
    assert_has_keys(
        &deleted,
        &template("webhook.issues.deleted.json"),
        &["installation"],
        "deleted",
    );
    assert_has_keys(
        &deleted["issue"],
        &template("webhook.issues.deleted.json")["issue"],
        &[],
        "deleted .issue",
    );
    assert_eq!(deleted["issue"]["number"], 2);
    let transferred = got[9].json();
    assert_eq!(
        transferred["changes"]["new_repository"]["full_name"],
        "acme/other"
    );
    assert_eq!(transferred["changes"]["new_issue"]["number"], 1);
    let renamed = got[10].json();
    assert_eq!(renamed["changes"]["repository"]["name"]["from"], "web");
    assert_eq!(renamed["repository"]["full_name"], "acme/site");
    assert_eq!(got[0].json()["sender"]["login"], "alice");
    assert_eq!(
        got[0].json()["issue"]["url"],
        format!("{}/repos/acme/web/issues/1", env.running.base_url)
    );

    // The records say what was sent.
    assert!(env.fake.wait_for_deliveries(Duration::from_secs(5)).await);
    let records = env.fake.deliveries();
    assert!(
        records
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    );
    assert!(
        records
            .iter()
            .all(|d| d.status_code == Some(200) && d.duration_ms.is_some())
    );
    let listed: Value = env
        .admin(
            Method::GET,
            "/_fake/deliveries?event=issues&action=labeled",
            None,
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let hook = env
        .get_json(&format!(
            "/repositories/{}/hooks/{hook_id}",
            env.fake.repo("acme/site").expect("repo").id
        ))
        .await;
    assert_eq!(hook["last_response"]["code"], 200);
    rx.stop().await;
    env.running.stop().await;
}

async fn new_issues(env: &Env, titles: &[&str]) {
    for t in titles {
        env.fake
            .add_issue("acme/web", NewIssue::titled(*t))
            .expect("issue");
    }
}

fn titles(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.json()["issue"]["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn drop_and_duplicate_faults() {
    let (env, rx, _) = hooked().await;
    let r = env
        .admin(
            Method::POST,
            "/_fake/deliveries/faults",
            Some(json!({"drop_next": 1})),
        )
        .await;
    assert_eq!(r.status(), 200);
    new_issues(&env, &["a", "b"]).await;
    let got = rx.wait_for(1).await;
    assert!(env.fake.wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(titles(&rx.received()), ["b"], "{got:?}");
    let dropped: Vec<_> = env
        .fake
        .deliveries()
        .into_iter()
        .filter(|d| d.status == DeliveryStatus::Dropped)
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].payload()["issue"]["title"], "a");

    rx.got.lock().expect("lock").clear();
    env.fake.set_delivery_faults(DeliveryFaults {
        drop_all: Some(true),
        ..DeliveryFaults::default()
    });
    new_issues(&env, &["c"]).await;
    assert!(env.fake.wait_for_deliveries(Duration::from_secs(5)).await);
    env.fake.clear_delivery_faults();
    env.fake.set_delivery_faults(DeliveryFaults {
        duplicate: Some(true),
        ..DeliveryFaults::default()
    });
    new_issues(&env, &["d"]).await;
    let got = rx.wait_for(2).await;
    assert_eq!(titles(&got), ["d", "d"]);
    assert_eq!(
        got[0].header("x-github-delivery"),
        got[1].header("x-github-delivery")
    );
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        got[0].header("x-hub-signature-256"),
        got[1].header("x-hub-signature-256")
    );
    assert!(env.fake.wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(
        env.fake.deliveries().iter().filter(|d| d.duplicate).count(),
        1
    );
    rx.stop().await;
    env.running.stop().await;
}

#[tokio::test]
async fn reorder_delay_and_redeliver_faults() {
    let (env, rx, _) = hooked().await;
    env.fake.set_delivery_faults(DeliveryFaults {
        reorder_batch: Some(3),
        ..DeliveryFaults::default()
    });
    new_issues(&env, &["1", "2"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.received().is_empty(), "a partial batch is held");
    assert_eq!(
        env.fake
            .deliveries()
            .iter()
            .filter(|d| d.status == DeliveryStatus::Held)
            .count(),
        2
    );
    new_issues(&env, &["3"]).await;
    let got = rx.wait_for(3).await;
    assert_eq!(titles(&got), ["3", "2", "1"]);
    env.fake.clear_delivery_faults();

    rx.got.lock().expect("lock").clear();
    let r = env
        .admin(
            Method::POST,
            "/_fake/deliveries/faults",
            Some(json!({"delay_ms": 300})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    new_issues(&env, &["slow"]).await;
    let got = rx.wait_for(1).await;
    assert!(got[0].at.duration_since(started) >= Duration::from_millis(300));
    let r = env
        .admin(Method::DELETE, "/_fake/deliveries/faults", None)
        .await;
    assert_eq!(r.status(), 204);

    // Redeliver: same GUID, same body, marked as a redelivery.
    assert!(env.fake.wait_for_deliveries(Duration::from_secs(5)).await);
    rx.got.lock().expect("lock").clear();
    let original = env.fake.deliveries().last().cloned().expect("a delivery");
    let r = env
        .admin(
            Method::POST,
            &format!("/_fake/deliveries/{}/redeliver", original.id),
            None,
        )
        .await;
    assert_eq!(r.status(), 202);
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("x-github-delivery"), original.guid);
    assert_eq!(got[0].body, original.body.as_bytes());
    assert!(env.fake.wait_for_deliveries(Duration::from_secs(5)).await);
    let last = env.fake.deliveries().last().cloned().expect("record");
    assert!(last.redelivery);
    assert_eq!(last.guid, original.guid);
    // And through GitHub's REST endpoint.
    let r = env
        .post(
            &format!(
                "/repos/acme/web/hooks/{}/deliveries/{}/attempts",
                original.hook_id, original.id
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 202);
    rx.wait_for(2).await;
    let unknown = env
        .admin(Method::POST, "/_fake/deliveries/1/redeliver", None)
        .await;
    assert_eq!(unknown.status(), 404);
    rx.stop().await;
    env.running.stop().await;
}

#[tokio::test]
async fn patch_requests_are_counted_per_issue_and_window() {
    let env = start().await;
    let id = env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(2))
        .expect("issues");
    patch(&env, "/repos/acme/web/issues/1", json!({"title": "x"})).await;
    let since = time::OffsetDateTime::now_utc();
    patch(&env, "/repos/acme/web/issues/1", json!({"title": "y"})).await;
    patch(
        &env,
        &format!("/repositories/{id}/issues/1"),
        json!({"title": "z"}),
    )
    .await;
    patch(&env, "/repos/acme/web/issues/2", json!({"title": "w"})).await;
    assert_eq!(env.fake.issue_patch_count("acme/web", 1, None), Ok(3));
    assert_eq!(
        env.fake.issue_patch_count("acme/web", 1, Some(since)),
        Ok(2)
    );
    assert_eq!(env.fake.issue_patch_count("acme/web", 2, None), Ok(1));
    assert_eq!(
        env.fake
            .requests_matching(Some("PATCH"), None, Some(since))
            .len(),
        3
    );
    let since_s = since
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let url = format!(
        "/_fake/repos/acme/web/issues/1/patches?since={}",
        since_s.replace('+', "%2B")
    );
    let count: Value = env
        .admin(Method::GET, &url, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(count["count"], 2);
    let url = format!(
        "/_fake/requests?method=PATCH&since={}",
        since_s.replace('+', "%2B")
    );
    let reqs: Value = env
        .admin(Method::GET, &url, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(reqs.as_array().map(Vec::len), Some(3));
    assert!(reqs[0]["at"].is_string());
    env.running.stop().await;
}
