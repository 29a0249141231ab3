//! Approval when GitHub refuses the repository name: one retry with a suffix, and a failure
//! that never undoes the approval.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_name_taken_once_is_retried_with_a_suffix() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Name Clash").await;

    world.fake.reject_next_creates(ORG, 1).expect("reject");
    let approved = world.submit_and_approve(&slug).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let repository = &approved.body["repository"];
    assert_eq!(repository["outcome"], "created", "{}", approved.body);
    let full_name = repository["full_name"].as_str().expect("full_name");
    let suffix = full_name
        .strip_prefix(&format!("{ORG}/{slug}-"))
        .unwrap_or_else(|| panic!("{full_name} is {ORG}/{slug}-xxxx"));
    assert_eq!(suffix.len(), 4, "{full_name}");
    assert!(
        suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{full_name}"
    );
    assert!(world.fake.repo(full_name).expect("created").private);
    assert_eq!(world.repo_creations(), 2, "the first try and one retry");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_taken_twice_fails_the_repository_but_not_the_approval() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Taken Twice").await;

    world.fake.reject_next_creates(ORG, 2).expect("reject");
    let approved = world.submit_and_approve(&slug).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["spec"]["status"], "review");
    let repository = &approved.body["repository"];
    assert_eq!(repository["outcome"], "failed", "{}", approved.body);
    assert_eq!(repository["error_code"], "GITHUB_REPO_NAME_TAKEN");
    assert!(repository["full_name"].is_null(), "{}", approved.body);
    assert_eq!(
        world.repo_creations(),
        2,
        "the first try and one retry, no more"
    );

    // The approval stands and the project has no repository...
    let spec = world
        .api
        .get(&format!("/api/v1/projects/{slug}/spec"))
        .await
        .unwrap();
    assert_eq!(spec.body["status"], "review");
    let project = world
        .api
        .get(&format!("/api/v1/projects/{slug}"))
        .await
        .unwrap();
    assert!(project.body["github_repo"].is_null(), "{}", project.body);
    assert!(world.fake.repo(&format!("{ORG}/{slug}")).is_none());

    // ...until an admin approves again, once GitHub accepts the name.
    let again = world.approve(&slug).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["repository"]["outcome"], "created");
    assert_eq!(
        again.body["repository"]["full_name"],
        format!("{ORG}/{slug}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_without_a_github_connection_still_approves() {
    let world = World::start().await;
    let slug = world.project("Not Connected").await;

    let approved = world.submit_and_approve(&slug).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["spec"]["status"], "review");
    assert_eq!(approved.body["repository"]["outcome"], "failed");
    assert_eq!(
        approved.body["repository"]["error_code"],
        "INTEGRATION_NOT_CONNECTED"
    );
    assert_eq!(world.repo_creations(), 0);
}
