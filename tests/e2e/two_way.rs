//! Two-way sync end to end, through the real `pmhub serve` binary, PostgreSQL and the
//! in-memory GitHub sending signed deliveries to the webhook pmhub registered itself:
//! GitHub's changes reach the tasks, pmhub's edits reach the issues exactly once, echoes
//! change nothing, out-of-order and duplicated deliveries converge, dropped ones are
//! repaired by the reconcile, conflicts follow the policy and are listed, and an
//! `import_only` project behaves as the seed's import.

use crate::fleet::{Fleet, Server, connect_and_project, sync_path};
use crate::support::REPO;
use pm_e2e::api::Reply;
use pm_github_fake::{DeliveryFaults, IssueEdit, IssueState, ReorderMode, StateReason};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SECRET: &str = "e2e-two-way-secret";

/// A fleet with `issues` issues, one `pmhub serve` whose public URL is its own address
/// (so linking registers the webhook), the workspace connected, a project linked to
/// [`REPO`] and imported. Returns the fleet, the server and the project's slug.
async fn linked(issues: u64, reconcile_secs: u64) -> (Fleet, Server, String) {
    let fleet = Fleet::start(issues, 1).await;
    let reconcile = reconcile_secs.to_string();
    let server = fleet
        .serve_with(&[
            ("PMHUB__GITHUB__WEBHOOK_SECRET", SECRET),
            ("PMHUB__SERVER__PUBLIC_URL", "http://127.0.0.1:{port}"),
            ("PMHUB__GITHUB__RECONCILE_INTERVAL_SECS", reconcile.as_str()),
        ])
        .await;
    let slug = connect_and_project(&server.api).await;
    let link = server
        .api
        .put(
            &format!("/api/v1/projects/{slug}/github-repo"),
            &json!({ "full_name": REPO }),
        )
        .await
        .expect("link");
    assert_eq!(link.status, 200, "{}", link.body);
    assert_eq!(
        link.body["webhook"]["status"], "registered",
        "{}",
        link.body
    );
    let imported = sync_and_wait(&server, &slug).await;
    assert_eq!(imported["created"].as_u64(), Some(issues), "{imported}");
    assert!(
        fleet
            .fake
            .wait_for_deliveries(Duration::from_secs(10))
            .await,
        "the ping was not delivered"
    );
    (fleet, server, slug)
}

