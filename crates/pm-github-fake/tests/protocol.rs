//! Auth, User-Agent, ETag/304, rate-limit headers, 404s, API versions, issue writes.

mod common;

use common::{ORG, OTHER_TOKEN, TOKEN, fixture, header, start};
use pm_github_fake::GenerateIssues;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn unknown_token_gets_githubs_401_body() {
    let env = start().await;
    let resp = env
        .client
        .get(env.url("/user"))
        .header("user-agent", "pmhub-tests")
        .bearer_auth("ghp_nope")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body, fixture("errors/401.bad-credentials.json"));

    // `token` scheme works like `Bearer`.
    let resp = env
        .client
        .get(env.url("/user"))
        .header("user-agent", "pmhub-tests")
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);

    // No Authorization at all: GitHub's "Requires authentication" in the same shape.
    let resp = env
        .client
        .get(env.url("/user"))
        .header("user-agent", "pmhub-tests")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["message"], "Requires authentication");
    assert_eq!(body["status"], "401");
    env.running.stop().await;
}

#[tokio::test]
async fn missing_user_agent_is_forbidden() {
    let env = start().await;
    // reqwest sends no User-Agent unless told to.
    let resp = env
        .client
        .get(env.url("/user"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body["message"],
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"
    );
    env.running.stop().await;
}

#[tokio::test]
async fn etag_then_if_none_match_gives_an_empty_304_that_costs_nothing() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(10))
        .expect("issues");
    let first = env.get("/repos/acme/web/issues").await;
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag").expect("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    let remaining: u64 = header(&first, "x-ratelimit-remaining")
        .expect("remaining")
        .parse()
        .expect("number");

    let cached = env
        .req(Method::GET, "/repos/acme/web/issues")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(cached.status(), 304);
    assert_eq!(header(&cached, "etag"), Some(etag.as_str()));
    let after_304: u64 = header(&cached, "x-ratelimit-remaining")
        .expect("remaining on 304")
        .parse()
        .expect("number");
    assert_eq!(after_304, remaining, "a 304 is free");
    assert!(cached.bytes().await.expect("body").is_empty());

    // A change invalidates the ETag.
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(1))
        .expect("issue");
    let changed = env
        .req(Method::GET, "/repos/acme/web/issues")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), Some(etag.as_str()));
    let remaining_now: u64 = header(&changed, "x-ratelimit-remaining")
        .expect("remaining")
        .parse()
        .expect("number");
    assert_eq!(remaining_now, remaining - 1);

    // Other pages have other ETags.
    let page2 = env.get("/repos/acme/web/issues?per_page=5&page=2").await;
    let page1 = env.get("/repos/acme/web/issues?per_page=5&page=1").await;
    assert_ne!(header(&page1, "etag"), header(&page2, "etag"));

    // GET /user and GET /repos also validate.
    for path in ["/user", "/repos/acme/web"] {
        let resp = env.get(path).await;
        let etag = header(&resp, "etag").expect("etag").to_owned();
        let cached = env
            .req(Method::GET, path)
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(cached.status(), 304, "{path}");
    }
    env.running.stop().await;
}

