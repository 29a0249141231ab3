//! The problem responses of the OpenAPI document, each status described once and
//! grouped into the families the handlers' `#[utoipa::path]` annotations list
//! (`responses((status = 200, …), ReadErrors, Forbidden)`).
//!
//! Each single response is an [`IntoResponses`] derive over [`Problem`]; a family is the
//! union of its parts. Listing two families that share a status is harmless: both carry
//! the same response. What each status means is [`crate::problem`]'s table; the
//! descriptions here name its codes.

use crate::problem::Problem;
use std::collections::BTreeMap;
use utoipa::IntoResponses;
use utoipa::openapi::{RefOr, Response};

/// 400 VALIDATION_FAILED: the body is not JSON.
#[derive(IntoResponses)]
#[response(status = 400, content_type = "application/problem+json")]
pub struct MalformedBody(pub Problem);

/// 401 UNAUTHENTICATED: no, unknown, revoked or expired API token.
#[derive(IntoResponses)]
#[response(status = 401, content_type = "application/problem+json")]
pub struct Unauthenticated(pub Problem);

/// 403 FORBIDDEN: the caller is not an admin.
#[derive(IntoResponses)]
#[response(status = 403, content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// 404 NOT_FOUND: no such object in the caller's workspace. GitHub operations also
/// answer GITHUB_NOT_FOUND (GitHub does not show the repository to the token) and, on
/// the connection itself, INTEGRATION_NOT_CONNECTED.
#[derive(IntoResponses)]
#[response(status = 404, content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// 408 REQUEST_TIMEOUT: the body did not arrive within the server's body deadline; the
/// connection is closed.
#[derive(IntoResponses)]
#[response(status = 408, content_type = "application/problem+json")]
pub struct BodyTimeout(pub Problem);

/// 409 CONFLICT: the current state does not allow it (e.g. an approved spec, the last
/// admin, a taken e-mail, another push running), or INTEGRATION_NOT_CONNECTED when the
/// workspace has no GitHub token, or GITHUB_REPO_NAME_TAKEN.
#[derive(IntoResponses)]
#[response(status = 409, content_type = "application/problem+json")]
pub struct Conflict(pub Problem);

/// 413 PAYLOAD_TOO_LARGE: the body is over 1 MiB.
#[derive(IntoResponses)]
#[response(status = 413, content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// 415 VALIDATION_FAILED: a body without `Content-Type: application/json`.
#[derive(IntoResponses)]
#[response(status = 415, content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// 422 VALIDATION_FAILED: an invalid path, query or body value, or an unknown field
/// (`errors` names each). GitHub operations also answer GITHUB_UNAUTHORIZED,
/// GITHUB_FORBIDDEN or GITHUB_REJECTED.
#[derive(IntoResponses)]
#[response(status = 422, content_type = "application/problem+json")]
pub struct Invalid(pub Problem);

/// 429 GITHUB_RATE_LIMITED: GitHub's rate limit; retry after `Retry-After` seconds.
#[derive(IntoResponses)]
#[response(status = 429, content_type = "application/problem+json")]
pub struct RateLimited(pub Problem);

/// 502 GITHUB_UNAVAILABLE: GitHub did not answer usably.
#[derive(IntoResponses)]
#[response(status = 502, content_type = "application/problem+json")]
pub struct GithubUnavailable(pub Problem);

/// 503 DATABASE_UNAVAILABLE: the database does not answer; retry after `Retry-After`
/// seconds.
#[derive(IntoResponses)]
#[response(status = 503, content_type = "application/problem+json")]
pub struct DatabaseUnavailable(pub Problem);

/// Declares a family: a type whose responses are the union of its parts'.
macro_rules! family {
    ($(#[$doc:meta])* $name:ident = $($part:ty),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut all = BTreeMap::new();
                $(all.extend(<$part as IntoResponses>::responses());)+
                all
            }
        }
    };
}

family!(
    /// What any authenticated operation can answer: 401, 503.
    AuthErrors = Unauthenticated, DatabaseUnavailable
);
family!(
    /// A list without a path parameter: 401, 422 (`limit`, `cursor`, unknown query
    /// parameters), 503.
    ListErrors = AuthErrors, Invalid
);
family!(
    /// An operation on an object named in the path: 401, 404, 422 (a bad slug, number or
    /// id, or query), 503.
    ReadErrors = AuthErrors, NotFound, Invalid
);
family!(
    /// The body's own failures: 400, 408, 413, 415.
    BodyErrors = MalformedBody, BodyTimeout, PayloadTooLarge, UnsupportedMediaType
);
family!(
    /// An operation with a JSON body: [`ReadErrors`] and [`BodyErrors`].
    WriteErrors = ReadErrors, BodyErrors
);
family!(
    /// An admin-only operation with a JSON body: [`WriteErrors`] and 403.
    AdminWriteErrors = WriteErrors, Forbidden
);
family!(
    /// An admin-only operation without a body: [`ReadErrors`] and 403.
    AdminErrors = ReadErrors, Forbidden
);
family!(
    /// An operation that calls GitHub: 429 and 502 (404 and 422 carry GITHUB_* codes too).
    GithubErrors = RateLimited, GithubUnavailable
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_the_union_of_their_parts_and_every_response_is_described() {
        let all = AdminWriteErrors::responses();
        let statuses: Vec<&str> = all.keys().map(String::as_str).collect();
        assert_eq!(
            statuses,
            [
                "400", "401", "403", "404", "408", "413", "415", "422", "503"
            ]
        );
        for (status, response) in all {
            let RefOr::T(response) = response else {
                panic!("{status} is a reference")
            };
            assert!(!response.description.is_empty(), "{status}");
            assert!(
                response.content.contains_key("application/problem+json"),
                "{status}"
            );
        }
    }
}
