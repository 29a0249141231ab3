use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn project_lifecycle() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let created = app.create_project(&token, "Billing Revamp").await;
    let slug = created["slug"].as_str().unwrap().to_string();
    assert!(slug.starts_with("billing-revamp-"), "{slug}");
    assert_eq!(created["name"], "Billing Revamp");
    assert_eq!(created["description"], "about");
    assert!(created["github_repo"].is_null());
    for key in ["id", "created_at", "updated_at"] {
        assert!(created[key].is_string(), "{key}");
    }

    let (status, got) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    let (status, patched) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/projects/{slug}"),
            Some(&token),
            Some(json!({"description": "new"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["name"].as_str(), patched["description"].as_str()),
        (Some("Billing Revamp"), Some("new"))
    );

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/projects/{slug}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}"),
            Some(&token),
            None,
        )
        .await;
    assert_problem(status, &body, 404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_projects_with_one_name_get_distinct_slugs() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let a = app.create_project(&token, "Same").await;
    let b = app.create_project(&token, "Same").await;
    assert_ne!(a["slug"], b["slug"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_with_a_cursor_and_checks_the_limit() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    for i in 0..5 {
        app.create_project(&token, &format!("P{i}")).await;
    }
    let (_, page1) = app
        .call(Method::GET, "/api/v1/projects?limit=2", Some(&token), None)
        .await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects?limit=10&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    let names: Vec<_> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["P0", "P1", "P2", "P3", "P4"]);
    assert!(rest["next_cursor"].is_null());

    for query in [
        "limit=0",
        "limit=100000",
        "limit=-3",
        "limit=abc",
        "cursor=%21%21",
        "sort=name",
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/projects?{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_problem(status, &body, 422, "VALIDATION_FAILED");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_project_is_404_and_unchanged() {
    let app = TestApp::spawn().await;
    let owner = app.bootstrap("acme").await;
    let intruder = app.bootstrap("evil").await;
    let project = app.create_project(&owner, "Secret").await;
    let slug = project["slug"].as_str().unwrap();
    let path = format!("/api/v1/projects/{slug}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "pwned"}))),
        (Method::DELETE, None),
    ] {
        let (status, problem) = app.call(method, &path, Some(&intruder), body).await;
        assert_problem(status, &problem, 404, "NOT_FOUND");
    }
    let (_, list) = app
        .call(Method::GET, "/api/v1/projects", Some(&intruder), None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (_, still) = app.call(Method::GET, &path, Some(&owner), None).await;
    assert_eq!(still, project);
}

#[tokio::test(flavor = "multi_thread")]
async fn members_cannot_delete_projects() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let project = app.create_project(&member, "Mine").await;
    let path = format!("/api/v1/projects/{}", project["slug"].as_str().unwrap());
    let (status, body) = app.call(Method::DELETE, &path, Some(&member), None).await;
    assert_problem(status, &body, 403, "FORBIDDEN");
    assert_eq!(app.count("projects").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_project_input_is_422_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    for body in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(10_000)}),
        json!({"name": "ok", "description": "d".repeat(20_001)}),
        json!({"description": "no name"}),
    ] {
        let (status, problem) = app
            .call(Method::POST, "/api/v1/projects", Some(&token), Some(body))
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    assert_eq!(app.count("projects").await, 0);
    for slug in ["UPPER-case", "a--b", "x", "semi;colon"] {
        let (status, problem) = app
            .call(
                Method::GET,
                &format!("/api/v1/projects/{slug}"),
                Some(&token),
                None,
            )
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    let p = app.create_project(&token, "Keep").await;
    let path = format!("/api/v1/projects/{}", p["slug"].as_str().unwrap());
    let (status, problem) = app
        .call(Method::PATCH, &path, Some(&token), Some(json!({})))
        .await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    let (status, problem) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"name": ""})),
        )
        .await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    let (_, still) = app.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(still, p);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_only_routes_check_the_role_before_the_path() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let bad = "Not_A_Slug!";
    // An admin gets the 422 for the malformed slug...
    let (status, problem) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/projects/{bad}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    // ...a member the 403, whatever the path or body says.
    for (method, path, body) in [
        (Method::DELETE, format!("/api/v1/projects/{bad}"), None),
        (
            Method::POST,
            format!("/api/v1/projects/{bad}/approve"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/projects/{bad}/github-repo"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/projects/{bad}/github-repo"),
            Some(json!({"full_name": "not a repo"})),
        ),
    ] {
        let (status, problem) = app.call(method, &path, Some(&member), body).await;
        assert_problem(status, &problem, 403, "FORBIDDEN");
    }
}
