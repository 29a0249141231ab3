//! A small client for pmhub's REST API: one method per HTTP verb, answers as JSON, and a few
//! walkers for paginated lists.

use anyhow::{Context, bail};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};

/// One answer: status, headers and the body parsed as JSON (a non-JSON body is kept as a
/// JSON string, an empty one as `null`).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem+json `code`, if the answer is a problem.
    pub fn code(&self) -> Option<&str> {
        self.body.get("code").and_then(Value::as_str)
    }

    /// Fails with the whole answer in the message unless the status is `expected`.
    pub fn expect_status(self, expected: u16) -> anyhow::Result<Self> {
        if self.status.as_u16() == expected {
            Ok(self)
        } else {
            bail!(
                "expected HTTP {expected}, got {}: {}",
                self.status,
                self.body
            )
        }
    }
}

/// pmhub's API at `base` (e.g. `http://127.0.0.1:8080`), optionally as one user.
#[derive(Debug, Clone)]
pub struct Api {
    client: Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(base: impl Into<String>) -> anyhow::Result<Self> {
        crate::install_tls_provider();
        let client = Client::builder()
            // GitHub (and so the fake) refuses requests without one.
            .user_agent(concat!("pm-e2e/", env!("CARGO_PKG_VERSION")))
            // Generous: importing 10,000 issues is one request.
            .timeout(Duration::from_secs(300))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            base: base.into().trim_end_matches('/').to_string(),
            token: None,
        })
    }

    /// The same API, called with `token` (shares the connection pool).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        self.send_with(method, path, body, &[]).await
    }

    /// [`Api::send`] with extra headers (e.g. `("prefer", "wait=60")`).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// A POST without a body (submit, approve).
    /// `POST` that waits for the run it starts (`Prefer: wait=60`): the one-call flow
    /// of imports and pushes (200 with the counts when the run finished in time).
    pub async fn post_and_wait(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send_with(Method::POST, path, Some(body), &[("prefer", "wait=60")])
            .await
    }

    pub async fn post_empty(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::DELETE, path, None).await
    }

    /// Polls `GET /readyz` until it answers 200 (the server is up and reaches its database).
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.get("/readyz").await {
                Ok(reply) if reply.status == StatusCode::OK => return Ok(()),
                Ok(reply) => format!("HTTP {}", reply.status),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} did not become ready within {timeout:?} (last answer: {last})",
                    self.base
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every item of a paginated list (`{"items", "next_cursor"}`), following the cursors.
    /// `path` must not carry a query string of its own other than filters.
    pub async fn list_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{separator}limit=200&cursor={c}"),
                None => format!("{path}{separator}limit=200"),
            };
            let reply = self.get(&url).await?.expect_status(200)?;
            let page = reply
                .body
                .get("items")
                .and_then(Value::as_array)
                .with_context(|| format!("GET {url}: no `items` in {}", reply.body))?;
            items.extend(page.iter().cloned());
            match reply.body.get("next_cursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(items),
            }
        }
    }

    /// All tasks of a project, in number order.
    pub async fn tasks(&self, slug: &str) -> anyhow::Result<Vec<Value>> {
        self.list_all(&format!("/api/v1/projects/{slug}/tasks"))
            .await
    }

    /// The project's sync runs, newest first.
    pub async fn sync_runs(&self, slug: &str) -> anyhow::Result<Vec<Value>> {
        self.list_all(&format!("/api/v1/projects/{slug}/github/sync-runs"))
            .await
    }
}