#[tokio::test]
async fn rate_limit_headers_on_every_authenticated_answer() {
    let env = start().await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut last_used = 0;
    for (path, status) in [
        ("/user", 200),
        ("/user/repos", 200),
        ("/repos/acme/none", 404),
    ] {
        let resp = env.get(path).await;
        assert_eq!(resp.status(), status, "{path}");
        assert_eq!(header(&resp, "x-ratelimit-limit"), Some("5000"), "{path}");
        assert_eq!(
            header(&resp, "x-ratelimit-resource"),
            Some("core"),
            "{path}"
        );
        let used: u64 = header(&resp, "x-ratelimit-used")
            .expect("used")
            .parse()
            .expect("n");
        let remaining: u64 = header(&resp, "x-ratelimit-remaining")
            .expect("remaining")
            .parse()
            .expect("n");
        assert_eq!(used + remaining, 5000);
        assert_eq!(used, last_used + 1, "{path} counts");
        last_used = used;
        let reset: i64 = header(&resp, "x-ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("n");
        assert!(reset > before && reset <= before + 3601, "{reset}");
    }
    // Rate limits are per user.
    let bob = env
        .client
        .get(env.url("/user"))
        .header("user-agent", "t")
        .bearer_auth(OTHER_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(header(&bob, "x-ratelimit-used"), Some("1"));
    // GET /rate_limit reports without charging.
    let rl = env.get_json("/rate_limit").await;
    assert_eq!(rl["resources"]["core"]["used"], last_used);
    assert_eq!(rl["rate"]["limit"], 5000);
    env.running.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_repositories_answer_githubs_404() {
    let env = start().await;
    let resp = env.get("/no/such/route").await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
    );
    let resp = env.get("/repos/acme/missing").await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["message"], "Not Found");
    // Wrong method on a known path is a 404 too, not a bare 405.
    let resp = env
        .req(Method::DELETE, "/user")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(resp.status(), 404);
    env.running.stop().await;
}

#[tokio::test]
async fn private_repositories_are_invisible_to_outsiders() {
    let env = start().await;
    env.fake.add_repo(ORG, "secret", true).expect("repo");
    env.fake.add_repo(ORG, "open", false).expect("repo");
    let as_bob = |path: &str| {
        env.client
            .get(env.url(path))
            .header("user-agent", "t")
            .bearer_auth(OTHER_TOKEN)
            .send()
    };
    assert_eq!(
        as_bob("/repos/acme/secret").await.expect("GET").status(),
        404
    );
    assert_eq!(
        as_bob("/repos/acme/secret/issues")
            .await
            .expect("GET")
            .status(),
        404
    );
    assert_eq!(as_bob("/repos/acme/open").await.expect("GET").status(), 200);
    let bobs: Value = as_bob("/user/repos")
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(bobs, json!([]));
    let alices = env.get_json("/user/repos").await;
    let names: Vec<&str> = alices
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["full_name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["acme/open", "acme/secret"]);
    env.running.stop().await;
}

#[tokio::test]
async fn unsupported_api_version_is_a_400() {
    let env = start().await;
    let resp = env
        .client
        .get(env.url("/user"))
        .header("user-agent", "t")
        .header("x-github-api-version", "2099-01-01")
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["message"], "API version 2099-01-01 is not supported.");
    env.running.stop().await;
}

#[tokio::test]
async fn creating_and_updating_issues() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    let resp = env
        .post(
            "/repos/acme/web/issues",
            json!({"title": "Found a bug", "body": "Steps...", "labels": ["bug", "p1"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let location = header(&resp, "location").expect("location").to_owned();
    let issue: Value = resp.json().await.expect("JSON");
    assert_eq!(issue["number"], 1);
    assert_eq!(issue["title"], "Found a bug");
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["user"]["login"], "alice");
    assert_eq!(issue["author_association"], "MEMBER");
    assert_eq!(issue["labels"][0]["name"], "bug");
    assert_eq!(issue["labels"][0]["color"], "d73a4a");
    assert_eq!(issue["labels"][1]["name"], "p1");
    assert_eq!(issue["html_url"], "https://github.com/acme/web/issues/1");
    assert_eq!(
        location,
        format!("{}/repos/acme/web/issues/1", env.running.base_url)
    );
    assert_eq!(issue["url"], location);
    let stored = env.fake.issues_of("acme/web").expect("repo");
    assert_eq!(stored[0].id, issue["id"].as_u64().expect("id"));

    // Missing title → 422 "Invalid request".
    let resp = env
        .post("/repos/acme/web/issues", json!({"body": "no title"}))
        .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"title\" wasn't supplied"))
    );
    // Broken JSON → 400.
    let resp = env
        .req(Method::POST, "/repos/acme/web/issues")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 400);

    // Close as not planned, then reopen, through PATCH.
    let resp = env
        .req(Method::PATCH, "/repos/acme/web/issues/1")
        .json(&json!({"state": "closed", "state_reason": "not_planned"}))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(resp.status(), 200);
    let closed: Value = resp.json().await.expect("JSON");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["state_reason"], "not_planned");
    assert_eq!(closed["closed_by"]["login"], "alice");
    assert!(closed["closed_at"].is_string());
    let reopened: Value = env
        .req(Method::PATCH, "/repos/acme/web/issues/1")
        .json(&json!({"state": "open", "title": "Renamed"}))
        .send()
        .await
        .expect("PATCH")
        .json()
        .await
        .expect("JSON");
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["state_reason"], "reopened");
    assert_eq!(reopened["title"], "Renamed");
    assert_eq!(reopened["closed_at"], Value::Null);

    let one = env.get_json("/repos/acme/web/issues/1").await;
    assert_eq!(one["title"], "Renamed");
    assert_eq!(env.get("/repos/acme/web/issues/2").await.status(), 404);
    env.running.stop().await;
}

#[tokio::test]
async fn request_log_and_stats() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    env.get("/user").await;
    env.get("/repos/acme/web/issues?state=all").await;
    env.get("/repos/acme/web/issues?state=closed").await;
    // Admin calls are not API requests.
    env.admin(Method::GET, "/_fake/stats", None).await;
    assert_eq!(env.fake.request_count(), 3);
    let log = env.fake.requests();
    assert_eq!(log[1].method, "GET");
    assert_eq!(log[1].path, "/repos/acme/web/issues");
    assert_eq!(log[1].query, "state=all");
    let stats: Value = env
        .admin(Method::GET, "/_fake/stats", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["by_route"]["GET /repos/{owner}/{repo}/issues"], 2);
    assert_eq!(stats["by_route"]["GET /user"], 1);
    env.running.stop().await;
}
