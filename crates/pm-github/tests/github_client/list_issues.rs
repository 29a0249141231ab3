//! `list_issues`: pagination over real recorded pages, PR filtering, page counts,
//! conditional requests and the refusal to follow links off the API host.

use crate::support::*;
use pm_github::GithubConfig;
use pm_integrations::{GithubApi, IssuePage, IssuePageRequest, IssueState};
use pm_kernel::GithubError;
use secrecy::SecretString;
use serde_json::Value;
use std::collections::HashSet;
use url::Url;
use wiremock::matchers::{
    header, header_exists, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RECORDED: &str = "rest/recorded/list-repo-issues.per_page-3.page";

/// Reads every page, from `First` along the `next` links.
async fn read_all(
    client: &pm_github::GithubClient,
    first: IssuePageRequest,
) -> Result<Vec<IssuePage>, GithubError> {
    let mut pages = Vec::new();
    let mut request = first;
    loop {
        let page = client.list_issues(&token(), &request).await?;
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(url) => request = IssuePageRequest::Next { url },
            None => return Ok(pages),
        }
        assert!(pages.len() < 50, "runaway pagination");
    }
}

#[tokio::test]
async fn follows_the_recorded_link_headers_through_all_five_pages() {
    let server = MockServer::start().await;
    let mut expected_numbers = Vec::new();
    for n in 1..=5 {
        let body = fixture(&format!("{RECORDED}-{n}-of-5.200.body.json"));
        let meta = fixture_json(&format!("{RECORDED}-{n}-of-5.200.meta.json"));
        let items: Vec<Value> = serde_json::from_str(&body).unwrap();
        expected_numbers.extend(
            items
                .iter()
                .filter(|i| i.get("pull_request").is_none_or(Value::is_null))
                .map(|i| i["number"].as_i64().unwrap()),
        );
        let headers = &meta["response_headers"];
        let mut response = json(200, body);
        // The real Link header, its absolute api.github.com URLs pointed at the mock.
        if let Some(link) = headers["Link"].as_str() {
            response = response.insert_header(
                "link",
                link.replace("https://api.github.com", &server.uri()),
            );
        }
        if let Some(etag) = headers["ETag"].as_str() {
            response = response.insert_header("etag", etag);
        }
        let mock = if n == 1 {
            Mock::given(method("GET"))
                .and(path("/repos/octokit-fixture-org/paginate-issues/issues"))
                .and(query_param("state", "all"))
                .and(query_param("sort", "created"))
                .and(query_param("direction", "asc"))
                .and(query_param("per_page", "100"))
        } else {
            Mock::given(method("GET"))
                .and(path("/repositories/515435940/issues"))
                .and(query_param("per_page", "3"))
                .and(query_param("page", n.to_string()))
        };
        mock.respond_with(response).expect(1).mount(&server).await;
    }

    let client = client(&server);
    let first = IssuePageRequest::First {
        repo: repo("octokit-fixture-org/paginate-issues"),
    };
    let pages = read_all(&client, first).await.expect("all pages read");

    assert_eq!(pages.len(), 5);
    assert_eq!(
        request_count(&server).await,
        5,
        "exactly one request per page"
    );
    let issues: Vec<_> = pages.iter().flat_map(|p| p.issues.iter()).collect();
    assert_eq!(issues.len(), expected_numbers.len());
    assert_eq!(issues.len(), 13, "the recording holds 13 issues and no PRs");
    let numbers: Vec<i64> = issues.iter().map(|i| i.number).collect();
    assert_eq!(numbers, expected_numbers, "in GitHub's order, none twice");
    let ids: HashSet<i64> = issues.iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), 13);
    assert!(pages.iter().all(|p| p.pull_requests_skipped == 0));
    assert!(
        pages[4].next.is_none(),
        "last page has only prev/first links"
    );
    assert!(
        pages[0]
            .next
            .as_deref()
            .unwrap()
            .ends_with("/repositories/515435940/issues?per_page=3&page=2"),
        "next link kept as sent: {:?}",
        pages[0].next
    );
    assert!(
        issues
            .iter()
            .all(|i| !i.title.is_empty() && i.html_url.starts_with("https://github.com/"))
    );
}

