//! Every error leaves the API as `application/problem+json` (RFC 9457) with a stable
//! `code`. This module is the one table from errors to statuses and codes.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use pm_kernel::{Error, FieldError, GithubError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

/// The problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type, e.g. `/problems/validation-failed`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `VALIDATION_FAILED`.
    pub code: String,
    /// For validation failures: every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For rate limits: seconds until GitHub accepts calls again; for
    /// `DATABASE_UNAVAILABLE`: seconds to wait before retrying (also sent as the
    /// `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// Errors the HTTP layer returns: the domain's, plus those only HTTP knows.
#[derive(Debug)]
pub enum ApiError {
    Domain(Error),
    /// The body is not JSON (syntax error, truncated, empty).
    MalformedJson(String),
    PayloadTooLarge,
    UnsupportedMediaType,
    /// Allowed methods, e.g. `GET, POST`.
    MethodNotAllowed(&'static str),
    RouteNotFound,
    /// `GET`/`DELETE /integrations/github` with no connection: 404, not 409, since
    /// the resource asked for does not exist.
    NotConnected,
    /// `/readyz` when a dependency (the database) does not answer.
    NotReady,
    /// The request body did not arrive within `server.body_timeout_secs`.
    BodyTimeout,
    /// An error the framework answered before our code ran (e.g. a body over the
    /// limit on a raw-body endpoint), turned into a problem by [`problem_fallback`].
    Http(StatusCode),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Domain(err)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Domain(e) => write!(f, "{e}"),
            ApiError::MalformedJson(m) => write!(f, "malformed JSON: {m}"),
            ApiError::PayloadTooLarge => f.write_str("request body larger than 1 MiB"),
            ApiError::UnsupportedMediaType => {
                f.write_str("expected Content-Type: application/json")
            }
            ApiError::MethodNotAllowed(allow) => write!(f, "method not allowed; allowed: {allow}"),
            ApiError::RouteNotFound => f.write_str("no such route"),
            ApiError::NotConnected => f.write_str("the workspace has no GitHub connection"),
            ApiError::NotReady => f.write_str("the database does not answer"),
            ApiError::BodyTimeout => {
                f.write_str("the request body did not arrive in time; the connection is closed")
            }
            ApiError::Http(status) => {
                f.write_str(status.canonical_reason().unwrap_or("request failed"))
            }
        }
    }
}

impl std::error::Error for ApiError {}

