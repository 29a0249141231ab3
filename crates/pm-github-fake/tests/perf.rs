//! The benchmark's access pattern: 10,000 issues listed as 100 pages of 100 —
//! every issue exactly once. Speed is measured by `make bench`, not asserted here.

mod common;

use common::{ORG, link, links, start};
use pm_github_fake::GenerateIssues;

#[tokio::test]
async fn ten_thousand_issues_in_a_hundred_pages() {
    let env = start().await;
    env.fake.add_repo(ORG, "big", true).expect("repo");
    env.fake
        .add_issues(
            "acme/big",
            &GenerateIssues::new(10_000)
                .pull_request_every(7)
                .closed_every(5)
                .labels(["bug", "enhancement", "question"]),
        )
        .expect("issues");

    let mut next = Some(env.url("/repos/acme/big/issues?state=all&per_page=100"));
    let mut pages = 0;
    let mut count = 0;
    let mut ids = std::collections::HashSet::new();
    while let Some(url) = next.take() {
        let resp = env.get(&url).await;
        assert_eq!(resp.status(), 200);
        let l = links(&resp);
        let body = resp.bytes().await.expect("body");
        pages += 1;
        next = link(&l, "next").map(str::to_owned);
        let items: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
        count += items.len();
        ids.extend(items.iter().map(|i| i["id"].as_u64().expect("id")));
        assert!(pages <= 100, "too many pages");
    }
    assert_eq!(pages, 100);
    assert_eq!(count, 10_000);
    assert_eq!(ids.len(), 10_000);

    env.running.stop().await;
}
