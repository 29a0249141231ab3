//! `TestApp::spawn()` — a fresh database, the server on 127.0.0.1:0, and helpers
//! that speak the API.

use pm_api::{Application, Settings};
use pm_postgres::testing::TestDb;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::path::Path;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub settings: Settings,
    handle: actix_web::dev::ServerHandle,
    jobs: Option<pm_api::jobs::JobWorkers>,
}

pub fn settings_for(db: &TestDb, overrides: &[(&str, &str)]) -> Settings {
    let mut figment = Settings::figment(Path::new("/nonexistent"))
        .merge(("database.url", db.url.clone()))
        .merge(("server.bind", "127.0.0.1:0"))
        .merge(("server.workers", 2))
        .merge(("server.shutdown_timeout_secs", 1))
        .merge(("github.api_url", "http://127.0.0.1:9"))
        .merge(("jobs.poll_interval_ms", 100))
        .merge(("crypto.key", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMzJieSE="));
    for (k, v) in overrides {
        // Numbers stay numbers, as figment's environment provider would parse them.
        figment = match v.parse::<i64>() {
            Ok(n) => figment.merge((*k, n)),
            Err(_) => figment.merge((*k, *v)),
        };
    }
    figment.extract().expect("test settings")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        Self::spawn_wrapping(overrides, |github| github).await
    }

    /// [`TestApp::spawn_with`] with the app's GitHub client passed through `wrap`.
    pub async fn spawn_wrapping(
        overrides: &[(&str, &str)],
        wrap: impl FnOnce(
            std::sync::Arc<dyn pm_integrations::GithubApi>,
        ) -> std::sync::Arc<dyn pm_integrations::GithubApi>,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = TestDb::new().await;
        let settings = settings_for(&db, overrides);
        let app = Application::build_wrapping(&settings, wrap)
            .await
            .expect("build app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let github = app.github();
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        // Imports and pushes run as jobs: the workers run beside the server, as in
        // `pmhub serve`.
        let jobs = settings
            .jobs
            .enabled
            .then(|| pm_api::jobs::start_sharing(&settings, Some(github)).expect("job workers"));
        Self {
            jobs,
            base,
            client: reqwest::Client::new(),
            db,
            settings,
            handle,
        }
    }

    /// A new workspace with its admin; returns the admin's token.
    pub async fn bootstrap(&self, workspace: &str) -> String {
        let state = pm_api::startup::build_state(&self.settings, self.db.db.clone()).unwrap();
        let created = state
            .accounts
            .bootstrap(workspace, &format!("admin@{workspace}.example"))
            .await
            .expect("bootstrap");
        created.token.expose_secret().to_string()
    }

    /// A member of the admin's workspace; returns its token.
    pub async fn member(&self, admin_token: &str, email: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/users",
                Some(admin_token),
                Some(json!({"email": email, "role": "member"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        // Imports and pushes answer 202 and run in the background; the tests written
        // for the one-call flow ask to wait for the run (`Prefer: wait=60`), which
        // answers as the synchronous endpoints did.
        let one_call = method == Method::POST
            && (path.ends_with("/github/sync") || path.ends_with("/github/push"));
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if one_call {
            req = req.header("prefer", "wait=60");
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Sends a raw body with the given content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.expect("request")
    }

    pub async fn create_project(&self, token: &str, name: &str) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/projects",
                Some(token),
                Some(json!({"name": name, "description": "about"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn create_task(&self, token: &str, slug: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/api/v1/projects/{slug}/tasks"),
            Some(token),
            Some(body),
        )
        .await
    }

    /// Runs raw SQL against the test database (to set up states only a crash makes).
    pub async fn sql(&self, statements: &str) {
        use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
        let mut conn = AsyncPgConnection::establish(&self.db.url).await.unwrap();
        conn.batch_execute(statements).await.unwrap();
    }

    /// Rows in a table, to prove that a rejected request wrote nothing.
    pub async fn count(&self, table: &str) -> i64 {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.db.url).await.unwrap();
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let jobs = self.jobs.take();
        tokio::spawn(async move {
            handle.stop(false).await;
            if let Some(jobs) = jobs {
                jobs.shutdown().await;
            }
        });
    }
}

/// Asserts a problem+json answer with this status and code; returns the body.
pub async fn expect_problem(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    body
}

pub fn assert_problem(status: StatusCode, body: &Value, expected: u16, code: &str) {
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}
