//! Sending one request to GitHub: the headers every call needs, bounded retries
//! with exponential back-off, a per-attempt time-out and a cap on body size.
//!
//! Status codes are not interpreted here beyond "5xx is worth another try for a
//! GET"; turning answers into errors is `errors.rs`'s job.

use crate::GithubConfig;
use pm_kernel::GithubError;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use url::Url;

/// Ceiling of one back-off pause, whatever the attempt number.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Renamed repositories and transferred issues answer with a same-host redirect;
/// more hops than this means something is wrong.
const MAX_REDIRECTS: usize = 5;

/// The client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[error("invalid GitHub client configuration: {0}")]
pub struct BuildError(String);

/// A complete answer (any status), its body read within the size cap.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Where the answer came from: the request's URL, or where a redirect led.
    pub(crate) url: Url,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Why an attempt produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No connection was made, so the request was certainly not sent.
    Connect,
    Timeout,
    /// The connection broke mid-way (the request may have been processed).
    Broken,
    /// The body exceeded `max_response_bytes`; asking again would not help.
    TooLarge,
    /// reqwest could not even build the request; asking again would not help.
    Invalid,
}

impl Failure {
    fn from_reqwest(error: &reqwest::Error) -> Self {
        // A connect time-out is both; it is a connect failure: nothing was sent.
        if error.is_connect() {
            Failure::Connect
        } else if error.is_timeout() {
            Failure::Timeout
        } else if error.is_builder() {
            Failure::Invalid
        } else {
            Failure::Broken
        }
    }

    /// Whether another attempt is safe and useful. A POST that may have reached
    /// GitHub is never repeated: the issue or repository may already exist.
    fn retryable(self, replay: Replay, attempt: u32) -> bool {
        match self {
            Failure::Connect => true,
            Failure::Timeout | Failure::Broken => replay.allows(attempt),
            Failure::TooLarge | Failure::Invalid => false,
        }
    }

    fn into_error(self, config: &GithubConfig, attempts: u32) -> GithubError {
        let reason = match self {
            Failure::Connect => "could not connect to GitHub".to_string(),
            Failure::Timeout => format!(
                "GitHub did not answer within {} ms",
                config.request_timeout.as_millis()
            ),
            Failure::Broken => "the connection to GitHub failed".to_string(),
            Failure::TooLarge => format!(
                "GitHub's answer is larger than {} bytes",
                config.max_response_bytes
            ),
            Failure::Invalid => "the request to GitHub could not be built".to_string(),
        };
        let reason = if attempts > 1 {
            format!("{reason} ({attempts} attempts)")
        } else {
            reason
        };
        GithubError::Unavailable {
            status: None,
            reason,
        }
    }
}

/// How often a request that may have reached GitHub is sent again (after a 5xx, a
/// time-out or a broken connection). A request that certainly was not sent (no
/// connection) is retried up to `max_retries` whatever the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// GET: up to `max_retries` times.
    Always,
    /// PATCH: once. It sets absolute values, so a repeat ends in the same state,
    /// but every PATCH that lands is a write GitHub counts against the
    /// content-creation limit (and may notify); and a slow or failing GitHub is
    /// not helped by more writes. One retry absorbs the usual blip (a 502 from
    /// GitHub's front end); the job layer re-runs the whole merge later, from a
    /// fresh GET, if that fails too.
    Once,
    /// POST: never. A create that may have reached GitHub is not repeated: the
    /// issue, repository or hook may already exist.
    Never,
}

impl Replay {
    fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD => Replay::Always,
            Method::PATCH => Replay::Once,
            _ => Replay::Never,
        }
    }

    /// Whether the attempt numbered `attempt` (1-based) that just failed may be
    /// followed by another (`max_retries` is checked separately).
    fn allows(self, attempt: u32) -> bool {
        match self {
            Replay::Always => true,
            Replay::Once => attempt == 1,
            Replay::Never => false,
        }
    }
}

pub(crate) struct Transport {
    /// GETs: follows redirects on the API's own origin (renamed repositories,
    /// transferred issues).
    reads: reqwest::Client,
    /// Everything else: follows only 307/308 on the API's own origin, which keep
    /// the method and body (GitHub's answer to a write to a renamed repository).
    writes: reqwest::Client,
    config: GithubConfig,
}