/// (status, code, title) for every error.
fn classify(err: &ApiError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match err {
        ApiError::MalformedJson(_) => (S::BAD_REQUEST, "VALIDATION_FAILED", "Malformed request"),
        ApiError::PayloadTooLarge => (
            S::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "Payload too large",
        ),
        ApiError::UnsupportedMediaType => (
            S::UNSUPPORTED_MEDIA_TYPE,
            "VALIDATION_FAILED",
            "Unsupported media type",
        ),
        ApiError::MethodNotAllowed(_) => (
            S::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
        ),
        ApiError::RouteNotFound => (S::NOT_FOUND, "NOT_FOUND", "Not found"),
        ApiError::NotReady => (S::SERVICE_UNAVAILABLE, "NOT_READY", "Not ready"),
        ApiError::BodyTimeout => (S::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", "Request timeout"),
        ApiError::Http(status) => {
            let code = match status.as_u16() {
                401 => "UNAUTHENTICATED",
                403 => "FORBIDDEN",
                404 => "NOT_FOUND",
                405 => "METHOD_NOT_ALLOWED",
                408 => "REQUEST_TIMEOUT",
                409 => "CONFLICT",
                413 => "PAYLOAD_TOO_LARGE",
                431 => "HEADERS_TOO_LARGE",
                500.. => "INTERNAL",
                _ => "VALIDATION_FAILED",
            };
            (*status, code, status.canonical_reason().unwrap_or("Error"))
        }
        ApiError::NotConnected => (
            S::NOT_FOUND,
            "INTEGRATION_NOT_CONNECTED",
            "GitHub integration not connected",
        ),
        ApiError::Domain(e) => match e {
            Error::Validation(_) => (S::UNPROCESSABLE_ENTITY, e.code(), "Validation failed"),
            Error::NotFound(_) => (S::NOT_FOUND, e.code(), "Not found"),
            Error::Unauthenticated => (S::UNAUTHORIZED, e.code(), "Unauthenticated"),
            Error::Forbidden => (S::FORBIDDEN, e.code(), "Forbidden"),
            Error::Conflict { .. } => (S::CONFLICT, e.code(), "Conflict"),
            Error::IntegrationNotConnected => {
                (S::CONFLICT, e.code(), "GitHub integration not connected")
            }
            Error::Github(g) => match g {
                GithubError::Unauthorized => (
                    S::UNPROCESSABLE_ENTITY,
                    g.code(),
                    "GitHub rejected the token",
                ),
                GithubError::Forbidden { .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    g.code(),
                    "The GitHub token lacks a permission",
                ),
                GithubError::NotFound { .. } => (S::NOT_FOUND, g.code(), "Not found on GitHub"),
                GithubError::RateLimited { .. } => {
                    (S::TOO_MANY_REQUESTS, g.code(), "GitHub rate limit reached")
                }
                GithubError::Unavailable { .. } => {
                    (S::BAD_GATEWAY, g.code(), "GitHub is unavailable")
                }
                GithubError::RepoNameTaken { .. } => {
                    (S::CONFLICT, g.code(), "Repository name taken")
                }
                GithubError::Rejected { .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    g.code(),
                    "GitHub refused the request",
                ),
            },
            Error::Unavailable(_) => (S::SERVICE_UNAVAILABLE, e.code(), "Database unavailable"),
            Error::Internal(_) => (S::INTERNAL_SERVER_ERROR, e.code(), "Internal error"),
        },
    }
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        let (status, code, title) = classify(self);
        let (detail, errors, retry_after) = match self {
            // Internal details go to the log (with the request id), never to clients.
            ApiError::Domain(Error::Internal(_)) => (
                "An unexpected error occurred. It was logged; quote the x-request-id header when reporting it.".to_string(),
                Vec::new(),
                None,
            ),
            ApiError::Domain(Error::Unavailable(_)) => (
                "The database is not answering; retry after the number of seconds in Retry-After.".to_string(),
                Vec::new(),
                Some(DATABASE_RETRY_AFTER_SECS),
            ),
            ApiError::Domain(Error::Validation(fields)) => (
                "The request has invalid values; see `errors`.".to_string(),
                fields.iter().map(to_problem_field).collect(),
                None,
            ),
            ApiError::Domain(Error::Github(GithubError::RateLimited { retry_after_secs })) => {
                (self.to_string(), Vec::new(), Some(*retry_after_secs))
            }
            other => (other.to_string(), Vec::new(), None),
        };
        Problem {
            type_: format!("/problems/{}", code.to_ascii_lowercase().replace('_', "-")),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            code: code.to_string(),
            errors,
            retry_after,
        }
    }
}

