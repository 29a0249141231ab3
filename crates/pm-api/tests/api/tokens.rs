//! Users listed and removed; API tokens issued, listed, expired and revoked.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn me(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.call(Method::GET, "/api/v1/me", Some(token), None).await
}

/// The 401 an unknown token gets: every refused token must get exactly this.
async fn unknown_token_problem(app: &TestApp) -> Value {
    let (status, body) = me(app, "pmh_not_a_token_at_all").await;
    assert_problem(status, &body, 401, "UNAUTHENTICATED");
    body
}

async fn assert_refused(app: &TestApp, token: &str) {
    let (status, body) = me(app, token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body, unknown_token_problem(app).await);
}

async fn issue(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = app
        .call(Method::POST, "/api/v1/tokens", Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn user_id(app: &TestApp, token: &str) -> String {
    me(app, token).await.1["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_list_the_workspaces_users_page_by_page() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let other = app.bootstrap("globex").await;
    let (status, page) = app
        .call(Method::GET, "/api/v1/users?limit=1", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let first = &page["items"][0];
    assert_eq!(first["email"], "admin@acme.example");
    assert_eq!(first["role"], "admin");
    assert!(first["id"].is_string() && first["created_at"].is_string());
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("/api/v1/users?limit=1&cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rest["items"][0]["email"], "m@acme.io");
    assert_eq!(rest["items"][0]["role"], "member");
    assert!(rest["next_cursor"].is_null());
    // No token anywhere in the list.
    let text = format!("{page}{rest}");
    for token in [&admin, &member, &other] {
        assert!(!text.contains(token.as_str()));
    }
    assert!(!text.contains("globex"));

    let (status, body) = app
        .call(Method::GET, "/api/v1/users?limit=0", Some(&admin), None)
        .await;
    assert_problem(status, &body, 422, "VALIDATION_FAILED");
}

#[tokio::test(flavor = "multi_thread")]
async fn members_cannot_list_or_remove_users() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let admin_id = user_id(&app, &admin).await;
    for path in ["/api/v1/users", "/api/v1/users?limit=0"] {
        let (status, body) = app.call(Method::GET, path, Some(&member), None).await;
        assert_problem(status, &body, 403, "FORBIDDEN");
    }
    for id in [admin_id.as_str(), "not-a-uuid"] {
        let (status, body) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/users/{id}"),
                Some(&member),
                None,
            )
            .await;
        assert_problem(status, &body, 403, "FORBIDDEN");
    }
    assert_eq!(me(&app, &admin).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_user_revokes_all_its_tokens_and_keeps_its_row() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let extra = issue(&app, &member, json!({"name": "CI"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(me(&app, &extra).await.0, StatusCode::OK);
    let member_id = user_id(&app, &member).await;
    let users = app.count("users").await;

    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{member_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_refused(&app, &member).await;
    assert_refused(&app, &extra).await;
    // Soft delete: the row stays, the list no longer shows it, again is 404.
    assert_eq!(app.count("users").await, users);
    let (_, page) = app
        .call(Method::GET, "/api/v1/users", Some(&admin), None)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{member_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(status, &body, 404, "NOT_FOUND");
    // The e-mail can be added again, as a new user.
    let again = app.member(&admin, "m@acme.io").await;
    assert_ne!(user_id(&app, &again).await, member_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let admin_id = user_id(&app, &admin).await;
    let path = format!("/api/v1/users/{admin_id}");
    let (status, body) = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_problem(status, &body, 409, "CONFLICT");
    assert!(
        body["detail"].as_str().unwrap().contains("last admin"),
        "{body}"
    );
    assert_eq!(me(&app, &admin).await.0, StatusCode::OK);

    // With a second admin, an admin may remove itself.
    let (status, second) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "b@acme.io", "role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let second = second["token"].as_str().unwrap().to_string();
    let (status, _) = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_refused(&app, &admin).await;
    // Now the second admin is the last one.
    let second_id = user_id(&app, &second).await;
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{second_id}"),
            Some(&second),
            None,
        )
        .await;
    assert_problem(status, &body, 409, "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_user_is_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let stranger = app.bootstrap("globex").await;
    let stranger_id = user_id(&app, &stranger).await;
    for id in [stranger_id.as_str(), "0190b8a0-0000-7000-8000-000000000000"] {
        let (status, body) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/users/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_problem(status, &body, 404, "NOT_FOUND");
    }
    assert_eq!(me(&app, &stranger).await.0, StatusCode::OK);
    let (status, body) = app
        .call(Method::DELETE, "/api/v1/users/nope", Some(&admin), None)
        .await;
    assert_problem(status, &body, 422, "VALIDATION_FAILED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_issues_lists_and_revokes_its_own_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;

    let created = issue(
        &app,
        &member,
        json!({"name": "laptop", "expires_in_days": 30}),
    )
    .await;
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("pmh_"));
    assert_eq!(created["hint"], token[token.len() - 4..]);
    assert_eq!(created["name"], "laptop");
    let created_at = time::OffsetDateTime::parse(
        created["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires_at = time::OffsetDateTime::parse(
        created["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let lifetime = expires_at - created_at;
    assert!(
        lifetime >= time::Duration::days(30) - time::Duration::seconds(5)
            && lifetime <= time::Duration::days(30) + time::Duration::seconds(5),
        "{lifetime}"
    );
    assert!(created["last_used_at"].is_null());
    let (_, me_body) = me(&app, &token).await;
    assert_eq!(me_body["email"], "m@acme.io");

    // An empty body: no name, no expiry.
    let resp = app
        .raw(Method::POST, "/api/v1/tokens", &member, None, "")
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let plain: Value = resp.json().await.unwrap();
    assert!(plain["expires_at"].is_null() && plain["name"].is_null());

    let (status, list) = app
        .call(Method::GET, "/api/v1/tokens", Some(&member), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        3,
        "the member's first token and two issued: {list}"
    );
    let text = list.to_string();
    for secret in [&member, &token, plain["token"].as_str().unwrap()] {
        assert!(!text.contains(secret), "a token leaked into the list");
    }
    assert!(items.iter().all(|t| t.get("token").is_none()
        && t.get("token_hash").is_none()
        && t["hint"].as_str().unwrap().len() == 4));
    assert!(list["next_cursor"].is_null());
    let (_, paged) = app
        .call(Method::GET, "/api/v1/tokens?limit=2", Some(&member), None)
        .await;
    assert!(paged["next_cursor"].is_string(), "{paged}");
    // The admin's list holds only the admin's token.
    let (_, admins) = app
        .call(Method::GET, "/api/v1/tokens", Some(&admin), None)
        .await;
    assert_eq!(admins["items"].as_array().unwrap().len(), 1);
    assert!(!admins.to_string().contains(admin.as_str()));

    // Someone else's token id is 404 and stays usable.
    let id = created["id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(status, &body, 404, "NOT_FOUND");
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);

    // Revoked: 401 at once, not listed, a second revoke is 404.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_refused(&app, &token).await;
    let (_, list) = app
        .call(Method::GET, "/api/v1/tokens", Some(&member), None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(id));
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&member),
            None,
        )
        .await;
    assert_problem(status, &body, 404, "NOT_FOUND");

    // A caller may revoke the token it is using.
    let own = list["items"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{own}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_refused(&app, &member).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_token_requests_are_rejected_and_write_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let tokens = app.count("api_tokens").await;
    for body in [
        json!({"expires_in_days": 0}),
        json!({"expires_in_days": 3651}),
        json!({"expires_in_days": -5}),
        json!({"expires_in_days": "30"}),
        json!({"expires_in_days": 1.5}),
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "ok", "scope": "admin"}),
    ] {
        let (status, problem) = app
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
        assert!(problem["errors"].is_array(), "{body} → {problem}");
    }
    let resp = app
        .raw(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some("text/plain"),
            "{}",
        )
        .await;
    expect_problem(resp, 415, "VALIDATION_FAILED").await;
    let resp = app
        .raw(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some("application/json"),
            "{",
        )
        .await;
    expect_problem(resp, 400, "VALIDATION_FAILED").await;
    assert_eq!(app.count("api_tokens").await, tokens);
    let (status, body) = app
        .call(Method::DELETE, "/api/v1/tokens/nope", Some(&admin), None)
        .await;
    assert_problem(status, &body, 422, "VALIDATION_FAILED");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refused_like_an_unknown_one() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let created = issue(&app, &admin, json!({"expires_in_days": 1})).await;
    let token = created["token"].as_str().unwrap();
    assert_eq!(me(&app, token).await.0, StatusCode::OK);
    // A day later, as far as the database knows.
    app.sql(&format!(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        created["id"].as_str().unwrap()
    ))
    .await;
    assert_refused(&app, token).await;
    // Still listed, with its expiry in the past, until revoked.
    let (_, list) = app
        .call(Method::GET, "/api/v1/tokens", Some(&admin), None)
        .await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == created["id"])
        .expect("expired token listed");
    assert!(listed["expires_at"].is_string());
    assert_eq!(me(&app, &admin).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn last_used_at_is_recorded_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let last_used = || async {
        let (_, list) = app
            .call(Method::GET, "/api/v1/tokens", Some(&admin), None)
            .await;
        list["items"][0]["last_used_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = last_used().await;
    for _ in 0..3 {
        assert_eq!(me(&app, &admin).await.0, StatusCode::OK);
    }
    assert_eq!(last_used().await, first, "written again within the minute");
    app.sql("UPDATE api_tokens SET last_used_at = now() - interval '61 seconds'")
        .await;
    let stale = last_used().await; // this call records the use again
    assert_ne!(stale, first);
    assert_eq!(last_used().await, stale, "and keeps it for the next minute");
}
