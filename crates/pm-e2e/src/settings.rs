//! pmhub settings for a run against a fake GitHub, built the way operators layer them:
//! `pm_api::Settings::figment` (defaults and environment) with overrides merged on top.

use figment::Figment;
use pm_api::Settings;
use std::path::Path;

/// Settings layers for a pmhub served on a random loopback port, storing into
/// `database_url` and talking to the GitHub API at `github_api_url`, creating repositories in
/// `org`, with a fresh encryption key. Merge more with [`Figment::merge`], then [`extract`].
///
/// The `config/` folder is deliberately not read: a run must not depend on the working
/// directory or on a developer's local edits.
pub fn figment(database_url: &str, github_api_url: &str, org: &str) -> Figment {
    Settings::figment(Path::new("/nonexistent"))
        .merge(("database.url", database_url))
        .merge(("server.bind", "127.0.0.1:0"))
        .merge(("server.shutdown_timeout_secs", 1))
        .merge(("github.api_url", github_api_url))
        .merge(("github.org", org))
        .merge(("crypto.key", pm_crypto::Keyring::generate_encoded_key()))
}

/// The settings, or an error naming the bad key.
pub fn extract(figment: Figment) -> anyhow::Result<Settings> {
    figment
        .extract()
        .map_err(|e| anyhow::anyhow!("invalid pmhub settings: {e}"))
}
