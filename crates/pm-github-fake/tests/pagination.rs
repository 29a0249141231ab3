//! Issue listing: pages and `Link`, state filter, pull requests, since/sort/direction.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

mod common;

use std::collections::HashSet;

use common::{ORG, header, link, links, start};
use pm_github_fake::{GenerateIssues, IssueState, NewIssue, StateReason};
use serde_json::Value;

fn numbers(items: &Value) -> Vec<u64> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["number"].as_u64().expect("number"))
        .collect()
}

#[tokio::test]
async fn two_hundred_fifty_issues_come_in_three_linked_pages() {
    let env = start().await;
    let repo_id = env.fake.add_repo(ORG, "web", true).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(250))
        .expect("issues");
    let base = &env.running.base_url;

    let first = env.get("/repos/acme/web/issues?per_page=100").await;
    assert_eq!(first.status(), 200);
    let l = links(&first);
    let rels: Vec<&str> = l.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rels, ["next", "last"]);
    assert_eq!(
        link(&l, "next"),
        Some(format!("{base}/repositories/{repo_id}/issues?per_page=100&page=2").as_str())
    );
    assert_eq!(
        link(&l, "last"),
        Some(format!("{base}/repositories/{repo_id}/issues?per_page=100&page=3").as_str())
    );
    // Exact header format, as recorded from GitHub.
    assert_eq!(
        header(&first, "link"),
        Some(
            format!(
                "<{base}/repositories/{repo_id}/issues?per_page=100&page=2>; rel=\"next\", \
                 <{base}/repositories/{repo_id}/issues?per_page=100&page=3>; rel=\"last\""
            )
            .as_str()
        )
    );

    // Follow `next` to the end, as a client must.
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut next = Some(format!("{base}/repos/acme/web/issues?per_page=100"));
    let mut last_links = Vec::new();
    while let Some(url) = next {
        let resp = env.get(&url).await;
        assert_eq!(resp.status(), 200, "{url}");
        last_links = links(&resp);
        next = link(&last_links, "next").map(str::to_owned);
        let items: Value = resp.json().await.expect("JSON");
        seen.extend(numbers(&items));
        pages += 1;
        assert!(pages <= 3, "more pages than expected");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(
        seen.iter().copied().collect::<HashSet<_>>().len(),
        250,
        "duplicates"
    );
    // Default order is created desc.
    assert_eq!(seen.first(), Some(&250));
    assert_eq!(seen.last(), Some(&1));
    // The last page has prev/first and no next/last.
    let rels: Vec<&str> = last_links.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rels, ["prev", "first"]);
    env.running.stop().await;
}

#[tokio::test]
async fn middle_page_links_and_defaults() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(70))
        .expect("issues");
    // Default per_page is 30.
    let resp = env.get("/repos/acme/web/issues?page=2").await;
    let l = links(&resp);
    let rels: Vec<&str> = l.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rels, ["prev", "next", "last", "first"]);
    assert!(link(&l, "last").is_some_and(|u| u.ends_with("/issues?page=3")));
    let items: Value = resp.json().await.expect("JSON");
    assert_eq!(numbers(&items), (11..=40).rev().collect::<Vec<_>>());

    // per_page above 100 is clamped to 100; one page, so no Link header.
    let resp = env.get("/repos/acme/web/issues?per_page=500").await;
    assert!(header(&resp, "link").is_none());
    let items: Value = resp.json().await.expect("JSON");
    assert_eq!(numbers(&items).len(), 70);

    // Past the end: an empty page.
    let items = env.get_json("/repos/acme/web/issues?page=9").await;
    assert_eq!(items, Value::Array(Vec::new()));
    env.running.stop().await;
}

