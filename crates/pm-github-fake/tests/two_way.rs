//! What two-way sync needs from the fake: a per-issue ETag on the single-issue GET (304 free
//! of the rate limit), `updated_at` bumped by real changes only, deleted (410) and transferred
//! (301 to the new repository, followed with the token) issues, and PATCH counters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

mod common;

use common::{Env, ORG, TOKEN, header, start};
use pm_github_fake::{GenerateIssues, IssuePatches, PatchCounts};
use reqwest::{Method, Response};
use serde_json::{Value, json};

async fn patch(env: &Env, path: &str, body: Value) -> Response {
    env.req(Method::PATCH, path)
        .json(&body)
        .send()
        .await
        .expect("PATCH")
}

async fn get_if(env: &Env, path: &str, etag: &str) -> Response {
    env.req(Method::GET, path)
        .header("if-none-match", etag)
        .send()
        .await
        .expect("GET")
}

fn used(resp: &Response) -> u64 {
    header(resp, "x-ratelimit-used")
        .expect("x-ratelimit-used")
        .parse()
        .expect("number")
}

fn etag(resp: &Response) -> String {
    header(resp, "etag").expect("etag").to_owned()
}

#[tokio::test]
async fn each_issue_has_its_own_etag_and_a_304_is_not_charged() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(2))
        .expect("issues");
    let one = env.get("/repos/acme/web/issues/1").await;
    assert_eq!(one.status(), 200);
    let etag1 = etag(&one);
    let before: Value = one.json().await.expect("JSON");
    let two = env.get("/repos/acme/web/issues/2").await;
    let etag2 = etag(&two);
    assert_ne!(etag1, etag2);

    let cached = get_if(&env, "/repos/acme/web/issues/1", &etag1).await;
    assert_eq!(cached.status(), 304);
    let charged = used(&cached);
    let again = get_if(&env, "/repos/acme/web/issues/1", &etag1).await;
    assert_eq!(again.status(), 304);
    assert_eq!(used(&again), charged, "a 304 costs no rate limit");

    // Another issue changes: issue 1's ETag still holds.
    let r = patch(
        &env,
        "/repos/acme/web/issues/2",
        json!({"title": "Renamed"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_ne!(etag(&r), etag2, "the patched issue's ETag moved");
    assert_eq!(
        get_if(&env, "/repos/acme/web/issues/1", &etag1)
            .await
            .status(),
        304
    );

    // Issue 1 changes: a new ETag and a later updated_at, in whole seconds.
    let r = patch(&env, "/repos/acme/web/issues/1", json!({"state": "closed"})).await;
    assert_eq!(r.status(), 200);
    let fresh = get_if(&env, "/repos/acme/web/issues/1", &etag1).await;
    assert_eq!(fresh.status(), 200);
    let etag1b = etag(&fresh);
    assert_ne!(etag1b, etag1);
    let after: Value = fresh.json().await.expect("JSON");
    let updated = after["updated_at"].as_str().expect("updated_at");
    assert!(updated > before["updated_at"].as_str().expect("updated_at"));
    assert_eq!(updated.len(), "2026-01-01T00:00:00Z".len(), "{updated}");
    assert!(updated.ends_with('Z'));
    // The by-id path serves the same ETag.
    let id = env.fake.repo("acme/web").expect("repo").id;
    assert_eq!(
        get_if(&env, &format!("/repositories/{id}/issues/1"), &etag1b)
            .await
            .status(),
        304
    );
    env.running.stop().await;
}

#[tokio::test]
async fn a_patch_that_changes_nothing_changes_neither_etag_nor_updated_at() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(1).closed_every(1))
        .expect("issue");
    let first = env.get("/repos/acme/web/issues/1").await;
    let etag1 = etag(&first);
    let before: Value = first.json().await.expect("JSON");
    let same = json!({
        "title": before["title"],
        "state": "closed",
        "state_reason": before["state_reason"],
    });
    let r = patch(&env, "/repos/acme/web/issues/1", same).await;
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), etag1);
    let after: Value = r.json().await.expect("JSON");
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(
        get_if(&env, "/repos/acme/web/issues/1", &etag1)
            .await
            .status(),
        304
    );
    env.running.stop().await;
}

