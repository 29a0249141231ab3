//! Every key of GitHub's real examples (read from tests/fixtures/github at test time) is present in
//! what the fake serves, at the top level and in the nested user/owner objects.

mod common;

use common::{ORG, assert_has_keys, first, fixture, start};
use pm_github_fake::{GenerateIssues, NewIssue};
use serde_json::json;

/// Keys GitHub only sends for forks; the fake's repositories are never forks.
const FORK_ONLY: &[&str] = &["parent", "source"];

#[tokio::test]
async fn get_user_has_every_key_of_the_private_profile_example() {
    let env = start().await;
    let user = env.get_json("/user").await;
    let example = fixture("rest/official-examples/get-user.200.private-and-public-profile.json");
    assert_has_keys(&user, &example, &[], "GET /user");
    assert_has_keys(&user["plan"], &example["plan"], &[], "GET /user .plan");
    assert_eq!(user["login"], "alice");
    assert_eq!(user["type"], "User");
    assert!(user["id"].as_u64().is_some_and(|id| id > 0));
    assert_eq!(user["html_url"], "https://github.com/alice");
    assert_eq!(user["url"], format!("{}/users/alice", env.running.base_url));
    env.running.stop().await;
}

#[tokio::test]
async fn user_repos_items_have_every_key_of_the_list_example() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    let repos = env.get_json("/user/repos").await;
    let item = &repos[0];
    let example = first(fixture("rest/official-examples/list-user-repos.200.json"));
    assert_has_keys(item, &example, &[], "GET /user/repos item");
    assert_has_keys(
        &item["owner"],
        &example["owner"],
        &[],
        "GET /user/repos item .owner",
    );
    assert_has_keys(
        &item["permissions"],
        &example["permissions"],
        &[],
        ".permissions",
    );
    assert_eq!(item["full_name"], "acme/web");
    assert_eq!(item["private"], true);
    assert_eq!(item["visibility"], "private");
    env.running.stop().await;
}

#[tokio::test]
async fn get_repo_has_every_key_of_the_full_repository_example() {
    let env = start().await;
    let id = env.fake.add_repo(ORG, "web", false).expect("repo");
    let repo = env.get_json("/repos/acme/web").await;
    let example = fixture("rest/official-examples/create-org-repo.201.full-repository.json");
    assert_has_keys(&repo, &example, FORK_ONLY, "GET /repos/{o}/{r}");
    assert_has_keys(&repo["owner"], &example["owner"], &[], ".owner");
    assert_has_keys(
        &repo["organization"],
        &example["organization"],
        &[],
        ".organization",
    );
    // And the keys of a real 2022 response that the example lacks.
    let recorded = fixture("rest/recorded/create-org-repo.201.body.json");
    assert_has_keys(&repo, &recorded, &[], "GET /repos/{o}/{r} vs recorded");
    assert_eq!(repo["id"], id);
    assert_eq!(repo["owner"]["type"], "Organization");
    env.running.stop().await;
}

#[tokio::test]
async fn issue_list_items_have_every_key_of_the_examples() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    // Item 2 is a closed pull request (the example item is a PR with a closer).
    env.fake
        .add_issues(
            "acme/web",
            &GenerateIssues::new(2)
                .pull_request_every(2)
                .closed_every(2)
                .labels(["bug"]),
        )
        .expect("issues");
    let items = env.get_json("/repos/acme/web/issues?state=all").await;
    let pr = items
        .as_array()
        .expect("array")
        .iter()
        .find(|i| i.get("pull_request").is_some())
        .expect("a PR in the listing")
        .clone();
    let example = first(fixture(
        "rest/official-examples/list-repo-issues.200.with-pull-request-entry.json",
    ));
    assert_has_keys(&pr, &example, &[], "issue list item");
    assert_has_keys(&pr["user"], &example["user"], &[], "issue list item .user");
    assert_has_keys(&pr["closed_by"], &example["closed_by"], &[], ".closed_by");
    assert_has_keys(
        &pr["pull_request"],
        &example["pull_request"],
        &[],
        ".pull_request",
    );
    assert_has_keys(&pr["labels"][0], &example["labels"][0], &[], ".labels[0]");
    // The keys of real recorded items (reactions, timeline_url, state_reason, ...).
    let recorded = first(fixture(
        "rest/recorded/list-repo-issues.per_page-3.page-1-of-5.200.body.json",
    ));
    assert_has_keys(&pr, &recorded, &[], "issue list item vs recorded");
    assert_has_keys(&pr["reactions"], &recorded["reactions"], &[], ".reactions");
    env.running.stop().await;
}