fn to_problem_field(e: &FieldError) -> ProblemField {
    ProblemField {
        field: e.field.clone(),
        message: e.message.clone(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        classify(self).0
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        match self {
            ApiError::Domain(Error::Internal(cause)) => {
                tracing::error!(error = %cause, "internal error");
            }
            ApiError::Domain(Error::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "database unavailable");
            }
            ApiError::Domain(Error::Github(g)) => {
                tracing::warn!(github_error = g.code(), detail = %g, "GitHub call failed");
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        match self {
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, *allow));
            }
            ApiError::Domain(Error::Unauthenticated) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        if let ApiError::BodyTimeout = self {
            // The rest of the body is never read: the connection cannot be reused.
            response.force_close();
        }
        if let Some(secs) = problem.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `Retry-After` of `503 DATABASE_UNAVAILABLE`: long enough not to hammer a
/// recovering database, short next to a typical outage.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 5;

/// Middleware hook (`ErrorHandlers::default_handler`): any error response that is
/// not already problem+json — the framework's own plain-text answers — is
/// replaced by the problem for its status, so clients see one error format.
pub fn problem_fallback<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem || !(res.status().is_client_error() || res.status().is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let error = ApiError::Http(res.status());
    let (req, _) = res.into_parts();
    let response = error.error_response().map_into_right_body();
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, response),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_sent() {
        let p = ApiError::Domain(Error::Internal("password=hunter2 in DSN".into())).problem();
        assert_eq!((p.status, p.code.as_str()), (500, "INTERNAL"));
        assert!(!p.detail.contains("hunter2"));
    }

    #[test]
    fn database_outages_are_503_with_retry_after() {
        let err = ApiError::from(Error::Unavailable("pool timed out at db:5432".into()));
        let resp = err.error_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let p = err.problem();
        assert_eq!(p.code, "DATABASE_UNAVAILABLE");
        assert!(!p.detail.contains("db:5432"));
    }

    #[test]
    fn codes_and_statuses_follow_the_table() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                Error::invalid("title", "empty").into(),
                422,
                "VALIDATION_FAILED",
            ),
            (
                ApiError::MalformedJson("eof".into()),
                400,
                "VALIDATION_FAILED",
            ),
            (Error::Unauthenticated.into(), 401, "UNAUTHENTICATED"),
            (Error::Forbidden.into(), 403, "FORBIDDEN"),
            (Error::NotFound("project").into(), 404, "NOT_FOUND"),
            (ApiError::MethodNotAllowed("GET"), 405, "METHOD_NOT_ALLOWED"),
            (
                Error::conflict(pm_kernel::ConflictReason::SlugTaken, "x").into(),
                409,
                "CONFLICT",
            ),
            (ApiError::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
            (ApiError::BodyTimeout, 408, "REQUEST_TIMEOUT"),
            (
                ApiError::Http(StatusCode::BAD_REQUEST),
                400,
                "VALIDATION_FAILED",
            ),
            (
                ApiError::Http(StatusCode::REQUEST_TIMEOUT),
                408,
                "REQUEST_TIMEOUT",
            ),
            (
                ApiError::Http(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
                431,
                "HEADERS_TOO_LARGE",
            ),
            (
                Error::Unavailable("x".into()).into(),
                503,
                "DATABASE_UNAVAILABLE",
            ),
            (
                Error::IntegrationNotConnected.into(),
                409,
                "INTEGRATION_NOT_CONNECTED",
            ),
            (
                Error::Github(GithubError::Unauthorized).into(),
                422,
                "GITHUB_UNAUTHORIZED",
            ),
            (
                Error::Github(GithubError::Forbidden {
                    message: "m".into(),
                })
                .into(),
                422,
                "GITHUB_FORBIDDEN",
            ),
            (
                Error::Github(GithubError::NotFound {
                    message: "m".into(),
                })
                .into(),
                404,
                "GITHUB_NOT_FOUND",
            ),
            (
                Error::Github(GithubError::RepoNameTaken { name: "n".into() }).into(),
                409,
                "GITHUB_REPO_NAME_TAKEN",
            ),
            (
                Error::Github(GithubError::RateLimited {
                    retry_after_secs: 30,
                })
                .into(),
                429,
                "GITHUB_RATE_LIMITED",
            ),
            (
                Error::Github(GithubError::Unavailable {
                    status: None,
                    reason: "r".into(),
                })
                .into(),
                502,
                "GITHUB_UNAVAILABLE",
            ),
        ];
        for (err, status, code) in cases {
            let p = err.problem();
            assert_eq!((p.status, p.code.as_str()), (status, code), "{err:?}");
            assert_eq!(err.status_code().as_u16(), status);
        }
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let err = ApiError::from(Error::Github(GithubError::RateLimited {
            retry_after_secs: 42,
        }));
        let resp = err.error_response();
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "42");
        assert_eq!(err.problem().retry_after, Some(42));
    }
}
