//! Creating organization repositories (and their failures) and renaming.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

mod common;

use common::{ORG, OTHER_TOKEN, fixture, header, start};
use pm_github_fake::GenerateIssues;
use reqwest::Method;
use serde_json::{Value, json};

/// Same shape and values as the fixture; only `documentation_url` names the org endpoint.
fn assert_name_exists_body(body: &Value) {
    let mut expected = fixture("errors/422.create-repo.name-already-exists.json");
    expected["documentation_url"] = body["documentation_url"].clone();
    assert_eq!(body, &expected);
    assert!(
        body["documentation_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://docs.github.com/rest/repos/repos#"))
    );
}

#[tokio::test]
async fn create_org_repo_then_clash() {
    let env = start().await;
    let resp = env
        .post(
            "/orgs/acme/repos",
            json!({"name": "pmhub-demo", "private": true}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        header(&resp, "location"),
        Some(format!("{}/repos/acme/pmhub-demo", env.running.base_url).as_str())
    );
    let repo: Value = resp.json().await.expect("JSON");
    assert_eq!(repo["full_name"], "acme/pmhub-demo");
    assert_eq!(repo["name"], "pmhub-demo");
    assert_eq!(repo["private"], true);
    assert_eq!(repo["visibility"], "private");
    assert_eq!(repo["html_url"], "https://github.com/acme/pmhub-demo");
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["owner"]["login"], "acme");
    let stored = env.fake.repo("acme/pmhub-demo").expect("stored");
    assert_eq!(repo["id"], stored.id);
    assert!(stored.private);

    // Same name, other case: GitHub's names are case-insensitive.
    let resp = env
        .post(
            "/orgs/acme/repos",
            json!({"name": "PMHUB-demo", "private": true}),
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert_name_exists_body(&resp.json().await.expect("JSON"));

    // Public by default.
    let repo: Value = env
        .post("/orgs/acme/repos", json!({"name": "public-one"}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(repo["private"], false);
    env.running.stop().await;
}

#[tokio::test]
async fn create_org_repo_errors() {
    let env = start().await;
    let resp = env.post("/orgs/nope/repos", json!({"name": "x"})).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["message"], "Not Found");

    let resp = env.post("/orgs/acme/repos", json!({"private": true})).await;
    assert_eq!(resp.status(), 422);

    // bob is not a member of acme.
    let resp = env
        .client
        .post(env.url("/orgs/acme/repos"))
        .header("user-agent", "t")
        .bearer_auth(OTHER_TOKEN)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 403);
    assert!(env.fake.repo("acme/x").is_none());
    env.running.stop().await;
}

#[tokio::test]
async fn reject_names_makes_the_next_creates_clash() {
    let env = start().await;
    let resp = env
        .admin(
            Method::POST,
            "/_fake/orgs/acme/reject-names",
            Some(json!({"count": 2})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    for attempt in ["proj", "proj-2"] {
        let resp = env
            .post(
                "/orgs/acme/repos",
                json!({"name": attempt, "private": true}),
            )
            .await;
        assert_eq!(resp.status(), 422, "{attempt}");
        assert_name_exists_body(&resp.json().await.expect("JSON"));
        assert!(env.fake.repo(&format!("acme/{attempt}")).is_none());
    }
    let resp = env
        .post(
            "/orgs/acme/repos",
            json!({"name": "proj-3", "private": true}),
        )
        .await;
    assert_eq!(resp.status(), 201);

    // Same through the library.
    env.fake.reject_next_creates(ORG, 1).expect("control");
    assert_eq!(
        env.post("/orgs/acme/repos", json!({"name": "a"}))
            .await
            .status(),
        422
    );
    assert_eq!(
        env.post("/orgs/acme/repos", json!({"name": "a"}))
            .await
            .status(),
        201
    );
    env.running.stop().await;
}

#[tokio::test]
async fn rename_keeps_issue_ids_and_moves_urls() {
    let env = start().await;
    let repo_id = env.fake.add_repo(ORG, "old-name", false).expect("repo");
    env.fake
        .add_issues("acme/old-name", &GenerateIssues::new(5))
        .expect("issues");
    let before = env.get_json("/repos/acme/old-name/issues").await;

    let resp = env
        .admin(
            Method::POST,
            "/_fake/repos/acme/old-name/rename",
            Some(json!({"name": "new-name"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let renamed: Value = resp.json().await.expect("JSON");
    assert_eq!(renamed["full_name"], "acme/new-name");
    assert_eq!(renamed["id"], repo_id);

    let repo = env.get_json("/repos/acme/new-name").await;
    assert_eq!(repo["id"], repo_id);
    assert_eq!(repo["full_name"], "acme/new-name");
    assert_eq!(repo["html_url"], "https://github.com/acme/new-name");

    let after = env.get_json("/repos/acme/new-name/issues").await;
    let ids = |v: &Value| -> Vec<u64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|i| i["id"].as_u64().expect("id"))
            .collect()
    };
    assert_eq!(ids(&before), ids(&after));
    assert_eq!(
        after[0]["html_url"],
        "https://github.com/acme/new-name/issues/5"
    );
    assert!(
        after[0]["repository_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/repos/acme/new-name"))
    );

    // The old name redirects like GitHub: 301 to the id form, query kept.
    let resp = env
        .raw_client
        .get(env.url("/repos/acme/old-name/issues?state=all"))
        .header("user-agent", "t")
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 301);
    assert_eq!(
        header(&resp, "location"),
        Some(
            format!(
                "{}/repositories/{repo_id}/issues?state=all",
                env.running.base_url
            )
            .as_str()
        )
    );
    let resp = env
        .raw_client
        .get(env.url("/repos/acme/old-name"))
        .header("user-agent", "t")
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 301);
    // Writes get a 307.
    let resp = env
        .raw_client
        .post(env.url("/repos/acme/old-name/issues"))
        .header("user-agent", "t")
        .bearer_auth(common::TOKEN)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 307);

    // A following client lands on the renamed repository, whose items name the new full name.
    let followed = env.get_json("/repos/acme/old-name/issues").await;
    assert!(
        followed[0]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/repos/acme/new-name/issues/"))
    );
    assert!(env.fake.issues_of("acme/old-name").is_none());
    assert_eq!(env.fake.repo("acme/new-name").map(|r| r.id), Some(repo_id));

    // The library does the same.
    env.fake
        .rename_repo("acme/new-name", "third")
        .expect("rename");
    let by_id = env.get_json(&format!("/repositories/{repo_id}")).await;
    assert_eq!(by_id["full_name"], "acme/third");
    env.running.stop().await;
}
