//! GitHub's non-success answers (status, headers, body) turned into [`GithubError`]s.
//!
//! Messages inside errors come only from the body's `message` (shortened) or our own
//! text, never from headers, so nothing a proxy adds and no credential can leak.

use pm_kernel::GithubError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest message (in characters) copied from a GitHub body into an error.
const MAX_MESSAGE_CHARS: usize = 200;
/// How long to wait on a secondary limit that names no time: GitHub says "at least
/// a minute", and octokit's throttling plugin uses 60 s too.
const SECONDARY_LIMIT_FALLBACK_SECS: u64 = 60;

/// The error for an answer that is not a success (2xx).
pub(crate) fn from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> GithubError {
    let body = ErrorBody::parse(body);
    let message = || body.message_or(status);
    match status.as_u16() {
        401 => GithubError::Unauthorized,
        403 | 429 => rate_limit(status, headers, &body, now)
            .map(|retry_after_secs| GithubError::RateLimited { retry_after_secs })
            .unwrap_or_else(|| GithubError::Forbidden { message: message() }),
        // 410: the resource is gone, e.g. issues disabled on the repository.
        404 | 410 => GithubError::NotFound { message: message() },
        // 400, 409, 422 and the rest: GitHub understood and refused the content.
        _ if status.is_client_error() => GithubError::Rejected {
            status: Some(status.as_u16()),
            message: body.message_with_details(status),
        },
        _ if status.is_server_error() => GithubError::Unavailable {
            status: Some(status.as_u16()),
            reason: format!("GitHub answered {status}"),
        },
        // A redirect the transport would not follow: to another host, a 301/302/303
        // answering a write (the resource moved: re-read it first), or too many hops.
        _ if status.is_redirection() && status != StatusCode::NOT_MODIFIED => {
            GithubError::Unavailable {
                status: Some(status.as_u16()),
                reason: format!(
                    "GitHub answered {status} to a location pmhub does not follow \
                     (another host, a moved resource for a write, or too many hops)"
                ),
            }
        }
        // 1xx, or a 304 we did not ask for.
        _ => GithubError::Unavailable {
            status: Some(status.as_u16()),
            reason: format!("unexpected answer from GitHub: {status}"),
        },
    }
}

/// True when a 422 says the repository name is taken (`errors[]` has an entry for
/// field `name` whose message says it already exists, or whose code is
/// `already_exists`). Matched on content, never on `documentation_url`, which
/// GitHub changes.
pub(crate) fn is_name_taken(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::UNPROCESSABLE_ENTITY
        && ErrorBody::parse(body).errors.iter().any(|entry| {
            let field = entry.get("field").and_then(Value::as_str);
            let message = entry.get("message").and_then(Value::as_str).unwrap_or("");
            let code = entry.get("code").and_then(Value::as_str);
            field == Some("name")
                && (message.to_ascii_lowercase().contains("already exists")
                    || code == Some("already_exists"))
        })
}

/// True when a 422 to `POST …/hooks` says a hook with this URL exists already.
/// GitHub's body (readthedocs/readthedocs.org#2561, OnToology/OnToology#68 — see
/// `tests/fixtures/github/errors/422.create-hook.already-exists.json`):
/// `{"message": "Validation Failed", "errors": [{"resource": "Hook", "code":
/// "custom", "message": "Hook already exists on this repository"}]}`. Matched on
/// the entry's message, never on `documentation_url`.
pub(crate) fn is_hook_exists(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::UNPROCESSABLE_ENTITY
        && ErrorBody::parse(body).errors.iter().any(|entry| {
            let message = entry
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| entry.as_str())
                .unwrap_or("");
            message.to_ascii_lowercase().contains("already exists")
        })
}

/// True when a 410 is GitHub's "Issues are disabled for this repo" rather than
/// a deleted issue ("This issue was deleted"): both share the status, and only
/// the message tells them apart (\[obs\]: third-party reports; GitHub does not
/// document the bodies).
pub(crate) fn is_issues_disabled(body: &[u8]) -> bool {
    ErrorBody::parse(body)
        .message
        .is_some_and(|m| m.to_ascii_lowercase().contains("disabled"))
}