#[tokio::test]
async fn state_filter_and_pull_requests() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    // 30 items: PRs at 5,10,...; closed at 3,6,...; not_planned among closed issues at 6,12,...
    env.fake
        .add_issues(
            "acme/web",
            &GenerateIssues::new(30)
                .pull_request_every(5)
                .closed_every(3)
                .not_planned_every(2),
        )
        .expect("issues");

    let open = env.get_json("/repos/acme/web/issues?per_page=100").await;
    let all = env
        .get_json("/repos/acme/web/issues?state=all&per_page=100")
        .await;
    let closed = env
        .get_json("/repos/acme/web/issues?state=closed&per_page=100")
        .await;
    assert_eq!(numbers(&all).len(), 30);
    assert_eq!(numbers(&closed).len(), 10);
    assert_eq!(numbers(&open).len(), 20);
    assert!(
        open.as_array()
            .expect("array")
            .iter()
            .all(|i| i["state"] == "open")
    );
    for i in closed.as_array().expect("array") {
        assert_eq!(i["state"], "closed");
        assert!(i["closed_at"].is_string());
        let n = i["number"].as_u64().expect("number");
        let expected = match (n % 5 == 0, n % 6 == 0) {
            (true, _) => Value::Null,
            (false, true) => Value::from("not_planned"),
            (false, false) => Value::from("completed"),
        };
        assert_eq!(i["state_reason"], expected, "#{n}");
    }
    for i in all.as_array().expect("array") {
        let n = i["number"].as_u64().expect("number");
        let pr = &i["pull_request"];
        if n % 5 == 0 {
            assert_eq!(
                pr["html_url"],
                format!("https://github.com/acme/web/pull/{n}"),
                "#{n}"
            );
            assert!(
                pr["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("/pulls/{n}")))
            );
            assert!(
                pr["diff_url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(".diff"))
            );
            assert!(
                pr["patch_url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(".patch"))
            );
        } else {
            assert!(i.get("pull_request").is_none(), "#{n} is not a PR");
            assert_eq!(
                i["html_url"],
                format!("https://github.com/acme/web/issues/{n}")
            );
        }
    }

    let bad = env.get("/repos/acme/web/issues?state=weird").await;
    assert_eq!(bad.status(), 422);
    env.running.stop().await;
}

#[tokio::test]
async fn since_sort_and_direction() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(40).closed_every(4))
        .expect("issues");
    let issues = env.fake.issues_of("acme/web").expect("repo");

    // sort=updated&direction=asc: non-decreasing updated_at, and not the same as created order.
    let items = env
        .get_json("/repos/acme/web/issues?state=all&sort=updated&direction=asc&per_page=100")
        .await;
    let updated: Vec<String> = items
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["updated_at"].as_str().expect("ts").to_owned())
        .collect();
    assert_eq!(updated.len(), 40);
    assert!(updated.windows(2).all(|w| w[0] <= w[1]), "{updated:?}");
    assert_ne!(numbers(&items), (1..=40).collect::<Vec<_>>());

    // sort=created&direction=asc is number order.
    let items = env
        .get_json("/repos/acme/web/issues?state=all&sort=created&direction=asc&per_page=100")
        .await;
    assert_eq!(numbers(&items), (1..=40).collect::<Vec<_>>());

    // since: updated_at >= since (inclusive), checked against the fake's own data.
    let mut by_update: Vec<_> = issues.iter().map(|i| i.updated_at).collect();
    by_update.sort();
    let cut = by_update[25];
    let since = cut
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let expected: HashSet<u64> = issues
        .iter()
        .filter(|i| i.updated_at >= cut)
        .map(|i| i.number)
        .collect();
    let resp = env
        .req(reqwest::Method::GET, "/repos/acme/web/issues")
        .query(&[
            ("state", "all"),
            ("since", since.as_str()),
            ("per_page", "100"),
        ])
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let items: Value = resp.json().await.expect("JSON");
    let got: HashSet<u64> = numbers(&items).into_iter().collect();
    assert_eq!(got, expected);
    assert!(got.len() < 40 && !got.is_empty());

    // A change moves an issue to the end of an updated-asc sync.
    env.fake
        .close_issue("acme/web", 1, StateReason::Completed)
        .expect("close");
    let items = env
        .get_json("/repos/acme/web/issues?state=all&sort=updated&direction=asc&per_page=100")
        .await;
    assert_eq!(numbers(&items).last(), Some(&1));

    let bad = env.get("/repos/acme/web/issues?since=last-tuesday").await;
    assert_eq!(bad.status(), 422);
    env.running.stop().await;
}

#[tokio::test]
async fn links_keep_the_original_query() {
    let env = start().await;
    let repo_id = env.fake.add_repo(ORG, "web", false).expect("repo");
    env.fake
        .add_issues("acme/web", &GenerateIssues::new(5))
        .expect("issues");
    let resp = env
        .get("/repos/acme/web/issues?state=all&sort=updated&direction=asc&per_page=2")
        .await;
    let l = links(&resp);
    assert_eq!(
        link(&l, "next"),
        Some(
            format!(
                "{}/repositories/{repo_id}/issues?state=all&sort=updated&direction=asc&per_page=2&page=2",
                env.running.base_url
            )
            .as_str()
        )
    );
    env.running.stop().await;
}

#[tokio::test]
async fn issues_created_and_changed_through_the_library_show_up() {
    let env = start().await;
    env.fake.add_repo(ORG, "web", false).expect("repo");
    let issue = env
        .fake
        .add_issue(
            "acme/web",
            NewIssue {
                labels: vec!["enhancement".into()],
                pull_request: true,
                ..NewIssue::titled("Add a thing")
            },
        )
        .expect("issue");
    assert!(
        issue.id >= 1_000_000_000,
        "issue ids are large like GitHub's"
    );
    env.fake
        .close_issue("acme/web", issue.number, StateReason::Completed)
        .expect("close");
    let items = env.get_json("/repos/acme/web/issues?state=closed").await;
    assert_eq!(items[0]["id"], issue.id);
    assert_eq!(items[0]["labels"][0]["name"], "enhancement");
    assert_eq!(items[0]["labels"][0]["color"], "a2eeef");
    assert!(items[0]["pull_request"].is_object());
    let reopened = env
        .fake
        .reopen_issue("acme/web", issue.number)
        .expect("reopen");
    assert_eq!(reopened.state, IssueState::Open);
    let items = env.get_json("/repos/acme/web/issues").await;
    assert_eq!(items[0]["state"], "open");
    env.running.stop().await;
}
