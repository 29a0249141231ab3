//! GitHub's error responses (bodies from `tests/fixtures/github/errors/` and API-FACTS §9).

use std::fmt;

use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};
use serde_json::{Value, json};

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const DOCS: &str = "https://docs.github.com/rest";
const RATE_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting";
const SECONDARY_DOCS: &str = "https://docs.github.com/en/free-pro-team@latest/rest/overview/resources-in-the-rest-api#secondary-rate-limits";
pub(crate) const SECONDARY_MESSAGE: &str =
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

/// `{"message", "documentation_url", "status"}`, GitHub's `basic-error` in its current form.
pub(crate) fn basic(status: StatusCode, message: &str, docs: &str) -> HttpResponse {
    HttpResponse::build(status).content_type(JSON).body(
        json!({
            "message": message,
            "documentation_url": docs,
            "status": status.as_u16().to_string(),
        })
        .to_string(),
    )
}

pub(crate) fn not_found() -> HttpResponse {
    basic(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

pub(crate) fn bad_credentials() -> HttpResponse {
    basic(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS)
}

/// What GitHub answers when no `Authorization` header is sent to an endpoint that needs one.
pub(crate) fn requires_authentication() -> HttpResponse {
    basic(StatusCode::UNAUTHORIZED, "Requires authentication", DOCS)
}

pub(crate) fn missing_user_agent() -> HttpResponse {
    basic(
        StatusCode::FORBIDDEN,
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        "https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required",
    )
}

pub(crate) fn unsupported_api_version(version: &str) -> HttpResponse {
    basic(
        StatusCode::BAD_REQUEST,
        &format!("API version {version} is not supported."),
        "https://docs.github.com/rest/overview/api-versions",
    )
}

pub(crate) fn server_error() -> HttpResponse {
    basic(StatusCode::BAD_GATEWAY, "Server Error", DOCS)
}

/// Primary limit exhausted: the authenticated form of
/// `errors/403.primary-rate-limit.unauthenticated.2023-form.json`.
pub(crate) fn primary_rate_limited(user_id: u64) -> HttpResponse {
    HttpResponse::Forbidden().content_type(JSON).body(
        json!({
            "message": format!("API rate limit exceeded for user ID {user_id}."),
            "documentation_url": RATE_LIMIT_DOCS,
        })
        .to_string(),
    )
}

/// `errors/403.secondary-rate-limit.2022-form.json` plus `retry-after`.
pub(crate) fn secondary_rate_limited(retry_after: u64) -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type(JSON)
        .insert_header((header::RETRY_AFTER, retry_after.to_string()))
        .body(
            json!({
                "documentation_url": SECONDARY_DOCS,
                "message": SECONDARY_MESSAGE,
            })
            .to_string(),
        )
}

/// Errors of the GitHub API handlers.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 404, with the endpoint's documentation URL.
    NotFound(&'static str),
    /// A renamed repository: 301 for GET, 307 otherwise, like GitHub.
    Moved { location: String, permanent: bool },
    /// 400 "Problems parsing JSON".
    BadJson(&'static str),
    /// 403 with a message (e.g. not a member of the organization).
    Forbidden(&'static str, &'static str),
    /// 410 with a message (a deleted issue).
    Gone(&'static str, &'static str),
    /// 422 with a full body (validation errors carry an `errors` array).
    Unprocessable(Value),
}

impl ApiError {
    /// 422 "Invalid request." for a body that does not match the endpoint's schema.
    pub(crate) fn invalid_request(detail: &str, docs: &str) -> Self {
        Self::Unprocessable(json!({
            "message": format!("Invalid request.\n\n{detail}"),
            "documentation_url": docs,
            "status": "422",
        }))
    }

    /// 422 "Validation Failed" with one `errors` entry.
    pub(crate) fn validation(resource: &str, field: &str, code: &str, docs: &str) -> Self {
        Self::Unprocessable(json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": code, "field": field}],
            "documentation_url": docs,
            "status": "422",
        }))
    }

    /// The exact shape of `errors/422.create-repo.name-already-exists.json`.
    pub(crate) fn repo_name_exists(docs: &str) -> Self {
        Self::Unprocessable(json!({
            "message": "Repository creation failed.",
            "errors": [{
                "resource": "Repository",
                "code": "custom",
                "field": "name",
                "message": "name already exists on this account",
            }],
            "documentation_url": docs,
            "status": "422",
        }))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(_) => f.write_str("Not Found"),
            Self::Moved { location, .. } => write!(f, "Moved to {location}"),
            Self::BadJson(_) => f.write_str("Problems parsing JSON"),
            Self::Forbidden(message, _) | Self::Gone(message, _) => f.write_str(message),
            Self::Unprocessable(body) => write!(f, "Unprocessable: {body}"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Moved {
                permanent: true, ..
            } => StatusCode::MOVED_PERMANENTLY,
            Self::Moved { .. } => StatusCode::TEMPORARY_REDIRECT,
            Self::BadJson(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(..) => StatusCode::FORBIDDEN,
            Self::Gone(..) => StatusCode::GONE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::NotFound(docs) => basic(status, "Not Found", docs),
            Self::Moved {
                location,
                permanent,
            } => {
                let message = if *permanent {
                    "Moved Permanently"
                } else {
                    "Temporary Redirect"
                };
                HttpResponse::build(status)
                    .content_type(JSON)
                    .insert_header((header::LOCATION, location.as_str()))
                    .body(
                        json!({
                            "message": message,
                            "url": location,
                            "documentation_url": "https://docs.github.com/v3/#http-redirects",
                        })
                        .to_string(),
                    )
            }
            Self::BadJson(docs) => basic(status, "Problems parsing JSON", docs),
            Self::Forbidden(message, docs) | Self::Gone(message, docs) => {
                basic(status, message, docs)
            }
            Self::Unprocessable(body) => HttpResponse::build(status)
                .content_type(JSON)
                .body(body.to_string()),
        }
    }
}
