//! Push: tasks without a GitHub link become issues in the project's repository, once.

use crate::support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn push_creates_an_issue_per_unlinked_task_once() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Push Me").await;
    let approved = world.submit_and_approve(&slug).await;
    assert_eq!(
        approved.body["repository"]["outcome"], "created",
        "{}",
        approved.body
    );
    let repo = format!("{ORG}/{slug}");

    let titles = ["Write the onboarding guide", "Set up billing alerts"];
    for title in titles {
        let created = world
            .api
            .post(
                &format!("/api/v1/projects/{slug}/tasks"),
                &json!({ "title": title, "description": "from pmhub" }),
            )
            .await
            .unwrap();
        assert_eq!(created.status, 201, "{}", created.body);
    }

    let pushed = world
        .api
        .post_and_wait(&format!("/api/v1/projects/{slug}/github/push"), &json!({}))
        .await
        .unwrap();
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    assert_eq!(pushed.body["repo"], repo.as_str());
    assert_eq!(pushed.body["created"], 2, "{}", pushed.body);
    assert!(pushed.body["sync_run_id"].is_string(), "{}", pushed.body);

    let mut on_github: Vec<String> = world
        .fake
        .issues_of(&repo)
        .expect("repository")
        .into_iter()
        .map(|i| i.title)
        .collect();
    on_github.sort();
    let mut expected: Vec<String> = titles
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    expected.sort();
    assert_eq!(on_github, expected);

    // Each task now links to its issue.
    for task in world.tasks(&slug).await {
        let links = task["external_links"].as_array().expect("links");
        assert_eq!(links.len(), 1, "{task}");
        let reference = links[0]["reference"].as_str().expect("reference");
        assert!(reference.starts_with(&format!("{repo}#")), "{task}");
    }

    // Pushing again creates nothing.
    let again = world
        .api
        .post_and_wait(&format!("/api/v1/projects/{slug}/github/push"), &json!({}))
        .await
        .unwrap();
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["created"], 0, "{}", again.body);
    assert_eq!(world.fake.issues_of(&repo).expect("repository").len(), 2);

    let runs = world.runs(&slug).await;
    assert!(
        runs.iter().filter(|r| r["kind"] == "push").count() >= 2,
        "{runs:?}"
    );
}
