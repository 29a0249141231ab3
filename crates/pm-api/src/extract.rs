//! Request extraction: bodies, queries and the caller, each failing as a clear
//! problem rather than actix's plain-text defaults.

use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use pm_accounts::{User, Workspace};
use pm_kernel::{Actor, Cursor, Error};
use pm_projects::Slug;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The dotted path of the value a deserialisation error is about (`labels[2]`, `limit`),
/// empty for the document itself (e.g. a missing field, which serde reports on the
/// object that lacks it).
fn field_path(path: &serde_path_to_error::Path) -> String {
    if path.iter().next().is_none() {
        String::new()
    } else {
        path.to_string()
    }
}

/// The query string as `T`: an unknown parameter, a missing one or a value of the wrong
/// type is a 422 naming the parameter.
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned> Query<T> {
    /// Parses a raw query string (for handlers that check the caller's role first).
    pub fn parse(query: &str) -> Result<T, ApiError> {
        let pairs = url::form_urlencoded::parse(query.as_bytes());
        serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
            ApiError::Domain(Error::invalid(field_path(e.path()), e.inner().to_string()))
        })
    }
}

impl<T: serde::de::DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::parse(req.query_string()).map(Query))
    }
}

/// A request body, read (at most [`MAX_BODY_BYTES`], within the body deadline) but not yet
/// parsed, so that a handler can check the caller's role first (a member gets 403, not
/// 422). The one JSON body parser of the API: [`JsonBody::required`],
/// [`JsonBody::optional`] and [`JsonBody::secret`] differ only in what an empty body
/// means and in what an error may quote.
///
/// - over the limit: 413 PAYLOAD_TOO_LARGE;
/// - a non-empty body without `Content-Type: application/json` (or `…+json`): 415;
/// - not JSON: 400; JSON but not an object: 422 saying an object is expected (never
///   serde's text, which names Rust types);
/// - an object with unknown, missing or mistyped fields: 422, `errors[].field` being the
///   path of the offending value (from `serde_path_to_error`).
pub struct JsonBody {
    bytes: web::Bytes,
    is_json: bool,
}

/// What an empty body (or JSON `null`) means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// It is a 400 (no body) or a 422 (`null`), as for any other non-object.
    Refused,
    /// It is `None`: every field of the body is optional.
    Allowed,
}

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            Ok(JsonBody {
                bytes: bytes.await?,
                is_json,
            })
        })
    }
}

impl JsonBody {
    /// A body that must be there.
    pub fn required<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        self.parse(Absent::Refused, None)?
            .ok_or_else(|| ApiError::MalformedJson("the body is empty".into()))
    }

    /// A body whose fields are all optional: an empty body and `null` are `None`.
    pub fn optional<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.parse(Absent::Allowed, None)
    }

    /// A body that carries a secret: serde's messages (and paths: a key may be the secret
    /// pasted in the wrong place) can quote the input, so on failure only the shape
    /// `expected` is reported, never the input.
    pub fn secret<T: serde::de::DeserializeOwned>(&self, expected: &str) -> Result<T, ApiError> {
        self.parse(Absent::Refused, Some(expected))?
            .ok_or_else(|| ApiError::MalformedJson(format!("expected {expected}")))
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        absent: Absent,
        secret: Option<&str>,
    ) -> Result<Option<T>, ApiError> {
        let body = &self.bytes[..];
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        let blank = body.iter().all(u8::is_ascii_whitespace);
        if blank && absent == Absent::Allowed {
            return Ok(None);
        }
        if !self.is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        if blank {
            return Ok(None);
        }
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::MalformedJson(match secret {
                Some(expected) => format!("expected {expected}"),
                None => e.to_string(),
            })
        })?;
        match value {
            serde_json::Value::Null if absent == Absent::Allowed => Ok(None),
            serde_json::Value::Object(_) => serde_path_to_error::deserialize(value)
                .map(Some)
                .map_err(|e| {
                    let (field, message) = match secret {
                        Some(expected) => (String::new(), format!("expected {expected}")),
                        None => (field_path(e.path()), e.inner().to_string()),
                    };
                    ApiError::Domain(Error::invalid(field, message))
                }),
            _ => {
                let message = match (secret, absent) {
                    (Some(expected), _) => format!("expected {expected}"),
                    (None, Absent::Allowed) => {
                        "the body must be a JSON object, `null` or empty".into()
                    }
                    (None, Absent::Refused) => "the body must be a JSON object".into(),
                };
                Err(Error::invalid("", message).into())
            }
        }
    }
}

