//! GitHub REST adapter: [`GithubClient`] implements `pm_integrations::GithubApi`
//! with reqwest (rustls + ring).
//!
//! - `client.rs`: the endpoints pmhub uses (user, repositories, issues — list, get,
//!   create, update — org repos, repository webhooks).
//! - `transport.rs`: headers, retries with back-off, time-outs, body size cap.
//! - `errors.rs`: status + headers + body → `pm_kernel::GithubError`.
//! - `pagination.rs`: the `Link` header's `rel="next"`.
//! - `etag_cache.rs`: conditional requests for list pages.
//! - `wire.rs`: GitHub's JSON, read leniently.
//! - `rate_gate.rs`, `shared.rs`: the per-token rate-limit gate (in process, and
//!   shared by all instances) and the pacing of creates.
//!
//! Tokens are passed per call as `SecretString`, exposed only to build the
//! `Authorization` header (marked sensitive), and never logged or put in an error.

mod client;
mod config;
mod errors;
mod etag_cache;
mod metrics;
mod pagination;
mod rate_gate;
mod shared;
mod transport;
mod wire;

pub use client::GithubClient;
pub use config::GithubConfig;
pub use shared::SharedThrottle;
pub use transport::BuildError;
