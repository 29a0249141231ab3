//! The read path's cost: SQL statements per request, counted by the pool the
//! routes run on (`Database::statements_executed`), through the real routes and
//! middleware (`configure_app`) on the test's own pool.

use crate::helpers::settings_for;
use actix_web::{App, http::StatusCode, test};
use pm_postgres::testing::TestDb;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

struct Counted<S> {
    service: S,
    db: TestDb,
    token: String,
}

impl<S, B> Counted<S>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    /// The status, the JSON body and the statements the request ran.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, u64) {
        let mut req = match method {
            "POST" => test::TestRequest::post(),
            _ => test::TestRequest::get(),
        }
        .uri(path)
        .insert_header(("authorization", format!("Bearer {}", self.token)));
        if let Some(body) = body {
            req = req.set_json(body);
        }
        let before = self.db.db.statements_executed();
        let resp = test::call_service(&self.service, req.to_request()).await;
        let status = resp.status();
        let bytes = test::read_body(resp).await;
        let statements = self.db.db.statements_executed() - before;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body, statements)
    }
}

#[actix_web::test]
async fn the_task_list_runs_at_most_three_statements() {
    let db = TestDb::new().await;
    let settings = settings_for(&db, &[]);
    let state = pm_api::startup::build_state(&settings, db.db.clone()).unwrap();
    let token = state
        .accounts
        .bootstrap("acme", "admin@acme.example")
        .await
        .unwrap()
        .token
        .expose_secret()
        .to_string();
    let other_token = state
        .accounts
        .bootstrap("other", "admin@other.example")
        .await
        .unwrap()
        .token
        .expose_secret()
        .to_string();
    let service = test::init_service(
        App::new().configure(|cfg| pm_api::startup::configure_app(cfg, state.clone())),
    )
    .await;
    let app = Counted { service, db, token };

    let (status, project, _) = app
        .call(
            "POST",
            "/api/v1/projects",
            Some(json!({"name": "Read path"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let slug = project["slug"].as_str().unwrap().to_string();
    for i in 1..=60 {
        let (status, body, _) = app
            .call(
                "POST",
                &format!("/api/v1/projects/{slug}/tasks"),
                Some(json!({"title": format!("Task {i}"), "labels": ["a", "b"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    // The token's last use was written by the first request (at most once a
    // minute); from here on authentication is one statement.
    let list = format!("/api/v1/projects/{slug}/tasks?limit=50");
    let (status, page, statements) = app.call("GET", &list, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert_eq!(page["items"][0]["labels"], json!(["a", "b"]));
    assert!(statements <= 3, "task list: {statements} statements");
    assert_eq!(
        statements, 2,
        "authentication, then the page with its project"
    );

    let next = page["next_cursor"].as_str().unwrap();
    let (status, page2, statements) = app
        .call("GET", &format!("{list}&cursor={next}&status=todo"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page2}");
    assert_eq!(page2["items"].as_array().unwrap().len(), 10);
    assert_eq!(page2["items"][0]["number"], 51);
    assert_eq!(statements, 2, "the next, filtered page");

    // Not found (no such slug) and an empty filter answer in as many statements.
    let (status, body, statements) = app
        .call("GET", "/api/v1/projects/nothing-abcdef/tasks", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(statements, 2);
    let (status, body, statements) = app
        .call(
            "GET",
            &format!("/api/v1/projects/{slug}/tasks?status=done"),
            None,
        )
        .await;
    assert_eq!((status, body["items"].clone()), (StatusCode::OK, json!([])));
    assert_eq!(statements, 2);

    // The project and the project list: authentication plus one statement.
    let (status, _, statements) = app
        .call("GET", &format!("/api/v1/projects/{slug}"), None)
        .await;
    assert_eq!((status, statements), (StatusCode::OK, 2));
    let (status, _, statements) = app.call("GET", "/api/v1/projects", None).await;
    assert_eq!((status, statements), (StatusCode::OK, 2));

    // Another workspace's project is 404, exactly like a missing one.
    let other = Counted {
        service: app.service,
        db: app.db,
        token: other_token,
    };
    let (_, _, _) = other.call("GET", "/api/v1/me", None).await; // its first use
    let (status, body, statements) = other.call("GET", &list, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(statements, 2);
}