async fn list_since(env: &Env, since: &str) -> Value {
    env.get_json(&format!(
        "/repos/acme/web/issues?state=all&sort=updated&direction=asc&since={since}&per_page=100"
    ))
    .await
}

#[tokio::test]
async fn changed_issues_show_in_since_listings_sorted_by_updated() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    // Generated issues were all updated in the past.
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(5))
        .expect("issues");
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let since = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(
        list_since(&env, &since).await.as_array().map(Vec::len),
        Some(0)
    );
    patch(&env, "/repos/acme/web/issues/4", json!({"labels": ["bug"]})).await;
    patch(&env, "/repos/acme/web/issues/2", json!({"state": "closed"})).await;
    let changed = list_since(&env, &since).await;
    let numbers: Vec<u64> = changed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    // Both changes may land in the same second: then the number breaks the tie.
    assert!(numbers == [4, 2] || numbers == [2, 4], "{numbers:?}");
    assert_eq!(numbers.len(), 2);
    env.running.stop().await;
}

#[tokio::test]
async fn a_transferred_issue_redirects_to_its_new_repository_with_the_token() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    let other = env.fake.add_repo(ORG, "other", true).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(1))
        .expect("issue");
    let moved = env
        .admin(
            Method::POST,
            "/_fake/repos/acme/web/issues/1/transfer",
            Some(json!({"to": "acme/other"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let raw = env
        .raw_client
        .get(env.url("/repos/acme/web/issues/1"))
        .header("user-agent", "t")
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(raw.status(), 301);
    assert_eq!(
        header(&raw, "location"),
        Some(env.url(&format!("/repositories/{other}/issues/1")).as_str())
    );
    // Followed (same host, so the token goes along; the repository is private).
    let issue = env.get_json("/repos/acme/web/issues/1").await;
    assert!(
        issue["repository_url"]
            .as_str()
            .unwrap()
            .ends_with("/repos/acme/other"),
        "{}",
        issue["repository_url"]
    );
    assert_eq!(issue["number"], 1);
    env.running.stop().await;
}

#[tokio::test]
async fn patches_are_counted_in_total_and_per_issue() {
    let env = start().await;
    let id = env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(2))
        .expect("issues");
    patch(&env, "/repos/acme/web/issues/1", json!({"title": "a"})).await;
    let since = time::OffsetDateTime::now_utc();
    patch(&env, "/repos/ACME/web/issues/1", json!({"title": "b"})).await;
    patch(
        &env,
        &format!("/repositories/{id}/issues/2"),
        json!({"title": "c"}),
    )
    .await;
    // Not issue PATCHes: not counted.
    env.get("/repos/acme/web/issues/1").await;
    env.req(Method::PATCH, "/repos/acme/web/hooks/1")
        .json(&json!({}))
        .send()
        .await
        .expect("PATCH");

    assert_eq!(env.fake.patch_counts(None).total, 3);
    let expected = PatchCounts {
        total: 2,
        issues: vec![
            IssuePatches {
                repo: "acme/web".into(),
                number: 1,
                count: 1,
            },
            IssuePatches {
                repo: "acme/web".into(),
                number: 2,
                count: 1,
            },
        ],
    };
    assert_eq!(env.fake.patch_counts(Some(since)), expected);
    let since_s = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
        .replace('+', "%2B");
    let served: PatchCounts = env
        .admin(
            Method::GET,
            &format!("/_fake/patches?since={since_s}"),
            None,
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(served, expected);
    let bad = env
        .admin(Method::GET, "/_fake/patches?since=yesterday", None)
        .await;
    assert_eq!(bad.status(), 400);
    env.running.stop().await;
}
