//! What every GitHub API request goes through before and after its handler: logging, injected
//! latency and errors, the `User-Agent` and API-version checks, authentication, rate limits
//! (injected and real), and GitHub's response headers. Admin routes under `/_fake` pass
//! straight through.

use std::time::Duration;

use actix_web::{
    Error, HttpMessage, HttpResponse,
    body::BoxBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        StatusCode,
        header::{self, HeaderMap, HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};

use crate::{
    FakeGithub, errors,
    faults::{Limited, RATE_LIMIT, RateWindow},
    state::route_pattern,
    util::now_secs,
};

/// The authenticated user of the current request; handlers take it as `web::ReqData<Viewer>`.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub id: u64,
}

/// API versions GitHub currently accepts in `X-GitHub-Api-Version`.
const SUPPORTED_VERSIONS: &[&str] = &["2022-11-28", "2026-03-10"];
const DEFAULT_VERSION: &str = "2022-11-28";

enum Credentials {
    Missing,
    Token(String),
    Unusable,
}

fn credentials(req: &ServiceRequest) -> Credentials {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Credentials::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Credentials::Unusable;
    };
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") =>
        {
            Credentials::Token(token.trim().to_owned())
        }
        _ => Credentials::Unusable,
    }
}

fn has_user_agent(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::USER_AGENT)
        .is_some_and(|ua| !ua.as_bytes().iter().all(u8::is_ascii_whitespace))
}

fn put(headers: &mut HeaderMap, name: &'static str, value: impl Into<HeaderValue>) {
    headers.insert(HeaderName::from_static(name), value.into());
}

fn rate_headers(headers: &mut HeaderMap, w: RateWindow) {
    put(headers, "x-ratelimit-limit", RATE_LIMIT);
    put(headers, "x-ratelimit-remaining", w.remaining());
    put(headers, "x-ratelimit-used", w.used.min(RATE_LIMIT));
    put(headers, "x-ratelimit-reset", w.reset);
    put(
        headers,
        "x-ratelimit-resource",
        HeaderValue::from_static("core"),
    );
}

fn common_headers(headers: &mut HeaderMap, request_id: &str, version: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        put(headers, "x-github-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(version) {
        put(headers, "x-github-api-version-selected", v);
    }
    put(
        headers,
        "x-github-media-type",
        HeaderValue::from_static("github.v3; format=json"),
    );
}

pub(crate) async fn gate(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.path().starts_with("/_fake") {
        return next.call(req).await;
    }
    let Some(fake) = req
        .app_data::<web::Data<FakeGithub>>()
        .map(|d| d.get_ref().clone())
    else {
        return next.call(req).await;
    };
    let now = now_secs();
    let (latency_ms, inject_error, request_id) = {
        let mut st = fake.lock();
        st.record_request(
            req.method().as_str(),
            req.path(),
            req.query_string(),
            route_pattern(req.path()),
        );
        (
            st.faults.latency_ms(),
            st.faults.tick_error(),
            st.next_request_id(),
        )
    };
    tracing::debug!(method = %req.method(), path = req.path(), query = req.query_string(), "api request");
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let request_id = format!("FAKE:{request_id:08X}");
    let version = req
        .headers()
        .get("x-github-api-version")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| DEFAULT_VERSION.to_owned(), |v| v.trim().to_owned());

    let early = |req: ServiceRequest, resp: HttpResponse| {
        let mut res = req.into_response(resp);
        common_headers(res.headers_mut(), &request_id, &version);
        Ok(res)
    };

    if !has_user_agent(&req) {
        return early(req, errors::missing_user_agent());
    }
    if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
        let resp = errors::unsupported_api_version(&version);
        return early(req, resp);
    }
    if inject_error {
        return early(req, errors::server_error());
    }
    let token = match credentials(&req) {
        Credentials::Missing => return early(req, errors::requires_authentication()),
        Credentials::Unusable => return early(req, errors::bad_credentials()),
        Credentials::Token(t) => t,
    };
    let (viewer, limited, window) = {
        let mut st = fake.lock();
        let Some(id) = st.authenticate(&token).map(|a| a.id) else {
            drop(st);
            return early(req, errors::bad_credentials());
        };
        let limited = st.faults.check_limits(now);
        (Viewer { id }, limited, st.rate_window(id, now, false))
    };
    match limited {
        Some(Limited::Primary { reset }) => {
            let mut res = early(req, errors::primary_rate_limited(viewer.id))?;
            rate_headers(
                res.headers_mut(),
                RateWindow {
                    used: RATE_LIMIT,
                    reset,
                },
            );
            return Ok(res);
        }
        Some(Limited::Secondary { retry_after }) => {
            let mut res = early(req, errors::secondary_rate_limited(retry_after))?;
            rate_headers(res.headers_mut(), window);
            return Ok(res);
        }
        None => {}
    }
    if window.remaining() == 0 {
        // The real hourly budget is spent (5,000 requests): GitHub's primary limit.
        let mut res = early(req, errors::primary_rate_limited(viewer.id))?;
        rate_headers(res.headers_mut(), window);
        return Ok(res);
    }
    // `GET /rate_limit` is free on GitHub.
    let free = req.path() == "/rate_limit";
    req.extensions_mut().insert(viewer.clone());

    let mut res = next.call(req).await?;
    // A 304 answered from the client's cache does not count against the primary limit.
    let charge = !free && res.status() != StatusCode::NOT_MODIFIED;
    let window = fake.lock().rate_window(viewer.id, now, charge);
    let headers = res.headers_mut();
    rate_headers(headers, window);
    common_headers(headers, &request_id, &version);
    put(
        headers,
        "x-oauth-scopes",
        HeaderValue::from_static("read:org, repo, user"),
    );
    Ok(res)
}