/// Seconds to wait when a 403/429 is a rate limit; `None` when it is not one.
///
/// Order follows GitHub's guidance: `retry-after` if given; else, when the primary
/// limit is exhausted (`x-ratelimit-remaining: 0`), until `x-ratelimit-reset`; both
/// present → the later. Otherwise a message naming a secondary limit, or any 429,
/// means "wait at least a minute". Never shorter than 1 s, so a caller never spins.
fn rate_limit(
    status: StatusCode,
    headers: &HeaderMap,
    body: &ErrorBody,
    now: SystemTime,
) -> Option<u64> {
    let retry_after = header_u64(headers, RETRY_AFTER.as_str());
    let primary_exhausted = header_u64(headers, "x-ratelimit-remaining") == Some(0);
    let until_reset = if primary_exhausted {
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Some(
            header_u64(headers, "x-ratelimit-reset")
                .map_or(SECONDARY_LIMIT_FALLBACK_SECS, |reset| {
                    reset.saturating_sub(now_secs)
                }),
        )
    } else {
        None
    };
    let secondary = body
        .message
        .as_deref()
        .is_some_and(|m| m.to_ascii_lowercase().contains("secondary rate limit"));

    let wait = match (retry_after, until_reset) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) if secondary || status == StatusCode::TOO_MANY_REQUESTS => {
            Some(SECONDARY_LIMIT_FALLBACK_SECS)
        }
        (None, None) => None,
    };
    wait.map(|secs| secs.max(1))
}

/// A header holding a non-negative integer (GitHub's `retry-after` is in seconds;
/// the HTTP-date form is not used by GitHub and falls back to the other rules).
fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The parts of GitHub's `basic-error` / `validation-error` bodies we use. Read
/// leniently: any field may be missing, and the body may not be JSON at all
/// (e.g. an HTML page from a proxy).
#[derive(Debug, Default)]
struct ErrorBody {
    message: Option<String>,
    /// Entries are usually objects `{resource, field, code, message}`, sometimes
    /// plain strings.
    errors: Vec<Value>,
}

impl ErrorBody {
    fn parse(body: &[u8]) -> Self {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        Self {
            message: map
                .get("message")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string),
            errors: match map.get("errors") {
                Some(Value::Array(entries)) => entries.clone(),
                _ => Vec::new(),
            },
        }
    }

    /// GitHub's message, or the status's reason phrase when the body has none.
    fn message_or(&self, status: StatusCode) -> String {
        let text = self
            .message
            .as_deref()
            .or(status.canonical_reason())
            .unwrap_or("no message");
        shorten(text)
    }

    /// The message plus what each `errors[]` entry says, e.g.
    /// `Validation Failed: Label.color invalid`.
    fn message_with_details(&self, status: StatusCode) -> String {
        let details: Vec<String> = self.errors.iter().filter_map(describe_entry).collect();
        let head = self
            .message
            .as_deref()
            .or(status.canonical_reason())
            .unwrap_or("refused");
        if details.is_empty() {
            shorten(head)
        } else {
            shorten(&format!("{head}: {}", details.join("; ")))
        }
    }
}

fn describe_entry(entry: &Value) -> Option<String> {
    if let Some(text) = entry.as_str() {
        return Some(text.to_string());
    }
    let get = |key: &str| entry.get(key).and_then(Value::as_str);
    if let Some(message) = get("message") {
        return Some(message.to_string());
    }
    let subject = match (get("resource"), get("field")) {
        (Some(r), Some(f)) => format!("{r}.{f}"),
        (Some(s), None) | (None, Some(s)) => s.to_string(),
        (None, None) => String::new(),
    };
    match (subject.is_empty(), get("code")) {
        (false, Some(code)) => Some(format!("{subject} {code}")),
        (false, None) => Some(subject),
        (true, Some(code)) => Some(code.to_string()),
        (true, None) => None,
    }
}