async fn sync_and_wait(server: &Server, slug: &str) -> Value {
    let reply = server
        .api
        .send_with(
            Method::POST,
            &sync_path(slug),
            Some(&json!({ "repo": REPO })),
            &[("prefer", "wait=60")],
        )
        .await
        .expect("sync");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

async fn task(server: &Server, slug: &str, number: u64) -> Value {
    let reply = server
        .api
        .get(&format!("/api/v1/projects/{slug}/tasks/{number}"))
        .await
        .expect("task");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

async fn edit_task(server: &Server, slug: &str, number: u64, patch: Value) {
    let reply = server
        .api
        .send_with(
            Method::PATCH,
            &format!("/api/v1/projects/{slug}/tasks/{number}"),
            Some(&patch),
            &[],
        )
        .await
        .expect("edit");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Polls the task until `done` holds; returns it and how long it took.
async fn task_until(
    server: &Server,
    slug: &str,
    number: u64,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let task = task(server, slug, number).await;
        if done(&task) {
            return (task, started.elapsed());
        }
        assert!(
            started.elapsed() < within,
            "task {number} did not get there within {within:?}: {task}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until `done` holds on the fake's issues.
async fn issues_until(
    fleet: &Fleet,
    within: Duration,
    done: impl Fn(&[pm_github_fake::Issue]) -> bool,
) {
    let started = Instant::now();
    loop {
        let issues = fleet.fake.issues_of(REPO).expect("repo");
        if done(&issues) {
            return;
        }
        assert!(
            started.elapsed() < within,
            "GitHub did not get there within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Changes the project's sync settings (as its admin); the settings as answered.
async fn change_settings(server: &Server, slug: &str, patch: Value) -> Reply {
    let changed = server
        .api
        .send_with(
            Method::PATCH,
            &format!("/api/v1/projects/{slug}/github/settings"),
            Some(&patch),
            &[],
        )
        .await
        .expect("settings");
    assert_eq!(changed.status, 200, "{}", changed.body);
    changed
}

/// Retitles issue `number` on GitHub (the fake sends its `edited` delivery).
fn retitle_on_github(fleet: &Fleet, number: u64, title: impl Into<String>) {
    fleet
        .fake
        .edit_issue(
            REPO,
            number,
            IssueEdit {
                title: Some(title.into()),
                ..IssueEdit::default()
            },
        )
        .expect("edit");
}

fn issue(fleet: &Fleet, number: u64) -> pm_github_fake::Issue {
    fleet
        .fake
        .issues_of(REPO)
        .expect("repo")
        .into_iter()
        .find(|i| i.number == number)
        .expect("issue")
}

fn patches(fleet: &Fleet, number: u64) -> u64 {
    fleet
        .fake
        .issue_patch_count(REPO, number, None)
        .expect("count")
}

fn labels_of(task: &Value) -> Vec<String> {
    let mut labels: Vec<String> = task["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l.as_str().expect("label").to_string())
        .collect();
    labels.sort();
    labels
}

#[tokio::test(flavor = "multi_thread")]
async fn github_changes_reach_their_tasks_close_cancel_reopen_retitle_relabel() {
    let (fleet, server, slug) = linked(5, 3600).await;
    // An open status pmhub has and GitHub does not: no PATCH, and reopen comes back to it.
    edit_task(&server, &slug, 1, json!({ "status": "in_progress" })).await;

    fleet
        .fake
        .close_issue(REPO, 1, StateReason::Completed)
        .expect("close");
    let (_, took) = task_until(&server, &slug, 1, Duration::from_secs(10), |t| {
        t["status"] == "done"
    })
    .await;
    assert!(took < Duration::from_secs(2), "close → done took {took:?}");

    fleet
        .fake
        .close_issue(REPO, 2, StateReason::NotPlanned)
        .expect("close");
    task_until(&server, &slug, 2, Duration::from_secs(10), |t| {
        t["status"] == "canceled"
    })
    .await;

    fleet.fake.reopen_issue(REPO, 1).expect("reopen");
    task_until(&server, &slug, 1, Duration::from_secs(10), |t| {
        t["status"] == "in_progress"
    })
    .await;

    fleet
        .fake
        .edit_issue(
            REPO,
            3,
            IssueEdit {
                title: Some("Renamed on GitHub".into()),
                labels: Some(vec!["bug".into(), "p1".into()]),
                ..IssueEdit::default()
            },
        )
        .expect("edit");
    let (three, _) = task_until(&server, &slug, 3, Duration::from_secs(10), |t| {
        t["title"] == "Renamed on GitHub" && labels_of(t) == ["bug", "p1"]
    })
    .await;
    assert_eq!(three["status"], "todo");

    // A manual sync runs the same merge: with the delivery lost, it brings issue 4's
    // change and counts the rest unchanged (`skipped` = updated + unchanged).
    fleet.fake.set_delivery_faults(DeliveryFaults {
        drop_all: Some(true),
        ..DeliveryFaults::default()
    });
    retitle_on_github(&fleet, 4, "Changed while no delivery arrives");
    let synced = sync_and_wait(&server, &slug).await;
    assert_eq!(synced["created"], 0, "{synced}");
    assert_eq!(synced["updated"], 1, "{synced}");
    assert_eq!(synced["unchanged"], 4, "{synced}");
    assert_eq!(synced["conflicts"], 0, "{synced}");
    assert_eq!(synced["skipped"], 5, "{synced}");
    assert_eq!(
        task(&server, &slug, 4).await["title"],
        "Changed while no delivery arrives"
    );

    // Nothing went back to GitHub: every change came from there.
    for number in 1..=5 {
        assert_eq!(patches(&fleet, number), 0, "issue {number} was patched");
    }
    let events = server
        .api
        .get(&format!("/api/v1/projects/{slug}/tasks/1/sync-events"))
        .await
        .expect("events");
    assert_eq!(events.status, 200, "{}", events.body);
    let items = events.body["items"].as_array().expect("items");
    assert!(
        items.iter().any(|e| e["kind"] == "updated"
            && e["direction"] == "to_pmhub"
            && e["field"] == "status"
            && e["to_value"] == "completed"),
        "{}",
        events.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_pmhub_edit_is_one_patch_and_the_echoes_change_nothing() {
    let (fleet, server, slug) = linked(3, 3600).await;

    edit_task(&server, &slug, 2, json!({ "title": "Retitled in pmhub" })).await;
    issues_until(&fleet, Duration::from_secs(10), |issues| {
        issues
            .iter()
            .any(|i| i.number == 2 && i.title == "Retitled in pmhub")
    })
    .await;
    assert_eq!(patches(&fleet, 2), 1);

    edit_task(&server, &slug, 2, json!({ "status": "done" })).await;
    issues_until(&fleet, Duration::from_secs(10), |issues| {
        issues.iter().any(|i| {
            i.number == 2
                && i.state == IssueState::Closed
                && i.state_reason == Some(StateReason::Completed)
        })
    })
    .await;
    assert_eq!(patches(&fleet, 2), 2);

    // The two echo deliveries come back; over 10 s they cause no PATCH and no task change.
    assert!(
        fleet
            .fake
            .wait_for_deliveries(Duration::from_secs(10))
            .await
    );
    let settled = task(&server, &slug, 2).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(patches(&fleet, 2), 2, "an echo caused a PATCH");
    let later = task(&server, &slug, 2).await;
    assert_eq!(later, settled, "an echo changed the task");
    assert_eq!(later["title"], "Retitled in pmhub");
    assert_eq!(later["status"], "done");
    let total: u64 = (1..=3).map(|n| patches(&fleet, n)).sum();
    assert_eq!(total, 2, "only the edited issue was patched");

    let events = server
        .api
        .get(&format!("/api/v1/projects/{slug}/tasks/2/sync-events"))
        .await
        .expect("events");
    let items = events.body["items"].as_array().expect("items");
    assert!(
        items
            .iter()
            .any(|e| e["kind"] == "updated" && e["direction"] == "to_github"),
        "{}",
        events.body
    );
    assert!(
        items.iter().any(|e| e["kind"] == "echo_ignored"),
        "{}",
        events.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_deliveries_out_of_order_and_twice_each_leave_every_task_equal_to_its_issue() {
    let (fleet, server, slug) = linked(100, 3600).await;
    fleet.fake.set_delivery_faults(DeliveryFaults {
        duplicate: Some(true),
        reorder_batch: Some(100),
        reorder: Some(ReorderMode::Shuffle),
        ..DeliveryFaults::default()
    });
    for number in 1..=100u64 {
        if number % 3 == 0 {
            fleet
                .fake
                .close_issue(REPO, number, StateReason::Completed)
                .expect("close");
        } else {
            retitle_on_github(&fleet, number, format!("Changed {number}"));
        }
    }
    assert!(
        fleet
            .fake
            .wait_for_deliveries(Duration::from_secs(30))
            .await
    );
    let started = Instant::now();
    loop {
        let tasks = server.api.tasks(&slug).await.expect("tasks");
        let issues = fleet.fake.issues_of(REPO).expect("repo");
        let equal = tasks.len() == 100
            && issues.iter().all(|i| {
                tasks.iter().any(|t| {
                    t["number"].as_u64() == Some(i.number)
                        && t["title"] == i.title.as_str()
                        && (t["status"] == "done") == (i.state == IssueState::Closed)
                })
            });
        if equal {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "tasks did not converge to their issues"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server.api.tasks(&slug).await.expect("tasks").len(), 100);
    let total: u64 = (1..=100).map(|n| patches(&fleet, n)).sum();
    assert_eq!(total, 0, "GitHub's own changes were sent back to it");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_changes_whose_deliveries_were_dropped_are_repaired_by_the_reconcile() {
    let (fleet, server, slug) = linked(60, 2).await;
    fleet.fake.set_delivery_faults(DeliveryFaults {
        drop_all: Some(true),
        ..DeliveryFaults::default()
    });
    for number in 1..=50u64 {
        retitle_on_github(&fleet, number, format!("Missed {number}"));
    }
    let started = Instant::now();
    loop {
        let tasks = server.api.tasks(&slug).await.expect("tasks");
        let repaired = (1..=50u64)
            .filter(|n| {
                tasks.iter().any(|t| {
                    t["number"].as_u64() == Some(*n) && t["title"] == format!("Missed {n}").as_str()
                })
            })
            .count();
        if repaired == 50 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the reconcile repaired {repaired} of 50"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(server.api.tasks(&slug).await.expect("tasks").len(), 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn both_sides_retitling_one_task_is_decided_by_the_policy_and_listed_with_both_values() {
    let (fleet, server, slug) = linked(3, 3600).await;
    // GitHub's change arrives only when pmhub next reads the issue (its delivery is lost).
    fleet.fake.set_delivery_faults(DeliveryFaults {
        drop_all: Some(true),
        ..DeliveryFaults::default()
    });
    let github_title = |n: u64| IssueEdit {
        title: Some(format!("GitHub's title {n}")),
        ..IssueEdit::default()
    };

    // pmhub_wins (the default): GitHub gets pmhub's title.
    fleet
        .fake
        .edit_issue(REPO, 1, github_title(1))
        .expect("edit");
    edit_task(&server, &slug, 1, json!({ "title": "pmhub's title 1" })).await;
    issues_until(&fleet, Duration::from_secs(10), |issues| {
        issues
            .iter()
            .any(|i| i.number == 1 && i.title == "pmhub's title 1")
    })
    .await;
    assert_eq!(task(&server, &slug, 1).await["title"], "pmhub's title 1");

    // github_wins: the task gets GitHub's title and nothing is sent.
    let changed =
        change_settings(&server, &slug, json!({ "conflict_policy": "github_wins" })).await;
    assert_eq!(changed.body["conflict_policy"], "github_wins");
    fleet
        .fake
        .edit_issue(REPO, 2, github_title(2))
        .expect("edit");
    edit_task(&server, &slug, 2, json!({ "title": "pmhub's title 2" })).await;
    task_until(&server, &slug, 2, Duration::from_secs(10), |t| {
        t["title"] == "GitHub's title 2"
    })
    .await;
    assert_eq!(issue(&fleet, 2).title, "GitHub's title 2");
    assert_eq!(patches(&fleet, 2), 0);

    let conflicts = server
        .api
        .get(&format!("/api/v1/projects/{slug}/github/conflicts"))
        .await
        .expect("conflicts");
    assert_eq!(conflicts.status, 200, "{}", conflicts.body);
    let items = conflicts.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{}", conflicts.body);
    let of = |n: u64| {
        items
            .iter()
            .find(|c| c["task_number"].as_u64() == Some(n))
            .unwrap_or_else(|| panic!("no conflict for task {n}: {}", conflicts.body))
    };
    assert_eq!(of(1)["field"], "title");
    assert_eq!(of(1)["pmhub_value"], "pmhub's title 1");
    assert_eq!(of(1)["github_value"], "GitHub's title 1");
    assert_eq!(of(1)["policy"], "pmhub_wins");
    assert_eq!(of(2)["policy"], "github_wins");
    assert_eq!(of(2)["github_value"], "GitHub's title 2");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_only_project_behaves_as_the_seeds_import() {
    let (fleet, server, slug) = linked(4, 3600).await;
    change_settings(&server, &slug, json!({ "direction": "import_only" })).await;

    fleet
        .fake
        .close_issue(REPO, 1, StateReason::Completed)
        .expect("close");
    edit_task(&server, &slug, 2, json!({ "title": "Only in pmhub" })).await;
    assert!(
        fleet
            .fake
            .wait_for_deliveries(Duration::from_secs(10))
            .await
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(task(&server, &slug, 1).await["status"], "todo");
    assert_ne!(issue(&fleet, 2).title, "Only in pmhub");
    assert_eq!(patches(&fleet, 2), 0);

    // A sync skips every linked issue, as before two-way sync.
    let again = sync_and_wait(&server, &slug).await;
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["skipped"], 4, "{again}");
    assert_eq!(task(&server, &slug, 1).await["status"], "todo");
}

#[tokio::test(flavor = "multi_thread")]
async fn new_tasks_are_pushed_when_asked_and_a_deleted_task_leaves_its_issue() {
    let (fleet, server, slug) = linked(2, 3600).await;
    let changed = change_settings(&server, &slug, json!({ "push_new_tasks": true })).await;
    assert_eq!(changed.body["push_new_tasks"], true);

    let created = server
        .api
        .post(
            &format!("/api/v1/projects/{slug}/tasks"),
            &json!({ "title": "Written in pmhub first" }),
        )
        .await
        .expect("create");
    assert_eq!(created.status, 201, "{}", created.body);
    let number = created.body["number"].as_u64().expect("number");
    issues_until(&fleet, Duration::from_secs(20), |issues| {
        issues.iter().any(|i| i.title == "Written in pmhub first")
    })
    .await;
    let (linked_task, _) = task_until(&server, &slug, number, Duration::from_secs(10), |t| {
        t["external_links"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    })
    .await;
    let pushed: Vec<_> = fleet
        .fake
        .issues_of(REPO)
        .expect("repo")
        .into_iter()
        .filter(|i| i.title == "Written in pmhub first")
        .collect();
    assert_eq!(pushed.len(), 1, "pushed exactly once");
    assert_eq!(
        linked_task["external_links"][0]["url"],
        pushed[0].html_url.as_str()
    );

    // Deleting a task never deletes its issue; the journal says the link went.
    let deleted = server
        .api
        .send_with(
            Method::DELETE,
            &format!("/api/v1/projects/{slug}/tasks/1"),
            None,
            &[],
        )
        .await
        .expect("delete");
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let one = issue(&fleet, 1);
    assert_eq!(one.state, IssueState::Open);
    assert_eq!(patches(&fleet, 1), 0);
    let events = server
        .api
        .get(&format!("/api/v1/projects/{slug}/tasks/1/sync-events"))
        .await
        .expect("events");
    assert_eq!(events.status, 200, "{}", events.body);
    assert!(
        events.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["kind"] == "link_removed"),
        "{}",
        events.body
    );
}
