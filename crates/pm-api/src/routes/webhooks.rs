//! `POST /api/v1/webhooks/github`: GitHub's signed deliveries. Outside the bearer
//! token middleware (GitHub signs, it does not log in): registered before the
//! authenticated `/api/v1` scope in `startup::configure_app`.
//!
//! | answer | when |
//! |---|---|
//! | 202 | a new delivery, stored and handed to a `github.delivery` job |
//! | 200 | a `ping` (stored too), or a redelivery of a stored delivery (nothing written) |
//! | 400 `VALIDATION_FAILED` | `X-GitHub-Event` / `X-GitHub-Delivery` missing, or the body not a JSON object |
//! | 401 `WEBHOOK_SIGNATURE_INVALID` | `X-Hub-Signature-256` missing, malformed, or matching no secret |
//! | 413 `PAYLOAD_TOO_LARGE` | over 25 MB |
//! | 503 `WEBHOOK_NOT_CONFIGURED` | no `github.webhook_secret`: every delivery is refused |

use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use pm_integrations::webhooks::{DeliveryHeaders, MAX_DELIVERY_BYTES, WebhookError};
use serde::Serialize;
use std::fmt;
use utoipa::{OpenApi, ToSchema};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/api/v1/webhooks/github", "POST")
            .app_data(web::PayloadConfig::new(MAX_DELIVERY_BYTES))
            .route(web::post().to(github_webhook)),
    );
}

/// The webhook endpoint's part of the OpenAPI document (merged in `openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(github_webhook),
    components(schemas(WebhookReceipt)),
    tags((name = "webhooks", description = "Deliveries from GitHub, signed with the webhook secret"))
)]
pub struct WebhookDoc;

/// What was done with a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// `X-GitHub-Delivery`.
    pub delivery_id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// True for a redelivery of a delivery stored before: nothing was written.
    pub duplicate: bool,
}

/// Receives a GitHub webhook delivery. No bearer token: the body must be signed
/// with a configured webhook secret (`X-Hub-Signature-256`). The delivery is stored
/// once per `X-GitHub-Delivery` and processed in the background.
#[utoipa::path(post, path = "/api/v1/webhooks/github", operation_id = "receiveGithubWebhook", tag = "webhooks",
    request_body(content = Object, content_type = "application/json",
                 description = "GitHub's event payload, exactly as sent (at most 25 MB)"),
    params(
        ("X-GitHub-Event" = String, Header, description = "The event, e.g. `issues`, `repository`, `ping`"),
        ("X-GitHub-Delivery" = String, Header, description = "The delivery's GUID (a redelivery repeats it)"),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` + hex HMAC-SHA256 of the body with the webhook secret"),
    ),
    responses((status = 202, description = "Accepted: stored, processed in the background", body = WebhookReceipt),
              (status = 200, description = "A ping, or a redelivery of a stored delivery (`duplicate`: nothing written)", body = WebhookReceipt),
              (status = 400, description = "VALIDATION_FAILED: a GitHub header is missing or the body is not a JSON object", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "WEBHOOK_SIGNATURE_INVALID: the signature is missing or matches no configured secret; nothing stored", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "PAYLOAD_TOO_LARGE: over 25 MB", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "WEBHOOK_NOT_CONFIGURED (no webhook secret: every delivery is refused) or DATABASE_UNAVAILABLE", body = Problem, content_type = "application/problem+json")))]
pub async fn github_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, actix_web::Error> {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let headers = DeliveryHeaders {
        event: h("x-github-event"),
        delivery_id: h("x-github-delivery"),
        signature: h("x-hub-signature-256"),
    };
    match state.webhooks.receive(headers, &body).await {
        Ok(received) => {
            let status = if !received.stored || received.event == "ping" {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok(HttpResponse::build(status).json(WebhookReceipt {
                duplicate: !received.stored,
                delivery_id: received.delivery_id,
                event: received.event,
            }))
        }
        Err(WebhookError::Store(err)) => Err(ApiError::Domain(err).into()),
        Err(err) => {
            // Headers only: never the body, never a secret.
            tracing::debug!(
                reason = %err,
                delivery_id = headers.delivery_id.unwrap_or(""),
                event = headers.event.unwrap_or(""),
                "webhook delivery refused"
            );
            Err(WebhookProblem(err).into())
        }
    }
}

/// A refused delivery as problem+json (store errors go through [`ApiError`]).
#[derive(Debug)]
pub struct WebhookProblem(WebhookError);

impl fmt::Display for WebhookProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl WebhookProblem {
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        match &self.0 {
            WebhookError::NotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                "WEBHOOK_NOT_CONFIGURED",
                "Webhooks are not configured",
            ),
            WebhookError::BadSignature => (
                StatusCode::UNAUTHORIZED,
                "WEBHOOK_SIGNATURE_INVALID",
                "Invalid webhook signature",
            ),
            WebhookError::BadHeader(_) | WebhookError::BadPayload(_) => (
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
                "Malformed delivery",
            ),
            WebhookError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal error",
            ),
        }
    }
}

impl ResponseError for WebhookProblem {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, title) = self.classify();
        let problem = Problem {
            type_: format!("/problems/{}", code.to_ascii_lowercase().replace('_', "-")),
            title: title.to_string(),
            status: status.as_u16(),
            detail: self.0.to_string(),
            code: code.to_string(),
            errors: Vec::new(),
            retry_after: None,
        };
        HttpResponse::build(status)
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            ))
            .body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}