#[tokio::test]
async fn pull_request_entries_are_skipped_and_counted() {
    let server = MockServer::start().await;
    let fixture =
        fixture("rest/official-examples/list-repo-issues.200.with-pull-request-entry.json");
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .respond_with(json(200, fixture))
        .mount(&server)
        .await;

    let page = client(&server)
        .list_issues(
            &token(),
            &IssuePageRequest::First {
                repo: repo("octocat/Hello-World"),
            },
        )
        .await
        .unwrap();
    assert!(page.issues.is_empty());
    assert_eq!(page.pull_requests_skipped, 1);
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn mixed_page_keeps_issues_and_maps_fields() {
    let server = MockServer::start().await;
    let pr =
        fixture_json("rest/official-examples/list-repo-issues.200.with-pull-request-entry.json")[0]
            .clone();
    let mut closed = plain_issue(7, 2);
    closed["state"] = "closed".into();
    closed["state_reason"] = "completed".into();
    closed["labels"] = serde_json::json!(["plain-string-label", {"name": "bug", "color": "f00"}]);
    let body = serde_json::to_vec(&vec![plain_issue(5, 1), pr, closed]).unwrap();
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .respond_with(json(200, body))
        .mount(&server)
        .await;

    let page = client(&server)
        .list_issues(
            &token(),
            &IssuePageRequest::First {
                repo: repo("octocat/Hello-World"),
            },
        )
        .await
        .unwrap();
    assert_eq!(page.pull_requests_skipped, 1);
    assert_eq!(page.issues.len(), 2);
    let open = &page.issues[0];
    assert_eq!((open.id, open.number), (5, 1));
    assert_eq!(open.title, "Found a bug");
    assert_eq!(
        open.body.as_deref(),
        Some("I'm having a problem with this.")
    );
    assert_eq!(open.state, IssueState::Open);
    assert_eq!(open.labels, vec!["bug".to_string()]);
    let closed = &page.issues[1];
    assert_eq!(closed.state, IssueState::Closed);
    assert_eq!(closed.state_reason.as_deref(), Some("completed"));
    assert_eq!(
        closed.labels,
        vec!["plain-string-label".to_string(), "bug".to_string()]
    );
}

#[tokio::test]
async fn two_hundred_fifty_issues_take_exactly_three_requests() {
    const N: i64 = 250;
    let server = MockServer::start().await;
    let all: Vec<Value> = (1..=N).map(|n| plain_issue(1_000 + n, n)).collect();
    let pages: Vec<&[Value]> = all.chunks(100).collect();
    assert_eq!(pages.len(), 3);
    let link_to = |page: usize| {
        format!(
            "<{}/repositories/42/issues?state=all&per_page=100&page={page}>; rel=\"next\", <{}/repositories/42/issues?state=all&per_page=100&page=3>; rel=\"last\"",
            server.uri(),
            server.uri()
        )
    };
    Mock::given(method("GET"))
        .and(path("/repos/octo-org/big/issues"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            json(200, serde_json::to_vec(pages[0]).unwrap()).insert_header("link", link_to(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repositories/42/issues"))
        .and(query_param("page", "2"))
        .respond_with(
            json(200, serde_json::to_vec(pages[1]).unwrap()).insert_header("link", link_to(3)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repositories/42/issues"))
        .and(query_param("page", "3"))
        .respond_with(
            json(200, serde_json::to_vec(pages[2]).unwrap()).insert_header(
                "link",
                format!(
                    "<{}/repositories/42/issues?state=all&per_page=100&page=2>; rel=\"prev\"",
                    server.uri()
                ),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server);
    let read = read_all(
        &client,
        IssuePageRequest::First {
            repo: repo("octo-org/big"),
        },
    )
    .await
    .unwrap();
    let issues: Vec<_> = read.iter().flat_map(|p| p.issues.iter()).collect();
    let n = usize::try_from(N).unwrap();
    assert_eq!(issues.len(), n);
    assert_eq!(request_count(&server).await, n.div_ceil(100));
    let numbers: Vec<i64> = issues.iter().map(|i| i.number).collect();
    assert_eq!(numbers, (1..=N).collect::<Vec<_>>());
}

#[tokio::test]
async fn unchanged_page_is_served_from_the_etag_cache() {
    let server = MockServer::start().await;
    let etag = "\"33b993150c346057e2d21c5333d4bc506287037296cc0ec3f450bafe9b4bdc72\"";
    let body = fixture(&format!("{RECORDED}-5-of-5.200.body.json"));
    // Mounted first: a request carrying the ETag gets the 304.
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues"))
        .and(header("if-none-match", etag))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", etag))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues"))
        .respond_with(json(200, body).insert_header("etag", etag))
        // Once for the first call, once for the other token's.
        .expect(2)
        .mount(&server)
        .await;

    let client = client(&server);
    let request = IssuePageRequest::First { repo: repo("o/r") };
    let first = client.list_issues(&token(), &request).await.unwrap();
    let second = client.list_issues(&token(), &request).await.unwrap();
    assert_eq!(first.issues.len(), 1);
    assert!(!first.not_modified, "a 200 is news");
    assert!(second.not_modified, "a 304 says so");
    assert_eq!(
        IssuePage {
            not_modified: false,
            ..second
        },
        first,
        "the rest of the page is the cached one"
    );

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[0].headers.get("if-none-match").is_none());
    assert_eq!(sent[1].headers.get("if-none-match").unwrap(), etag);

    // Another token must not be answered from this token's cache.
    let other = SecretString::from("ghp_SomeoneElse000000000000000000000000".to_string());
    let others = client.list_issues(&other, &request).await.unwrap();
    assert_eq!(others, first);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3);
    assert!(
        sent[2].headers.get("if-none-match").is_none(),
        "no ETag sent for another token"
    );
}

#[tokio::test]
async fn next_link_to_another_host_is_refused_without_a_request() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(200, "[]"))
        .mount(&elsewhere)
        .await;

    let client = client(&api);
    let url = format!(
        "{}/repositories/1/issues?per_page=100&page=2",
        elsewhere.uri()
    );
    let err = client
        .list_issues(&token(), &IssuePageRequest::Next { url })
        .await
        .unwrap_err();

    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("another host")),
        "{err:?}"
    );
    assert_eq!(
        request_count(&elsewhere).await,
        0,
        "the token never left for the other host"
    );
    assert_eq!(request_count(&api).await, 0);
}

#[tokio::test]
async fn next_link_on_the_api_host_is_followed_as_is() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repositories/9/issues"))
        .and(query_param("page", "4"))
        .and(query_param("since", "2024-01-01T00:00:00Z"))
        .and(header_exists("authorization"))
        .respond_with(json(200, "[]"))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!(
        "{}/repositories/9/issues?since=2024-01-01T00:00:00Z&page=4",
        server.uri()
    );
    let page = client(&server)
        .list_issues(&token(), &IssuePageRequest::Next { url })
        .await
        .unwrap();
    assert_eq!(page, IssuePage::default());
}

#[tokio::test]
async fn enterprise_server_path_prefix_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/o/r/issues"))
        .and(query_param("state", "all"))
        .respond_with(json(200, "[]"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config: GithubConfig = config_for(&server.uri());
    config.api_url = Url::parse(&format!("{}/api/v3", server.uri())).unwrap();
    let page = client_with(config)
        .list_issues(&token(), &IssuePageRequest::First { repo: repo("o/r") })
        .await
        .unwrap();
    assert!(page.issues.is_empty());
}
