//! The product's main path: connect GitHub, list repositories, import a repository's issues,
//! import again, approve the spec and get a private repository.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn connect_list_import_resync_and_approve() {
    let world = World::start().await;

    // Connect: GitHub vouches for the token; only a hint of it comes back.
    let connected = world.connect().await;
    assert_eq!(connected.body["account_login"], GH_LOGIN);
    assert_eq!(
        connected.body["token_hint"],
        &GH_TOKEN[GH_TOKEN.len() - 4..]
    );
    assert!(!connected.body.to_string().contains(GH_TOKEN));
    let shown = world.api.get("/api/v1/integrations/github").await.unwrap();
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["provider"], "github");

    // Repositories the token sees, private organization ones included.
    let repos = world.api.get("/api/v1/github/repos").await.unwrap();
    assert_eq!(repos.status, 200, "{}", repos.body);
    let items = repos.body["items"].as_array().unwrap();
    let tracker = items
        .iter()
        .find(|r| r["full_name"] == REPO)
        .unwrap_or_else(|| panic!("{REPO} in {}", repos.body));
    assert_eq!(tracker["private"], true);
    assert_eq!(tracker["html_url"], format!("https://github.com/{REPO}"));

    // Import: 250 items over 3 pages; pull requests are not tasks.
    let slug = world.project("Tracker Import").await;
    let issues = world.issues();
    let prs = world.pull_request_count();
    assert!(prs > 0 && issues.iter().any(|i| i.state_reason.is_some()));
    let requests_before = world.issue_list_requests();
    let first = world.sync(&slug).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["repo"], REPO);
    assert_eq!(
        counts(&first.body),
        (issues.len() as u64, 0, prs, ITEMS),
        "{}",
        first.body
    );
    assert_eq!(
        world.issue_list_requests() - requests_before,
        3,
        "250 items are 3 pages of 100"
    );
    let tasks = world.tasks(&slug).await;
    assert_tasks_mirror_issues(&tasks, &issues);
    for status in ["todo", "done", "canceled"] {
        assert!(
            tasks.iter().any(|t| t["status"] == status),
            "the mix has {status} tasks"
        );
    }

    // Import again: nothing new, nothing duplicated.
    let second = world.sync(&slug).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        counts(&second.body),
        (0, issues.len() as u64, prs, ITEMS),
        "{}",
        second.body
    );
    assert_tasks_mirror_issues(&world.tasks(&slug).await, &issues);

    let runs = world.runs(&slug).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert_eq!(run["kind"], "import");
        assert_eq!(run["status"], "succeeded");
        assert_eq!(run["repo"], REPO);
        assert!(run["error_code"].is_null());
    }
    assert_eq!(runs[0]["id"], second.body["sync_run_id"], "newest first");
    assert_eq!(counts(&runs[1]), counts(&first.body));

    // Approve: a private repository named after the slug, in the organization.
    let approved = world.submit_and_approve(&slug).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["spec"]["status"], "review");
    let full_name = format!("{ORG}/{slug}");
    let repository = &approved.body["repository"];
    assert_eq!(repository["outcome"], "created", "{}", approved.body);
    assert_eq!(repository["full_name"], full_name.as_str());
    assert!(repository["error_code"].is_null(), "{}", approved.body);
    let created = world.fake.repo(&full_name).expect("repository created");
    assert!(created.private, "approval creates a private repository");
    let project = world
        .api
        .get(&format!("/api/v1/projects/{slug}"))
        .await
        .unwrap();
    assert_eq!(project.body["github_repo"], full_name.as_str());

    // Approving again is idempotent and creates nothing more.
    let creations = world.repo_creations();
    let again = world.approve(&slug).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["repository"]["outcome"], "already_set");
    assert_eq!(again.body["repository"]["full_name"], full_name.as_str());
    assert_eq!(world.repo_creations(), creations);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_imports_create_each_task_once() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Concurrent Import").await;
    let issues = world.issues();

    let (a, b) = tokio::join!(world.sync(&slug), world.sync(&slug));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
    // One active import per project: the second request joins the first's run.
    assert_eq!(
        a.body["sync_run_id"], b.body["sync_run_id"],
        "{} / {}",
        a.body, b.body
    );
    assert_eq!(
        counts(&a.body).0,
        issues.len() as u64,
        "the one run creates each task once: {}",
        a.body
    );
    assert_eq!(world.runs(&slug).await.len(), 1);
    assert_tasks_mirror_issues(&world.tasks(&slug).await, &issues);
}

#[tokio::test(flavor = "multi_thread")]
async fn issues_changed_on_github_are_picked_up_by_the_next_import() {
    let world = World::start().await;
    world.connect().await;
    let slug = world.project("Incremental").await;
    let first = world.sync(&slug).await;
    assert_eq!(first.status, 200, "{}", first.body);

    // A new issue on GitHub: the next import adds exactly that one, with the next number.
    let added = world
        .fake
        .add_issue(
            REPO,
            pm_github_fake::NewIssue::titled("Filed after the import"),
        )
        .expect("new issue");
    let second = world.sync(&slug).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(counts(&second.body).0, 1, "{}", second.body);
    let tasks = world.tasks(&slug).await;
    let last = tasks.last().expect("tasks");
    assert_eq!(last["title"], "Filed after the import");
    assert_eq!(
        last["external_links"][0]["reference"],
        format!("{REPO}#{}", added.number)
    );
    assert_tasks_mirror_issues(&tasks, &world.issues());
}
