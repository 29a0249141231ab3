use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn task_lifecycle_with_filters_and_pages() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let p = app.create_project(&token, "Tasks").await;
    let slug = p["slug"].as_str().unwrap();

    let (status, t1) = app
        .create_task(
            &token,
            slug,
            json!({"title": "Write API", "description": "d", "priority": "high", "labels": ["api", "api", "v1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t1}");
    assert_eq!(t1["number"], 1);
    assert_eq!(t1["status"], "todo");
    assert_eq!(t1["priority"], "high");
    assert_eq!(t1["labels"], json!(["api", "v1"]));
    assert_eq!(t1["source"], "manual");
    assert_eq!(t1["external_links"], json!([]));
    let (_, t2) = app
        .create_task(&token, slug, json!({"title": "Done one", "status": "done"}))
        .await;
    assert_eq!(t2["number"], 2);
    app.create_task(&token, slug, json!({"title": "Third"}))
        .await;

    let base = format!("/api/v1/projects/{slug}/tasks");
    let (_, done) = app
        .call(
            Method::GET,
            &format!("{base}?status=done"),
            Some(&token),
            None,
        )
        .await;
    let numbers: Vec<_> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].clone())
        .collect();
    assert_eq!(numbers, [json!(2)]);
    let (_, github) = app
        .call(
            Method::GET,
            &format!("{base}?source=github"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(github["items"], json!([]));

    let (_, page1) = app
        .call(Method::GET, &format!("{base}?limit=2"), Some(&token), None)
        .await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = app
        .call(
            Method::GET,
            &format!("{base}?limit=2&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(page2["items"][0]["number"], 3);
    assert!(page2["next_cursor"].is_null());

    let (status, patched) = app
        .call(
            Method::PATCH,
            &format!("{base}/1"),
            Some(&token),
            Some(json!({"status": "in_progress", "labels": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["status"].as_str(), patched["title"].as_str()),
        (Some("in_progress"), Some("Write API"))
    );
    assert_eq!(patched["labels"], json!([]));

    let (status, got) = app
        .call(Method::GET, &format!("{base}/1"), Some(&token), None)
        .await;
    assert_eq!((status, got), (StatusCode::OK, patched));

    let (status, _) = app
        .call(Method::DELETE, &format!("{base}/1"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .call(Method::GET, &format!("{base}/1"), Some(&token), None)
        .await;
    assert_problem(status, &body, 404, "NOT_FOUND");
    let (status, body) = app
        .call(Method::DELETE, &format!("{base}/1"), Some(&token), None)
        .await;
    assert_problem(status, &body, 404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_creates_are_numbered_one_to_fifty() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let p = app.create_project(&token, "Race").await;
    let url = format!(
        "{}/api/v1/projects/{}/tasks",
        app.base,
        p["slug"].as_str().unwrap()
    );
    let mut handles = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let (url, token) = (url.clone(), token.clone());
        handles.push(tokio::spawn(async move {
            let resp = client
                .post(&url)
                .bearer_auth(token)
                .json(&json!({"title": format!("task {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            resp.json::<serde_json::Value>().await.unwrap()["number"]
                .as_i64()
                .unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_task_input_is_4xx_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let p = app.create_project(&token, "Strict").await;
    let slug = p["slug"].as_str().unwrap();
    for body in [
        json!({"title": ""}),
        json!({"title": "x".repeat(10_000)}),
        json!({"title": 12}),
        json!({"title": "ok", "status": "started"}),
        json!({"title": "ok", "priority": "p0"}),
        json!({"title": "ok", "labels": "bug"}),
        json!({"title": "ok", "labels": [""]}),
        json!({"title": "ok", "number": 7}),
        json!({"description": "no title"}),
    ] {
        let (status, problem) = app.create_task(&token, slug, body.clone()).await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    let base = format!("/api/v1/projects/{slug}/tasks");
    for query in ["limit=0", "limit=100000", "status=nope", "cursor=zzz"] {
        let (status, problem) = app
            .call(Method::GET, &format!("{base}?{query}"), Some(&token), None)
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    for number in ["0", "-1", "abc"] {
        let (status, problem) = app
            .call(Method::GET, &format!("{base}/{number}"), Some(&token), None)
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    }
    assert_eq!(app.count("tasks").await, 0);
    let (_, created) = app
        .create_task(&token, slug, json!({"title": "first real"}))
        .await;
    assert_eq!(created["number"], 1, "rejected creates consumed no numbers");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_task_is_404_and_unchanged() {
    let app = TestApp::spawn().await;
    let owner = app.bootstrap("acme").await;
    let intruder = app.bootstrap("evil").await;
    let p = app.create_project(&owner, "Private").await;
    let slug = p["slug"].as_str().unwrap();
    let (_, task) = app
        .create_task(&owner, slug, json!({"title": "secret"}))
        .await;
    let path = format!("/api/v1/projects/{slug}/tasks/1");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"title": "pwned"}))),
        (Method::DELETE, None),
    ] {
        let (status, problem) = app.call(method, &path, Some(&intruder), body).await;
        assert_problem(status, &problem, 404, "NOT_FOUND");
    }
    let (status, problem) = app
        .create_task(&intruder, slug, json!({"title": "planted"}))
        .await;
    assert_problem(status, &problem, 404, "NOT_FOUND");
    let (status, problem) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks"),
            Some(&intruder),
            None,
        )
        .await;
    assert_problem(status, &problem, 404, "NOT_FOUND");
    let (_, still) = app.call(Method::GET, &path, Some(&owner), None).await;
    assert_eq!(still, task);
    assert_eq!(app.count("tasks").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_number_has_one_spelling() {
    let app = TestApp::spawn().await;
    let token = app.bootstrap("acme").await;
    let p = app.create_project(&token, "Numbers").await;
    let slug = p["slug"].as_str().unwrap();
    let (status, _) = app.create_task(&token, slug, json!({"title": "one"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let base = format!("/api/v1/projects/{slug}/tasks");
    let (status, task) = app
        .call(Method::GET, &format!("{base}/1"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    // Other spellings of 1 are not task 1: they answer as any invalid number does.
    for number in [
        "01",
        "001",
        "%2B1",
        "+1",
        "1.0",
        "1e0",
        "%201",
        "99999999999999999999",
    ] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({"title": "changed"}));
            let (status, problem) = app
                .call(
                    method.clone(),
                    &format!("{base}/{number}"),
                    Some(&token),
                    body,
                )
                .await;
            assert_problem(status, &problem, 422, "VALIDATION_FAILED");
            assert_eq!(
                problem["errors"][0]["field"], "number",
                "{number}: {problem}"
            );
        }
    }
    let (status, task) = app
        .call(Method::GET, &format!("{base}/1"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["title"], "one", "nothing was changed or deleted");
}
