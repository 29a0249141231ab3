//! `current_user`, `list_repos`, `get_repo`, `host()` and the headers every
//! request must carry.

use crate::support::*;
use pm_github::GithubConfig;
use pm_integrations::{GithubApi, IssuePageRequest, NewIssue, NewRepoOptions};
use serde_json::Value;
use url::Url;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

#[tokio::test]
async fn current_user_parses_both_official_examples() {
    for (fixture_name, login, id) in [
        (
            "rest/official-examples/get-user.200.private-and-public-profile.json",
            "octocat",
            1,
        ),
        (
            "rest/official-examples/get-user.200.public-profile-only.json",
            "octocat",
            1,
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/user"))
            .respond_with(json(200, fixture(fixture_name)))
            .expect(1)
            .mount(&server)
            .await;
        let user = client(&server).current_user(&token()).await.unwrap();
        assert_eq!(
            (user.login.as_str(), user.id),
            (login, id),
            "{fixture_name}"
        );
    }
}

#[tokio::test]
async fn list_repos_follows_two_pages() {
    let server = MockServer::start().await;
    let first = fixture("rest/official-examples/list-user-repos.200.json");
    let mut second: Vec<Value> = serde_json::from_str(&first).unwrap();
    second[0]["id"] = 2.into();
    second[0]["full_name"] = "octocat/Second".into();
    second[0]["private"] = true.into();
    second[0]["html_url"] = "https://github.com/octocat/Second".into();
    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(json(200, first).insert_header(
            "link",
            format!(
                "<{0}/user/repos?per_page=100&page=2>; rel=\"next\", <{0}/user/repos?per_page=100&page=2>; rel=\"last\"",
                server.uri()
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .and(query_param("page", "2"))
        .respond_with(
            json(200, serde_json::to_vec(&second).unwrap()).insert_header(
                "link",
                format!(
                    "<{}/user/repos?per_page=100&page=1>; rel=\"prev\"",
                    server.uri()
                ),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;

    let repos = client(&server).list_repos(&token()).await.unwrap();
    let names: Vec<&str> = repos.iter().map(|r| r.full_name.as_str()).collect();
    assert_eq!(names, ["octocat/Hello-World", "octocat/Second"]);
    assert_eq!(repos[0].id, 1_296_269);
    assert!(!repos[0].private);
    assert!(repos[1].private);
    assert_eq!(repos[0].default_branch.as_deref(), Some("master"));
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn get_repo_parses_a_full_repository() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World"))
        .respond_with(json(
            200,
            fixture("rest/official-examples/create-org-repo.201.full-repository.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .get_repo(&token(), &repo("octocat/Hello-World"))
        .await
        .unwrap();
    assert_eq!(found.full_name, "octocat/Hello-World");
    assert_eq!(found.html_url, "https://github.com/octocat/Hello-World");
}

#[tokio::test]
async fn host_names_the_installation() {
    let dotcom = client_with(GithubConfig::new(
        Url::parse("https://api.github.com").unwrap(),
    ));
    assert_eq!(dotcom.host(), "github.com");
    let ghes = client_with(GithubConfig::new(
        Url::parse("https://ghe.example.com/api/v3").unwrap(),
    ));
    assert_eq!(ghes.host(), "ghe.example.com");
    let server = MockServer::start().await;
    let local = client(&server);
    assert_eq!(local.host(), server.uri().trim_start_matches("http://"));
    assert!(!format!("{local:?}").contains(TOKEN));
}

/// Every endpoint is mounted only for requests carrying all required headers, so a
/// missing or wrong header makes wiremock answer 404 and the call fail.
#[tokio::test]
async fn every_request_carries_the_required_headers() {
    let server = MockServer::start().await;
    let strict = |verb: &str, route: &str| {
        Mock::given(method(verb))
            .and(path(route.to_string()))
            .and(header("accept", "application/vnd.github+json"))
            .and(header("x-github-api-version", "2022-11-28"))
            .and(header("user-agent", USER_AGENT))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
    };
    strict("GET", "/user")
        .respond_with(json(
            200,
            fixture("rest/official-examples/get-user.200.public-profile-only.json"),
        ))
        .mount(&server)
        .await;
    strict("GET", "/user/repos")
        .respond_with(json(
            200,
            fixture("rest/official-examples/list-user-repos.200.json"),
        ))
        .mount(&server)
        .await;
    strict("GET", "/repos/o/r")
        .respond_with(json(
            200,
            fixture("rest/official-examples/create-org-repo.201.full-repository.json"),
        ))
        .mount(&server)
        .await;
    strict("GET", "/repos/o/r/issues")
        .respond_with(json(
            200,
            fixture("rest/official-examples/list-repo-issues.200.with-pull-request-entry.json"),
        ))
        .mount(&server)
        .await;
    strict("POST", "/repos/o/r/issues")
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-issue.201.json"),
        ))
        .mount(&server)
        .await;
    strict("POST", "/orgs/acme/repos")
        .respond_with(json(
            201,
            fixture("rest/official-examples/create-org-repo.201.full-repository.json"),
        ))
        .mount(&server)
        .await;

    let client = client(&server);
    let t = token();
    client.current_user(&t).await.unwrap();
    client.list_repos(&t).await.unwrap();
    client.get_repo(&t, &repo("o/r")).await.unwrap();
    client
        .list_issues(&t, &IssuePageRequest::First { repo: repo("o/r") })
        .await
        .unwrap();
    client
        .create_issue(
            &t,
            &repo("o/r"),
            &NewIssue {
                title: "t".into(),
                body: "b".into(),
                labels: vec![],
            },
        )
        .await
        .unwrap();
    client
        .create_org_repo(&t, "acme", "n", &NewRepoOptions::default())
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 6);
    for request in &sent {
        let h = |name: &str| {
            request
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        assert_eq!(
            h("authorization"),
            Some(format!("Bearer {TOKEN}")),
            "{}",
            request.url
        );
        assert_eq!(h("accept").as_deref(), Some("application/vnd.github+json"));
        assert_eq!(h("x-github-api-version").as_deref(), Some("2022-11-28"));
        assert_eq!(h("user-agent").as_deref(), Some(USER_AGENT));
    }
}