/// At most [`MAX_MESSAGE_CHARS`] characters, control characters turned into spaces
/// (the text ends up in logs and API answers).
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_MESSAGE_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Defence in depth: replaces the token wherever it might appear in an error's text
/// (GitHub does not echo tokens, but a misbehaving server or proxy could).
pub(crate) fn redact(error: GithubError, token: &str) -> GithubError {
    // Very short "tokens" would mangle ordinary words and are not secrets worth it.
    if token.len() < 8 {
        return error;
    }
    let scrub = |s: String| {
        if s.contains(token) {
            s.replace(token, "[redacted]")
        } else {
            s
        }
    };
    match error {
        GithubError::Forbidden { message } => GithubError::Forbidden {
            message: scrub(message),
        },
        GithubError::NotFound { message } => GithubError::NotFound {
            message: scrub(message),
        },
        GithubError::Unavailable { status, reason } => GithubError::Unavailable {
            status,
            reason: scrub(reason),
        },
        GithubError::RepoNameTaken { name } => GithubError::RepoNameTaken { name: scrub(name) },
        GithubError::Rejected { status, message } => GithubError::Rejected {
            status,
            message: scrub(message),
        },
        other @ (GithubError::Unauthorized | GithubError::RateLimited { .. }) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::time::Duration;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn map(status: u16, pairs: &[(&'static str, &str)], body: &str) -> GithubError {
        from_response(
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
            body.as_bytes(),
            now(),
        )
    }

    const SECONDARY: &str = r#"{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
    const PRIMARY: &str = r#"{"message": "API rate limit exceeded for user ID 1."}"#;

    #[test]
    fn unauthorized() {
        assert_eq!(
            map(401, &[], r#"{"message":"Bad credentials"}"#),
            GithubError::Unauthorized
        );
        assert_eq!(map(401, &[], ""), GithubError::Unauthorized);
    }

    #[test]
    fn primary_limit_waits_until_reset() {
        let reset = (NOW + 120).to_string();
        for status in [403, 429] {
            let e = map(
                status,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset),
                ],
                PRIMARY,
            );
            assert_eq!(
                e,
                GithubError::RateLimited {
                    retry_after_secs: 120
                }
            );
        }
    }

    #[test]
    fn primary_limit_with_past_reset_waits_at_least_a_second() {
        let reset = (NOW - 5).to_string();
        let e = map(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
            PRIMARY,
        );
        assert_eq!(
            e,
            GithubError::RateLimited {
                retry_after_secs: 1
            }
        );
    }

    #[test]
    fn primary_limit_without_reset_falls_back_to_a_minute() {
        let e = map(403, &[("x-ratelimit-remaining", "0")], PRIMARY);
        assert_eq!(
            e,
            GithubError::RateLimited {
                retry_after_secs: 60
            }
        );
    }

    #[test]
    fn retry_after_wins_and_the_later_of_both_is_kept() {
        assert_eq!(
            map(403, &[("retry-after", "30")], SECONDARY),
            GithubError::RateLimited {
                retry_after_secs: 30
            }
        );
        assert_eq!(
            map(429, &[("retry-after", "7")], "{}"),
            GithubError::RateLimited {
                retry_after_secs: 7
            }
        );
        let reset = (NOW + 90).to_string();
        assert_eq!(
            map(
                403,
                &[
                    ("retry-after", "30"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset)
                ],
                SECONDARY
            ),
            GithubError::RateLimited {
                retry_after_secs: 90
            }
        );
        assert_eq!(
            map(403, &[("retry-after", "0")], SECONDARY),
            GithubError::RateLimited {
                retry_after_secs: 1
            }
        );
    }

    #[test]
    fn secondary_limit_without_retry_after_waits_a_minute() {
        assert_eq!(
            map(403, &[("x-ratelimit-remaining", "4000")], SECONDARY),
            GithubError::RateLimited {
                retry_after_secs: 60
            }
        );
        // Case-insensitive, and the 2025 wording too.
        assert_eq!(
            map(
                403,
                &[],
                r#"{"message":"You have exceeded a Secondary Rate Limit."}"#
            ),
            GithubError::RateLimited {
                retry_after_secs: 60
            }
        );
    }

    #[test]
    fn bare_429_is_a_rate_limit() {
        assert_eq!(
            map(429, &[], ""),
            GithubError::RateLimited {
                retry_after_secs: 60
            }
        );
    }

    #[test]
    fn other_403_is_forbidden_with_github_message() {
        let e = map(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest","status":"403"}"#,
        );
        assert_eq!(
            e,
            GithubError::Forbidden {
                message: "Resource not accessible by personal access token".into()
            }
        );
        assert_eq!(
            map(403, &[], "<html>nope</html>"),
            GithubError::Forbidden {
                message: "Forbidden".into()
            }
        );
    }

    #[test]
    fn not_found_and_gone() {
        assert_eq!(
            map(404, &[], r#"{"message":"Branch not protected"}"#),
            GithubError::NotFound {
                message: "Branch not protected".into()
            }
        );
        assert_eq!(
            map(
                410,
                &[],
                r#"{"message":"Issues are disabled for this repo"}"#
            ),
            GithubError::NotFound {
                message: "Issues are disabled for this repo".into()
            }
        );
        assert_eq!(
            map(404, &[], ""),
            GithubError::NotFound {
                message: "Not Found".into()
            }
        );
    }

    #[test]
    fn validation_failure_is_rejected_with_details() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"}]}"#;
        assert_eq!(
            map(422, &[], body),
            GithubError::Rejected {
                status: Some(422),
                message: "Validation Failed: Label.color invalid".into()
            }
        );
        let body = r#"{"message":"Validation Failed","errors":["title is too long"]}"#;
        assert_eq!(
            map(422, &[], body),
            GithubError::Rejected {
                status: Some(422),
                message: "Validation Failed: title is too long".into()
            }
        );
        assert_eq!(
            map(400, &[], r#"{"message":"Problems parsing JSON"}"#),
            GithubError::Rejected {
                status: Some(400),
                message: "Problems parsing JSON".into()
            }
        );
    }

    #[test]
    fn server_errors_are_unavailable_without_body_text() {
        let e = map(502, &[], r#"{"message":"secret internals"}"#);
        assert_eq!(
            e,
            GithubError::Unavailable {
                status: Some(502),
                reason: "GitHub answered 502 Bad Gateway".into()
            }
        );
        assert!(matches!(map(304, &[], ""), GithubError::Unavailable { .. }));
        assert!(matches!(
            map(301, &[], ""),
            GithubError::Unavailable { status: Some(301), ref reason } if reason.contains("does not follow")
        ));
    }

    #[test]
    fn every_mapped_error_keeps_githubs_status() {
        assert_eq!(map(401, &[], "").status(), Some(401));
        assert_eq!(map(403, &[], "{}").status(), Some(403));
        assert_eq!(map(404, &[], "").status(), Some(404));
        assert_eq!(map(409, &[], "{}").status(), Some(409));
        assert_eq!(map(422, &[], "{}").status(), Some(422));
        assert_eq!(map(503, &[], "").status(), Some(503));
        assert_eq!(
            map(429, &[], "").status(),
            None,
            "rate limits keep no status"
        );
    }

    #[test]
    fn headers_never_reach_messages() {
        let e = map(403, &[("x-secret-header", "hdr-value-123")], "{}");
        assert!(!format!("{e:?}").contains("hdr-value-123"));
    }

    #[test]
    fn long_messages_are_shortened() {
        let long = "x".repeat(1000);
        let GithubError::NotFound { message } =
            map(404, &[], &format!(r#"{{"message":"{long}"}}"#))
        else {
            panic!("expected NotFound");
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
        assert_eq!(shorten("a\nb"), "a b");
        assert_eq!(shorten("ünïcödé"), "ünïcödé");
    }

    #[test]
    fn name_clash_detection() {
        let fixture = r#"{"message":"Repository creation failed.","errors":[{"resource":"Repository","code":"custom","field":"name","message":"name already exists on this account"}],"status":"422"}"#;
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        assert!(is_name_taken(unprocessable, fixture.as_bytes()));
        assert!(!is_name_taken(StatusCode::BAD_REQUEST, fixture.as_bytes()));
        let by_code = r#"{"errors":[{"field":"name","code":"already_exists"}]}"#;
        assert!(is_name_taken(unprocessable, by_code.as_bytes()));
        let other_field = r#"{"errors":[{"field":"description","message":"already exists"}]}"#;
        assert!(!is_name_taken(unprocessable, other_field.as_bytes()));
        let invalid = r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"}]}"#;
        assert!(!is_name_taken(unprocessable, invalid.as_bytes()));
        assert!(!is_name_taken(unprocessable, b"not json"));
    }

    #[test]
    fn hook_exists_and_issues_disabled_detection() {
        let exists = r#"{"message":"Validation Failed","errors":[{"resource":"Hook","code":"custom","message":"Hook already exists on this repository"}],"documentation_url":"https://developer.github.com/v3/repos/hooks/#create-a-hook"}"#;
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        assert!(is_hook_exists(unprocessable, exists.as_bytes()));
        assert!(!is_hook_exists(StatusCode::FORBIDDEN, exists.as_bytes()));
        let bad_url = r#"{"message":"Validation Failed","errors":[{"resource":"Hook","code":"custom","message":"Config url is not supported because it isn't reachable over the public Internet"}]}"#;
        assert!(!is_hook_exists(unprocessable, bad_url.as_bytes()));
        assert!(!is_hook_exists(unprocessable, b"<html>"));
        assert!(is_issues_disabled(
            br#"{"message":"Issues are disabled for this repo"}"#
        ));
        assert!(!is_issues_disabled(
            br#"{"message":"This issue was deleted"}"#
        ));
        assert!(!is_issues_disabled(b""));
    }

    #[test]
    fn redact_removes_the_token() {
        let token = "ghp_abcdefghijklmnop";
        let e = redact(
            GithubError::Rejected {
                status: None,
                message: format!("bad {token} here"),
            },
            token,
        );
        assert_eq!(
            e,
            GithubError::Rejected {
                status: None,
                message: "bad [redacted] here".into()
            }
        );
        let e = redact(GithubError::Unauthorized, token);
        assert_eq!(e, GithubError::Unauthorized);
    }
}