/// Redirects are followed only within the configured API's scheme, host and port,
/// so the token is sent on the same host and never anywhere else (reqwest would
/// follow to another host without the `Authorization` header; pmhub does not follow
/// at all, so the 3xx surfaces as an error instead of someone else's data).
///
/// `writes`: a 301/302/303 is not followed either. reqwest turns a POST into a GET
/// on those (the create would silently become a read), and for a PATCH a permanent
/// move means the issue now lives elsewhere (transferred): the merge must see that
/// through its GET before it writes there.
fn redirect_policy(api: &Url, writes: bool) -> reqwest::redirect::Policy {
    let origin = api.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        let same_origin = attempt.url().origin() == origin;
        let keeps_method = matches!(
            attempt.status(),
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        );
        if attempt.previous().len() >= MAX_REDIRECTS || !same_origin || (writes && !keeps_method) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

impl Transport {
    pub(crate) fn new(config: GithubConfig) -> Result<Self, BuildError> {
        let api = &config.api_url;
        if !matches!(api.scheme(), "http" | "https") || api.host_str().is_none() {
            return Err(BuildError(format!(
                "api_url must be an http(s) URL with a host, got scheme {:?}",
                api.scheme()
            )));
        }
        // Credentials in the URL would be sent as Basic auth next to our token.
        if !api.username().is_empty() || api.password().is_some() {
            return Err(BuildError("api_url must not contain credentials".into()));
        }
        if config.user_agent.trim().is_empty() {
            return Err(BuildError("user_agent must not be empty".into()));
        }
        // reqwest is built without a default crypto provider (its default pulls
        // aws-lc-rs, which needs a C toolchain); ring's must be installed once per
        // process. Err only means another one is already installed: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        // Pinning the version keeps response shapes stable while it is supported.
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        let build = |writes: bool| {
            reqwest::Client::builder()
                .user_agent(config.user_agent.as_str())
                .default_headers(headers.clone())
                .timeout(config.request_timeout)
                .redirect(redirect_policy(api, writes))
                // No `Referer` carrying our URLs along a redirect.
                .referer(false)
                .build()
                .map_err(|e| BuildError(format!("HTTP client: {e}")))
        };
        let reads = build(false)?;
        let writes = build(true)?;
        Ok(Self {
            reads,
            writes,
            config,
        })
    }

    pub(crate) fn config(&self) -> &GithubConfig {
        &self.config
    }

    /// Sends the request, retrying a GET on 5xx, time-outs and broken connections
    /// up to `max_retries` times, a PATCH once (see [`Replay`]), and any method when
    /// the connection could not be made. Returns the last answer whatever its status.
    pub(crate) async fn send(
        &self,
        token: &SecretString,
        method: Method,
        url: &Url,
        json_body: Option<&[u8]>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, GithubError> {
        let auth = authorization(token)?;
        let replay = Replay::of(&method);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let outcome = self
                .attempt(&auth, &method, url, json_body, if_none_match)
                .await;
            // Saturates: a request does not last 584 million years.
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let may_retry = attempt <= self.config.max_retries;
            match outcome {
                Ok(answer) => {
                    crate::metrics::request(
                        &method,
                        crate::metrics::outcome(answer.status, &answer.headers, &answer.body),
                    );
                    tracing::debug!(
                        method = %method,
                        path = url.path(),
                        status = answer.status.as_u16(),
                        elapsed_ms,
                        attempt,
                        "GitHub request"
                    );
                    if answer.status.is_server_error() && replay.allows(attempt) && may_retry {
                        self.back_off(attempt).await;
                        continue;
                    }
                    return Ok(answer);
                }
                Err(failure) => {
                    crate::metrics::request(&method, "transport_error");
                    tracing::debug!(
                        method = %method,
                        path = url.path(),
                        failure = ?failure,
                        elapsed_ms,
                        attempt,
                        "GitHub request failed"
                    );
                    if failure.retryable(replay, attempt) && may_retry {
                        self.back_off(attempt).await;
                        continue;
                    }
                    return Err(failure.into_error(&self.config, attempt));
                }
            }
        }
    }

    async fn attempt(
        &self,
        auth: &HeaderValue,
        method: &Method,
        url: &Url,
        json_body: Option<&[u8]>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, Failure> {
        let http = if *method == Method::GET {
            &self.reads
        } else {
            &self.writes
        };
        let mut request = http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, auth.clone());
        if let Some(body) = json_body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        if let Some(etag) = if_none_match.and_then(|e| HeaderValue::from_str(e).ok()) {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let mut response = request.send().await.map_err(|e| {
            let failure = Failure::from_reqwest(&e);
            // Only in the trace log, and without the URL: the cause (e.g.
            // "connection refused") helps operators; callers get our own text.
            tracing::trace!(error = ?e.without_url(), "GitHub transport error");
            failure
        })?;
        let status = response.status();
        let final_url = response.url().clone();
        let headers = std::mem::take(response.headers_mut());

        // Content-Length lets us refuse early, but it is not trusted: the body is
        // also counted while it streams in, and reading stops past the cap.
        let cap = self.config.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(Failure::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::from_reqwest(&e))?
        {
            if body.len() + chunk.len() > cap {
                return Err(Failure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            url: final_url,
            status,
            headers,
            body,
        })
    }

    async fn back_off(&self, attempt: u32) {
        tokio::time::sleep(backoff_delay(self.config.retry_base_delay, attempt)).await;
    }
}

/// `base · 2^(attempt − 1)`, at most [`MAX_BACKOFF`].
fn backoff_delay(base: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// `Bearer <token>`, marked sensitive so hyper and any header dump hide it. The
/// formatted copy is wiped on drop. A token that cannot be a header value cannot
/// be valid either, hence `Unauthorized` (with nothing of the token in it).
fn authorization(token: &SecretString) -> Result<HeaderValue, GithubError> {
    let value = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
    let mut header = HeaderValue::from_str(&value).map_err(|_| GithubError::Unauthorized)?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GithubConfig {
        GithubConfig::new(Url::parse("https://api.github.com").unwrap())
    }

    #[test]
    fn authorization_is_bearer_and_sensitive() {
        let h = authorization(&SecretString::from("ghp_x".to_string())).unwrap();
        assert_eq!(h.to_str().unwrap(), "Bearer ghp_x");
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("ghp_x"));
    }

    #[test]
    fn unusable_token_is_unauthorized_without_echo() {
        let err = authorization(&SecretString::from("bad\ntoken".to_string())).unwrap_err();
        assert_eq!(err, GithubError::Unauthorized);
    }

    #[test]
    fn posts_are_only_retried_when_nothing_was_sent() {
        let post = Replay::of(&Method::POST);
        assert!(Failure::Connect.retryable(post, 1));
        assert!(!Failure::Timeout.retryable(post, 1));
        assert!(!Failure::Broken.retryable(post, 1));
        let get = Replay::of(&Method::GET);
        assert!(Failure::Timeout.retryable(get, 1));
        assert!(Failure::Timeout.retryable(get, 3));
        assert!(!Failure::TooLarge.retryable(get, 1));
    }

    #[test]
    fn patches_are_retried_once() {
        let patch = Replay::of(&Method::PATCH);
        assert!(Failure::Timeout.retryable(patch, 1));
        assert!(!Failure::Timeout.retryable(patch, 2));
        assert!(!Failure::Broken.retryable(patch, 2));
        assert!(Failure::Connect.retryable(patch, 2), "nothing was sent");
        assert!(patch.allows(1) && !patch.allows(2));
    }

    #[test]
    fn rejects_unusable_config() {
        let mut c = config();
        c.user_agent = " ".into();
        assert!(Transport::new(c).is_err());
        let c = GithubConfig::new(Url::parse("ftp://example.com").unwrap());
        assert!(Transport::new(c).is_err());
        let c = GithubConfig::new(Url::parse("mailto:x@example.com").unwrap());
        assert!(Transport::new(c).is_err());
        let c = GithubConfig::new(Url::parse("https://user:pw@ghe.example.com/api/v3").unwrap());
        let err = Transport::new(c).err().unwrap().to_string();
        assert!(!err.contains("pw"), "{err}");
        assert!(Transport::new(config()).is_ok());
    }

    #[test]
    fn back_off_doubles_and_is_capped() {
        let base = Duration::from_millis(200);
        assert_eq!(backoff_delay(base, 1), Duration::from_millis(200));
        assert_eq!(backoff_delay(base, 2), Duration::from_millis(400));
        assert_eq!(backoff_delay(base, 3), Duration::from_millis(800));
        assert_eq!(backoff_delay(base, 8), Duration::from_millis(25_600));
        assert_eq!(backoff_delay(base, 9), MAX_BACKOFF);
        assert_eq!(backoff_delay(base, u32::MAX), MAX_BACKOFF);
    }
}
