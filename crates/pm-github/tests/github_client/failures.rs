//! How GitHub's refusals and outages come back: status mapping with real error
//! bodies, rate limits (never retried), bounded retries of GETs, time-outs and
//! oversized bodies. None of it may reveal the token.

use crate::support::*;
use pm_integrations::{GithubApi, IssuePageRequest};
use pm_kernel::GithubError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `GET /user` answering `response` every time; returns the error and how many
/// requests were made.
async fn user_error(response: ResponseTemplate) -> (GithubError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(response)
        .mount(&server)
        .await;
    let err = client(&server).current_user(&token()).await.unwrap_err();
    (err, request_count(&server).await)
}

fn assert_no_token(err: &GithubError) {
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        serde_json::to_string(err).unwrap(),
    ] {
        assert!(!text.contains(TOKEN), "token leaked in {text}");
        assert!(
            !text.contains("TestToken"),
            "part of the token leaked in {text}"
        );
    }
}

#[tokio::test]
async fn bad_credentials_are_unauthorized_and_never_show_the_token() {
    for fixture_name in [
        "errors/401.bad-credentials.json",
        "errors/401.bad-credentials.older-form-without-status.json",
    ] {
        let (err, count) = user_error(json(401, fixture(fixture_name))).await;
        assert_eq!(err, GithubError::Unauthorized, "{fixture_name}");
        assert_eq!(count, 1, "401 is not retried");
        assert_no_token(&err);
    }
}

#[tokio::test]
async fn primary_rate_limit_waits_until_reset_and_is_not_retried() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let response = json(
        403,
        fixture("errors/403.primary-rate-limit.unauthenticated.2023-form.json"),
    )
    .insert_header("x-ratelimit-limit", "60")
    .insert_header("x-ratelimit-remaining", "0")
    .insert_header("x-ratelimit-reset", (now + 120).to_string());
    let (err, count) = user_error(response).await;
    let GithubError::RateLimited { retry_after_secs } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert!(
        (115..=120).contains(&retry_after_secs),
        "retry after {retry_after_secs}"
    );
    assert_eq!(count, 1, "a limited token is not hammered");
}

#[tokio::test]
async fn secondary_rate_limit_waits_a_minute_or_retry_after() {
    let body = fixture("errors/403.secondary-rate-limit.2022-form.json");
    let (err, count) = user_error(json(403, body.clone())).await;
    assert_eq!(
        err,
        GithubError::RateLimited {
            retry_after_secs: 60
        }
    );
    assert_eq!(count, 1);

    let (err, count) = user_error(json(403, body).insert_header("retry-after", "30")).await;
    assert_eq!(
        err,
        GithubError::RateLimited {
            retry_after_secs: 30
        }
    );
    assert_eq!(count, 1);

    let (err, _) = user_error(ResponseTemplate::new(429)).await;
    assert_eq!(
        err,
        GithubError::RateLimited {
            retry_after_secs: 60
        }
    );
}

#[tokio::test]
async fn plain_403_is_forbidden_with_githubs_message() {
    let body = r#"{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/issues/issues#list-repository-issues","status":"403"}"#;
    let (err, count) =
        user_error(json(403, body).insert_header("x-ratelimit-remaining", "4999")).await;
    assert_eq!(
        err,
        GithubError::Forbidden {
            message: "Resource not accessible by personal access token".into()
        }
    );
    assert_eq!(count, 1);
}