/// `Content-Type: application/json`, or a `+json` type, with any parameters.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

/// A path's project slug, validated.
pub fn slug(raw: &str) -> Result<Slug, ApiError> {
    Slug::parse(raw).map_err(ApiError::from)
}

/// The `cursor` of a list sorted by id: a UUID in the form this API writes it (lowercase,
/// hyphenated), as the OpenAPI document's pattern says.
pub fn id_cursor(raw: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    raw.map(|raw| {
        let canonical = uuid::Uuid::parse_str(raw).is_ok_and(|id| id.to_string() == raw);
        if canonical {
            Cursor::decode(raw).map_err(ApiError::from)
        } else {
            Err(Error::invalid("cursor", "is not a cursor this API issued").into())
        }
    })
    .transpose()
}

/// The `cursor` of the task list: a task number in its one spelling (no sign, no leading
/// zero, at most 18 digits), as the OpenAPI document's pattern says.
pub fn number_cursor(raw: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    raw.map(|raw| {
        let canonical = (1..=18).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_digit())
            && !raw.starts_with('0');
        if canonical {
            Cursor::decode(raw).map_err(ApiError::from)
        } else {
            Err(Error::invalid("cursor", "is not a cursor this API issued").into())
        }
    })
    .transpose()
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

    fn body(text: &'static str, is_json: bool) -> JsonBody {
        JsonBody {
            bytes: web::Bytes::from_static(text.as_bytes()),
            is_json,
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        labels: Option<Vec<String>>,
    }

    fn fields(err: ApiError) -> Vec<(String, String)> {
        match err {
            ApiError::Domain(Error::Validation(errors)) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn body_errors_name_the_path_of_the_value() {
        let err = body(r#"{"name": "x", "labels": ["a", 7]}"#, true).required::<Sample>();
        assert_eq!(fields(err.unwrap_err())[0].0, "labels[1]");
        let err = body(r#"{"name": "x", "colour": 1}"#, true).required::<Sample>();
        assert_eq!(fields(err.unwrap_err())[0].0, "colour");
        let err = body(r#"{"labels": []}"#, true).required::<Sample>();
        let (field, message) = fields(err.unwrap_err()).remove(0);
        assert_eq!((field.as_str(), message.contains("`name`")), ("", true));
    }

    #[test]
    fn bodies_are_refused_by_size_type_syntax_and_shape() {
        assert!(matches!(
            body("{}", false).required::<Sample>(),
            Err(ApiError::UnsupportedMediaType)
        ));
        assert!(matches!(
            body("", true).required::<Sample>(),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            body("{", true).required::<Sample>(),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(
            fields(body("[1]", true).required::<Sample>().unwrap_err())[0]
                .1
                .contains("JSON object")
        );
        // Optional bodies: nothing, whitespace and null are None, without a content type too.
        for empty in ["", "  \n"] {
            assert!(body(empty, false).optional::<Sample>().unwrap().is_none());
        }
        assert!(body("null", true).optional::<Sample>().unwrap().is_none());
        assert!(matches!(
            body("null", false).optional::<Sample>(),
            Err(ApiError::UnsupportedMediaType)
        ));
    }

    #[test]
    fn secret_bodies_never_quote_the_input() {
        for text in [
            r#"{"name": "ghp_SECRET", "x": 1}"#,
            r#"{"ghp_SECRET": 1}"#,
            r#""ghp_SECRET""#,
            r#"{"name": "ghp_SECRET"#,
        ] {
            let err = JsonBody {
                bytes: web::Bytes::from(text),
                is_json: true,
            }
            .secret::<Sample>("{\"name\": \"…\"}")
            .unwrap_err();
            let shown = format!("{err} {:?}", err.problem());
            assert!(!shown.contains("SECRET"), "{text}: {shown}");
        }
    }

    #[test]
    fn cursors_have_one_spelling() {
        let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        assert!(id_cursor(Some(id)).unwrap().is_some());
        assert!(id_cursor(None).unwrap().is_none());
        for bad in [
            "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
            "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b",
            "x",
        ] {
            assert!(id_cursor(Some(bad)).is_err(), "{bad}");
        }
        assert!(number_cursor(Some("42")).unwrap().is_some());
        for bad in ["0", "042", "-1", "+1", "1234567890123456789", "zzz", ""] {
            assert!(number_cursor(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn task_numbers_are_positive_integers() {
        assert_eq!(task_number("12").unwrap(), 12);
        for bad in ["0", "-1", "abc", "1.5", ""] {
            assert!(task_number(bad).is_err(), "{bad}");
        }
    }
}
