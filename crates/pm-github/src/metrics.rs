//! What the adapter reports to the `metrics` facade (rendered by pm-api at
//! `GET /metrics`). Labels are fixed words, the HTTP method, GitHub's rate-limit
//! resource name from an allowlist, and a token's short fingerprint: never a
//! token, a URL or an id.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

pub(crate) const REQUESTS: &str = "pmhub_github_requests_total";
pub(crate) const RATE_LIMIT_REMAINING: &str = "pmhub_github_rate_limit_remaining";

/// One HTTP request sent to GitHub (each attempt counts), by its outcome.
pub(crate) fn request(method: &Method, outcome: &'static str) {
    metrics::counter!(REQUESTS, "method" => method_label(method), "outcome" => outcome)
        .increment(1);
}

/// `ok` (2xx), `not_modified` (304), `rate_limited`, `client_error`, `server_error`
/// or `redirect`.
pub(crate) fn outcome(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> &'static str {
    if status == StatusCode::NOT_MODIFIED {
        "not_modified"
    } else if status.is_success() {
        "ok"
    } else if status.is_server_error() {
        "server_error"
    } else if is_rate_limited(status, headers, body) {
        "rate_limited"
    } else if status.is_client_error() {
        "client_error"
    } else {
        "redirect"
    }
}

/// The same signals as `errors::rate_limit`, without computing the wait.
fn is_rate_limited(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return true;
    }
    if status != StatusCode::FORBIDDEN {
        return false;
    }
    headers.contains_key("retry-after")
        || headers
            .get("x-ratelimit-remaining")
            .is_some_and(|v| v.as_bytes() == b"0")
        || String::from_utf8_lossy(body)
            .to_ascii_lowercase()
            .contains("secondary rate limit")
}

/// The last `x-ratelimit-remaining` GitHub sent for a connection (a token),
/// labelled by the token's short fingerprint and the limit's resource.
pub(crate) fn rate_limit_remaining(connection: &str, headers: &HeaderMap) {
    let Some(remaining) = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let resource = resource_label(
        headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core"),
    );
    metrics::gauge!(
        RATE_LIMIT_REMAINING,
        "connection" => connection.to_string(),
        "resource" => resource
    )
    .set(remaining as f64);
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// GitHub's documented resources; anything else is `other` (a label never
/// takes arbitrary text from the network).
fn resource_label(resource: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "core",
        "search",
        "code_search",
        "graphql",
        "integration_manifest",
        "source_import",
        "code_scanning_upload",
        "actions_runner_registration",
        "scim",
        "dependency_snapshots",
        "audit_log",
    ];
    KNOWN
        .iter()
        .find(|k| **k == resource)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn outcomes() {
        let none = HeaderMap::new();
        assert_eq!(outcome(StatusCode::OK, &none, b""), "ok");
        assert_eq!(
            outcome(StatusCode::NOT_MODIFIED, &none, b""),
            "not_modified"
        );
        assert_eq!(outcome(StatusCode::BAD_GATEWAY, &none, b""), "server_error");
        assert_eq!(outcome(StatusCode::NOT_FOUND, &none, b""), "client_error");
        assert_eq!(outcome(StatusCode::FORBIDDEN, &none, b"{}"), "client_error");
        assert_eq!(
            outcome(StatusCode::TOO_MANY_REQUESTS, &none, b""),
            "rate_limited"
        );
        let mut exhausted = HeaderMap::new();
        exhausted.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert_eq!(
            outcome(StatusCode::FORBIDDEN, &exhausted, b""),
            "rate_limited"
        );
        assert_eq!(
            outcome(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"You have exceeded a secondary rate limit"}"#
            ),
            "rate_limited"
        );
    }

    #[test]
    fn resources_come_from_an_allowlist() {
        assert_eq!(resource_label("core"), "core");
        assert_eq!(resource_label("graphql"), "graphql");
        assert_eq!(resource_label("/repos/a/b?token=x"), "other");
    }
}
