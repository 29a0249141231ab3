//! Helpers shared by pmhub's end-to-end tests (`tests/e2e/`), the `pmhub-demo` walkthrough
//! (`make demo`) and the `pmhub-bench` sync benchmark (`make bench`).
//!
//! Everything here drives pmhub from the outside, the way a client or an operator would: an
//! HTTP client for the REST API ([`api`]), throw-away databases on a PostgreSQL server
//! ([`db`]), child processes that are stopped when dropped ([`process`]), pmhub settings
//! pointed at a fake GitHub ([`settings`]), and a few facts about the machine ([`system`]).

pub mod api;
pub mod db;
pub mod process;
pub mod server;
pub mod settings;
pub mod system;

/// The GitHub organization pmhub creates repositories in by default (`GITHUB_ORG`).
pub const DEFAULT_ORG: &str = "auditmos-projects";

/// reqwest is built without a default TLS provider (see the workspace's `Cargo.toml`); every
/// program that builds a client picks ring's once. Calling it again is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
