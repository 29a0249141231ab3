use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_token_identifies_the_admin() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], "admin@acme.example");
    assert_eq!(me["workspace"]["name"], "acme");
    assert!(me["user_id"].is_string() && me["workspace"]["id"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_wrong_tokens_are_401() {
    let app = TestApp::spawn().await;
    app.bootstrap("acme").await;
    let resp = app
        .client
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("www-authenticate").unwrap(), "Bearer");
    expect_problem(resp, 401, "UNAUTHENTICATED").await;
    for bad in ["pmh_wrong", "x".repeat(600).as_str()] {
        let (status, body) = app.call(Method::GET, "/api/v1/me", Some(bad), None).await;
        assert_problem(status, &body, 401, "UNAUTHENTICATED");
    }
    let resp = app
        .client
        .get(format!("{}/api/v1/projects", app.base))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401, "UNAUTHENTICATED").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_add_users_whose_tokens_work_once_shown() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "Bob@Acme.io", "role": "member"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["email"], "bob@acme.io");
    assert_eq!(created["role"], "member");
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("pmh_"));
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
    assert_eq!(me["role"], "member");

    // The same e-mail again is a conflict and adds nobody.
    let users = app.count("users").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "bob@acme.io", "role": "admin"})),
        )
        .await;
    assert_problem(status, &body, 409, "CONFLICT");
    assert_eq!(app.count("users").await, users);
}

#[tokio::test(flavor = "multi_thread")]
async fn members_cannot_add_users() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let users = app.count("users").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&member),
            Some(json!({"email": "x@acme.io", "role": "admin"})),
        )
        .await;
    assert_problem(status, &body, 403, "FORBIDDEN");
    assert_eq!(app.count("users").await, users);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_user_input_is_422_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let users = app.count("users").await;
    for body in [
        json!({"email": "not-an-email", "role": "member"}),
        json!({"email": "a@acme.io", "role": "owner"}),
        json!({"email": "a@acme.io"}),
        json!({"email": "a@acme.io", "role": "member", "admin": true}),
        json!({"email": 42, "role": "member"}),
    ] {
        let (status, problem) = app
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
        assert!(problem["errors"].is_array(), "{body} → {problem}");
    }
    assert_eq!(app.count("users").await, users);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_is_told_403_before_the_body_is_looked_at() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let resp = app
        .raw(
            Method::POST,
            "/api/v1/users",
            &member,
            Some("application/json"),
            "not json",
        )
        .await;
    expect_problem(resp, 403, "FORBIDDEN").await;
}
