//! Where GitHub is and how patient to be with it.

use std::time::Duration;
use url::Url;

/// Settings of a [`GithubClient`](crate::GithubClient). Holds no secret: tokens are
/// passed per call, so this is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubConfig {
    /// The REST API root, e.g. `https://api.github.com`, or `https://HOST/api/v3`
    /// for GitHub Enterprise Server (the path prefix is kept on every request).
    pub api_url: Url,
    /// GitHub rejects requests without a `User-Agent`, and reqwest sends none.
    pub user_agent: String,
    /// Limit on one attempt, from connecting to the last byte of the body.
    pub request_timeout: Duration,
    /// Extra attempts after a 5xx, a time-out or a connection error (GETs only,
    /// except connection failures, where nothing was sent).
    pub max_retries: u32,
    /// First back-off delay; doubled after every failed attempt.
    pub retry_base_delay: Duration,
    /// Larger response bodies are refused, whatever `Content-Length` says.
    pub max_response_bytes: usize,
}

impl GithubConfig {
    pub const DEFAULT_USER_AGENT: &'static str = concat!("pmhub/", env!("CARGO_PKG_VERSION"));
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_RETRIES: u32 = 3;
    pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(200);
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

    /// The defaults, talking to `api_url`.
    pub fn new(api_url: Url) -> Self {
        Self {
            api_url,
            user_agent: Self::DEFAULT_USER_AGENT.to_string(),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_retries: Self::DEFAULT_MAX_RETRIES,
            retry_base_delay: Self::DEFAULT_RETRY_BASE_DELAY,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// The host users know the installation by: `github.com` for the public API
    /// (whose API lives on `api.github.com`), otherwise the API's `host[:port]`.
    /// Part of import dedup keys, so it must be stable for a given `api_url`.
    pub fn display_host(&self) -> String {
        let host = self.api_url.host_str().unwrap_or_default();
        if host == "api.github.com" && self.api_url.port().is_none() {
            return "github.com".to_string();
        }
        // `port()` is `None` for the scheme's default port, so it is omitted then.
        match self.api_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> String {
        GithubConfig::new(Url::parse(url).unwrap()).display_host()
    }

    #[test]
    fn public_api_is_known_as_github_com() {
        assert_eq!(host_of("https://api.github.com"), "github.com");
        assert_eq!(host_of("https://API.GitHub.com/"), "github.com");
        assert_eq!(host_of("https://api.github.com:443"), "github.com");
    }

    #[test]
    fn other_hosts_keep_host_and_explicit_port() {
        assert_eq!(host_of("https://ghe.example.com/api/v3"), "ghe.example.com");
        assert_eq!(
            host_of("https://ghe.example.com:8443/api/v3"),
            "ghe.example.com:8443"
        );
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(host_of("http://[::1]:9000/"), "[::1]:9000");
    }

    #[test]
    fn defaults() {
        let c = GithubConfig::new(Url::parse("https://api.github.com").unwrap());
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.max_retries, 3);
        assert_eq!(c.retry_base_delay, Duration::from_millis(200));
        assert_eq!(c.max_response_bytes, 10 * 1024 * 1024);
        assert!(c.user_agent.starts_with("pmhub/"));
    }
}
