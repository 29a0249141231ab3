//! Request extraction: bodies, queries and the caller, each failing as a clear
//! problem rather than actix's plain-text defaults.

use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use pm_accounts::{User, Workspace};
use pm_kernel::{Actor, Error};
use pm_projects::Slug;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            // Wrong types, unknown fields, missing fields, bad enum values.
            let message = e.to_string();
            ApiError::Domain(Error::invalid(field_of(&message), message))
        }
        JsonPayloadError::Deserialize(e) => ApiError::MalformedJson(e.to_string()),
        other => ApiError::MalformedJson(other.to_string()),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::Domain(Error::invalid(field_of(&message), message)).into()
    })
}

/// serde names the offending field in backticks for unknown/missing fields; for
/// type errors the field is not named, so the message stands alone.
fn field_of(message: &str) -> String {
    let named = ["unknown field `", "missing field `", "duplicate field `"];
    for prefix in named {
        if let Some(field) = message
            .split(prefix)
            .nth(1)
            .and_then(|rest| rest.split('`').next())
        {
            return field.to_string();
        }
    }
    String::new()
}

/// A path's project slug, validated.
pub fn slug(raw: &str) -> Result<Slug, ApiError> {
    Slug::parse(raw).map_err(ApiError::from)
}

/// A path's task number: a positive integer with one spelling only (ASCII digits, no
/// sign, no leading zero), so `tasks/01` and `tasks/+1` are not task 1.
pub fn task_number(raw: &str) -> Result<i64, ApiError> {
    let canonical = raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    match raw.parse::<i64>() {
        Ok(n) if canonical && n > 0 => Ok(n),
        _ => Err(Error::invalid("number", "must be a positive integer").into()),
    }
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
///
/// Authentication runs as middleware on `/api/v1` (see [`authenticate`]) so that
/// it happens before any other extractor reads the body: a request with a bad
/// token gets 401 whatever its body, and its body is never read.
#[derive(Clone)]
pub struct Caller {
    pub actor: Actor,
    pub user: User,
    pub workspace: Workspace,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Domain(Error::Unauthenticated)),
        )
    }
}

/// Middleware: resolves the bearer token to a [`Caller`] or answers 401.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Domain(Error::internal("application state missing")))?;
    let token = bearer_token(req.request()).ok_or(ApiError::Domain(Error::Unauthenticated))?;
    let (actor, user, workspace) = state
        .accounts
        .authenticate(&token)
        .await
        .map_err(ApiError::Domain)?;
    req.extensions_mut().insert(Caller {
        actor,
        user,
        workspace,
    });
    next.call(req).await
}

/// The token of a well-formed `Authorization: Bearer …` header, if any.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// An optional JSON body (for endpoints where every field is optional): an empty
/// body and JSON `null` are `None`; an object must parse, with the same 400/422 rules
/// as `Json`; any other JSON value (array, string, number, boolean) is a 422 saying
/// an object is expected (never serde's text, which names Rust types).
pub fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| json_error(JsonPayloadError::Deserialize(e)))?;
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(_) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| json_error(JsonPayloadError::Deserialize(e))),
        _ => Err(Error::invalid("", "the body must be a JSON object, `null` or empty").into()),
    }
}

/// A required JSON body read from raw bytes, for handlers that must check the
/// caller's role before looking at the body (so a member gets 403, not 422).
pub fn required_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    serde_json::from_slice(body).map_err(|e| json_error(JsonPayloadError::Deserialize(e)))
}

/// A JSON body that carries a secret. serde's messages can quote the offending
/// value, so on failure only the shape expected is reported — never the input.
pub fn secret_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    expected: &str,
) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::Domain(Error::invalid("", format!("expected {expected}")))
        } else {
            ApiError::MalformedJson(format!("expected {expected}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_token_requires_the_scheme() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer abc"))
            .to_http_request();
        assert_eq!(bearer_token(&req).as_deref(), Some("abc"));
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic abc"))
            .to_http_request();
        assert_eq!(bearer_token(&req), None);
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer "))
            .to_http_request();
        assert_eq!(bearer_token(&req), None);
    }

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(field_of("unknown field `foo`, expected `name`"), "foo");
        assert_eq!(field_of("missing field `title` at line 1"), "title");
        assert_eq!(field_of("invalid type: integer"), "");
    }

    #[test]
    fn task_numbers_are_positive_integers() {
        assert_eq!(task_number("12").unwrap(), 12);
        for bad in ["0", "-1", "abc", "1.5", ""] {
            assert!(task_number(bad).is_err(), "{bad}");
        }
    }
}