#[tokio::test]
async fn created_issue_has_every_key_of_the_create_example() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    let resp = env
        .post(
            "/repos/acme/web/issues",
            json!({"title": "Found a bug", "body": "It breaks.", "labels": ["bug"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let issue: serde_json::Value = resp.json().await.expect("JSON");
    let example = fixture("rest/official-examples/create-issue.201.json");
    // A plain issue has no `pull_request` key on GitHub (the example happens to be a PR).
    assert_has_keys(&issue, &example, &["pull_request"], "created issue");
    assert_has_keys(&issue["user"], &example["user"], &[], "created issue .user");
    assert_has_keys(
        &issue["labels"][0],
        &example["labels"][0],
        &[],
        ".labels[0]",
    );
    let recorded = fixture("rest/recorded/create-issue.201.body.json");
    assert_has_keys(&issue, &recorded, &[], "created issue vs recorded");
    assert!(issue.get("pull_request").is_none());
    env.running.stop().await;
}

#[tokio::test]
async fn single_issue_has_every_key_of_the_get_example() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake
        .add_issues(
            "acme/web",
            &GenerateIssues::new(2)
                .pull_request_every(2)
                .closed_every(2)
                .labels(["bug"]),
        )
        .expect("issues");
    // GitHub's spec answers `GET …/issues/{n}` with the same `issue` example as the create.
    let example = fixture("rest/official-examples/create-issue.201.json");
    let recorded = fixture("rest/recorded/create-issue.201.body.json");
    let issue = env.get_json("/repos/acme/web/issues/1").await;
    assert_has_keys(&issue, &example, &["pull_request"], "GET issue");
    assert_has_keys(&issue["user"], &example["user"], &[], "GET issue .user");
    assert_has_keys(
        &issue["labels"][0],
        &example["labels"][0],
        &[],
        ".labels[0]",
    );
    assert_has_keys(&issue, &recorded, &[], "GET issue vs recorded");
    assert!(issue.get("pull_request").is_none());
    // A closed pull request on the same route: every key, `pull_request` and `closed_by` too.
    let pr = env.get_json("/repos/acme/web/issues/2").await;
    assert_has_keys(&pr, &example, &[], "GET issue (a PR)");
    assert_has_keys(&pr["closed_by"], &example["closed_by"], &[], ".closed_by");
    assert_has_keys(
        &pr["pull_request"],
        &example["pull_request"],
        &[],
        ".pull_request",
    );
    env.running.stop().await;
}

#[tokio::test]
async fn created_repo_has_every_key_of_the_full_repository_example() {
    let env = start().await;
    let resp = env
        .post(
            "/orgs/acme/repos",
            json!({"name": "new-project", "private": true, "description": "pmhub project"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let repo: serde_json::Value = resp.json().await.expect("JSON");
    let example = fixture("rest/official-examples/create-org-repo.201.full-repository.json");
    assert_has_keys(&repo, &example, FORK_ONLY, "created repo");
    assert_has_keys(
        &repo["owner"],
        &example["owner"],
        &[],
        "created repo .owner",
    );
    let recorded = fixture("rest/recorded/create-org-repo.201.body.json");
    assert_has_keys(&repo, &recorded, &[], "created repo vs recorded");
    env.running.stop().await;
}

#[tokio::test]
async fn nothing_of_the_examples_identity_leaks_into_answers() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    env.fake
        .add_issue("acme/web", NewIssue::titled("t"))
        .expect("issue");
    for path in [
        "/user",
        "/user/repos",
        "/repos/acme/web",
        "/repos/acme/web/issues",
    ] {
        let body = env.get(path).await.text().await.expect("body");
        assert!(
            !body.contains("octocat"),
            "{path} leaks the example: {body}"
        );
        assert!(
            !body.contains("Hello-World"),
            "{path} leaks the example: {body}"
        );
    }
    env.running.stop().await;
}
