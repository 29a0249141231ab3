use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn spec_workflow_draft_interviewing_review() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let p = app.create_project(&admin, "Spec").await;
    let base = format!("/api/v1/projects/{}", p["slug"].as_str().unwrap());

    let (status, spec) = app
        .call(Method::GET, &format!("{base}/spec"), Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (spec["status"].as_str(), spec["content"].as_str()),
        (Some("draft"), Some(""))
    );

    let (status, spec) = app
        .call(
            Method::PUT,
            &format!("{base}/spec"),
            Some(&admin),
            Some(json!({"content": "# Goals\n- ship"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{spec}");
    assert_eq!(spec["content"], "# Goals\n- ship");

    // A draft cannot be approved.
    let (status, body) = app
        .call(Method::POST, &format!("{base}/approve"), Some(&admin), None)
        .await;
    assert_problem(status, &body, 409, "CONFLICT");

    let (status, spec) = app
        .call(
            Method::POST,
            &format!("{base}/spec/submit"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (status, spec["status"].as_str()),
        (StatusCode::OK, Some("interviewing"))
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/spec/submit"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(status, &body, 409, "CONFLICT");

    let (status, approved) = app
        .call(Method::POST, &format!("{base}/approve"), Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["spec"]["status"], "review");
    assert!(approved["repository"]["outcome"].is_string(), "{approved}");

    // Idempotent.
    let (status, again) = app
        .call(Method::POST, &format!("{base}/approve"), Some(&admin), None)
        .await;
    assert_eq!(
        (status, again["spec"]["status"].as_str()),
        (StatusCode::OK, Some("review"))
    );

    // An approved spec is locked.
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{base}/spec"),
            Some(&admin),
            Some(json!({"content": "changed"})),
        )
        .await;
    assert_problem(status, &body, 409, "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn members_cannot_approve_and_strangers_see_404() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.io").await;
    let stranger = app.bootstrap("other").await;
    let p = app.create_project(&admin, "Spec").await;
    let base = format!("/api/v1/projects/{}", p["slug"].as_str().unwrap());
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{base}/spec/submit"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/approve"),
            Some(&member),
            None,
        )
        .await;
    assert_problem(status, &body, 403, "FORBIDDEN");
    for (method, path, body) in [
        (Method::GET, format!("{base}/spec"), None),
        (
            Method::PUT,
            format!("{base}/spec"),
            Some(json!({"content": "x"})),
        ),
        (Method::POST, format!("{base}/spec/submit"), None),
        (Method::POST, format!("{base}/approve"), None),
    ] {
        let (status, problem) = app.call(method, &path, Some(&stranger), body).await;
        assert_problem(status, &problem, 404, "NOT_FOUND");
    }
    let (_, spec) = app
        .call(Method::GET, &format!("{base}/spec"), Some(&admin), None)
        .await;
    assert_eq!(
        (spec["status"].as_str(), spec["content"].as_str()),
        (Some("interviewing"), Some(""))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_spec_input_is_rejected() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap("acme").await;
    let p = app.create_project(&admin, "Spec").await;
    let path = format!("/api/v1/projects/{}/spec", p["slug"].as_str().unwrap());
    for body in [
        json!({}),
        json!({"content": 3}),
        json!({"content": "x", "status": "review"}),
    ] {
        let (status, problem) = app.call(Method::PUT, &path, Some(&admin), Some(body)).await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    let (_, spec) = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(
        (spec["status"].as_str(), spec["content"].as_str()),
        (Some("draft"), Some(""))
    );
}