#[tokio::test]
async fn not_found_carries_the_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo-org/missing"))
        .respond_with(json(
            404,
            fixture("rest/recorded/get-branch-protection.404.branch-not-protected.body.json"),
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .get_repo(&token(), &repo("octo-org/missing"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GithubError::NotFound {
            message: "Branch not protected".into()
        }
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn get_recovers_after_three_server_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(3)
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(json(
            200,
            fixture("rest/official-examples/get-user.200.public-profile-only.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let user = client(&server)
        .current_user(&token())
        .await
        .expect("fourth attempt succeeds");
    assert_eq!(user.login, "octocat");
    assert_eq!(request_count(&server).await, 4);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_max_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let client = client(&server);
    let max_retries = client.config().max_retries as usize;
    let err = client
        .list_issues(&token(), &IssuePageRequest::First { repo: repo("o/r") })
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("502")),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, max_retries + 1);
    assert_no_token(&err);
}

#[tokio::test]
async fn slow_answers_time_out_as_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            json(
                200,
                fixture("rest/official-examples/get-user.200.public-profile-only.json"),
            )
            .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let mut config = config_for(&server.uri());
    config.request_timeout = Duration::from_millis(150);
    config.max_retries = 1;
    let started = std::time::Instant::now();
    let err = client_with(config)
        .current_user(&token())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("did not answer")),
        "{err:?}"
    );
    assert_eq!(
        request_count(&server).await,
        2,
        "a GET is retried once (max_retries = 1)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not wait for the slow answer"
    );
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    // Bind then drop: the port is very likely closed afterwards.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client_with(config_for(&format!("http://127.0.0.1:{port}")))
        .current_user(&token())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("connect")),
        "{err:?}"
    );
    assert_no_token(&err);
}

#[tokio::test]
async fn oversized_body_is_refused_and_not_retried() {
    let server = MockServer::start().await;
    let big = format!(
        "[{}]",
        vec!["{\"pad\":\"xxxxxxxxxxxxxxxx\"}"; 200].join(",")
    );
    Mock::given(method("GET"))
        .respond_with(json(200, big))
        .mount(&server)
        .await;
    let mut config = config_for(&server.uri());
    config.max_response_bytes = 1024;
    let err = client_with(config).list_repos(&token()).await.unwrap_err();
    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("1024 bytes")),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 1);
}

/// Serves one HTTP/1.1 answer with a chunked body of `total` bytes: no
/// Content-Length, so only counting while reading can catch it. (wiremock always
/// sends an honest Content-Length.) Stops writing once the client hangs up.
async fn serve_chunked_once(total: usize) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 1024];
        let mut sent = 0;
        while sent < total {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if socket.write_all(&frame).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    (base, task)
}

#[tokio::test]
async fn chunked_body_without_length_is_cut_off_at_the_cap() {
    let (base, server) = serve_chunked_once(512 * 1024).await;
    let mut config = config_for(&base);
    config.max_response_bytes = 8 * 1024;
    config.max_retries = 0;
    let err = client_with(config)
        .current_user(&token())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("8192 bytes")),
        "{err:?}"
    );
    let _ = server.await;
}

#[tokio::test]
async fn malformed_success_body_is_unavailable() {
    let (err, _) = user_error(json(200, r#"{"login": "octocat"}"#)).await;
    assert!(
        matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("id")),
        "{err:?}"
    );
    let (err, _) =
        user_error(ResponseTemplate::new(200).set_body_string("<html>proxy</html>")).await;
    assert!(matches!(err, GithubError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_limited_token_makes_no_further_requests_until_the_limit_lifts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            json(
                403,
                fixture("errors/403.secondary-rate-limit.2022-form.json"),
            )
            .insert_header("retry-after", "120"),
        )
        .mount(&server)
        .await;
    let github = client(&server);
    let err = github.current_user(&token()).await.unwrap_err();
    assert_eq!(
        err,
        GithubError::RateLimited {
            retry_after_secs: 120
        }
    );
    // Any call with the same token is refused here, without a request.
    let err = github.list_repos(&token()).await.unwrap_err();
    let GithubError::RateLimited { retry_after_secs } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert!(
        (118..=120).contains(&retry_after_secs),
        "{retry_after_secs}"
    );
    assert_eq!(
        request_count(&server).await,
        1,
        "a limited token is not hammered"
    );
    // Another token is not affected.
    let other = secrecy::SecretString::from("ghp_another_token");
    let _ = github.current_user(&other).await;
    assert_eq!(request_count(&server).await, 2);
}
