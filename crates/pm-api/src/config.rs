//! Layered configuration: `config/default.toml` < `config/{PMHUB_ENV}.toml` <
//! `PMHUB__SECTION__KEY` < the well-known variables (`DATABASE_URL`, `GITHUB_TOKEN`,
//! `GITHUB_ORG`, `PMHUB_ENCRYPTION_KEY`, `PMHUB_ENCRYPTION_OLD_KEYS`,
//! `PMHUB_LOG_FORMAT`). Secrets are `SecretString`s: their `Debug` is redacted.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `development` (default), `test` or `production`, from `PMHUB_ENV`.
    #[serde(default = "default_env")]
    pub env: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub github: GithubSettings,
    pub crypto: CryptoSettings,
    pub log: LogSettings,
    pub jobs: JobsSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
}

/// `GET /metrics`. Without a token it is open like `/healthz`: keep it off the
/// public network (see docs/architecture.md, "Metrics").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricsSettings {
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub shutdown_timeout_secs: u64,
    /// Worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Seconds a request body may take to arrive, from the first byte of the
    /// request; a body still incomplete then is answered 408 and the connection
    /// closed.
    pub body_timeout_secs: u64,
    /// Seconds a client has to send the request head (line and headers).
    pub head_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// Seconds given to a client to acknowledge the connection's shutdown.
    pub client_disconnect_timeout_secs: u64,
    /// Open connections per worker; past it new ones wait in the accept backlog.
    pub max_connections: usize,
    /// The address GitHub reaches this server at (an absolute http(s) URL, e.g.
    /// `https://pm.example.com`). With a webhook secret it lets pmhub register each
    /// linked repository's webhook at `{public_url}/api/v1/webhooks/github`.
    #[serde(default, deserialize_with = "public_url")]
    pub public_url: Option<String>,
}

/// `server.public_url`: an absolute `http` or `https` URL with a host and no query
/// or fragment; kept without a trailing `/`.
fn public_url<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let Some(raw) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(raw).map_err(|e| {
        D::Error::custom(format!(
            "server.public_url {raw:?} is not an absolute URL ({e}); e.g. https://pm.example.com"
        ))
    })?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !ok {
        return Err(D::Error::custom(format!(
            "server.public_url {raw:?} must be an http(s) URL with a host and no credentials, \
             query or fragment, e.g. https://pm.example.com"
        )));
    }
    Ok(Some(url.as_str().trim_end_matches('/').to_string()))
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    pub url: Option<String>,
    pub max_connections: usize,
    /// Server-side `statement_timeout` set on every connection, in milliseconds.
    pub statement_timeout_ms: u64,
    /// Client-side deadline on one database operation (a checkout plus its
    /// statements), in milliseconds; past it the request answers 503.
    pub operation_timeout_ms: u64,
    /// Deadline of the `/readyz` database check, in milliseconds.
    pub ping_timeout_ms: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field(
                "url",
                &self.url.as_deref().map(pm_postgres::redact_password),
            )
            .field("max_connections", &self.max_connections)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("operation_timeout_ms", &self.operation_timeout_ms)
            .field("ping_timeout_ms", &self.ping_timeout_ms)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubSettings {
    pub api_url: String,
    pub org: String,
    /// Milliseconds between issue creates when pushing (GitHub asks for ≥ 1 s).
    pub push_interval_ms: u64,
    /// Seconds between reconciles of each two-way project's repository (repairs
    /// missed, late or never-configured webhooks).
    pub reconcile_interval_secs: u64,
    pub token: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CryptoSettings {
    pub key: Option<SecretString>,
    pub old_keys: Option<SecretString>,
    pub dev_key_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub filter: String,
}

/// The job engine (see docs/architecture.md, "The job engine").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobsSettings {
    /// Whether `pmhub serve` runs job workers too (false: a web-only process;
    /// `pmhub worker` runs them whatever this says).
    pub enabled: bool,
    /// Jobs run at once per process.
    pub workers: usize,
    /// Milliseconds between looks for due jobs when no notification wakes a worker.
    pub poll_interval_ms: u64,
    /// Seconds a claim holds a job without a heartbeat: a dead process's jobs are
    /// taken over after at most this long.
    pub lease_secs: u64,
    /// Seconds between lease renewals of a running job (well under `lease_secs`).
    pub heartbeat_secs: u64,
    /// LISTEN for enqueue notifications; turn off behind PgBouncer in transaction mode
    /// (polling still finds every job).
    pub listen: bool,
    /// Finished jobs are deleted this many days after they finished.
    pub retention_days: u64,
    /// Seconds between runs of the cleanup of finished jobs.
    pub cleanup_interval_secs: u64,
}

fn default_env() -> String {
    "development".into()
}

/// Built-in defaults, so the binary runs even without the `config/` folder.
#[derive(Serialize)]
struct Defaults {
    server: ServerSettings,
    database: DatabaseSettings,
    github: GithubDefaults,
    crypto: CryptoDefaults,
    log: LogSettings,
    jobs: JobsSettings,
}

#[derive(Serialize)]
struct GithubDefaults {
    api_url: &'static str,
    org: &'static str,
    push_interval_ms: u64,
    reconcile_interval_secs: u64,
}

#[derive(Serialize)]
struct CryptoDefaults {
    dev_key_file: &'static str,
}

fn defaults() -> Defaults {
    Defaults {
        server: ServerSettings {
            bind: "127.0.0.1:8080".into(),
            shutdown_timeout_secs: 30,
            workers: None,
            body_timeout_secs: 10,
            head_timeout_secs: 5,
            keep_alive_secs: 5,
            client_disconnect_timeout_secs: 2,
            max_connections: 5000,
            public_url: None,
        },
        database: DatabaseSettings {
            url: None,
            max_connections: 16,
            statement_timeout_ms: 5000,
            operation_timeout_ms: 8000,
            ping_timeout_ms: 1500,
        },
        github: GithubDefaults {
            api_url: "https://api.github.com",
            org: "auditmos-projects",
            push_interval_ms: 1000,
            reconcile_interval_secs: pm_integrations::two_way::DEFAULT_RECONCILE_INTERVAL_SECS,
        },
        crypto: CryptoDefaults {
            dev_key_file: ".pmhub/dev-encryption-key",
        },
        log: LogSettings {
            format: "text".into(),
            filter: "info".into(),
        },
        jobs: JobsSettings {
            enabled: true,
            workers: 4,
            poll_interval_ms: 1000,
            lease_secs: 30,
            heartbeat_secs: 5,
            listen: true,
            retention_days: 7,
            cleanup_interval_secs: 3600,
        },
    }
}

/// Maps the brief's well-known variable names onto their keys.
const WELL_KNOWN: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("GITHUB_TOKEN", "github.token"),
    ("GITHUB_ORG", "github.org"),
    ("PMHUB_ENCRYPTION_KEY", "crypto.key"),
    ("PMHUB_ENCRYPTION_OLD_KEYS", "crypto.old_keys"),
    ("PMHUB_LOG_FORMAT", "log.format"),
    ("PMHUB_ENV", "env"),
];

impl Settings {
    /// Loads settings from `config_dir` (default `config`, or `PMHUB_CONFIG_DIR`)
    /// and the environment.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let dir = std::env::var("PMHUB_CONFIG_DIR").unwrap_or_else(|_| "config".into());
        Self::figment(Path::new(&dir)).extract().map_err(Box::new)
    }

    pub fn figment(config_dir: &Path) -> Figment {
        let env = std::env::var("PMHUB_ENV").unwrap_or_else(|_| default_env());
        Figment::from(Serialized::defaults(defaults()))
            .merge(Toml::file(config_dir.join("default.toml")))
            .merge(Toml::file(config_dir.join(format!("{env}.toml"))))
            .merge(Env::prefixed("PMHUB__").split("__"))
            .merge(
                Env::raw()
                    .only(&WELL_KNOWN.iter().map(|(k, _)| *k).collect::<Vec<_>>())
                    .map(|key| {
                        WELL_KNOWN
                            .iter()
                            .find(|(name, _)| key.as_str().eq_ignore_ascii_case(name))
                            .map(|(_, path)| (*path).into())
                            .unwrap_or_else(|| key.into())
                    })
                    .split("."),
            )
    }

    pub fn is_production(&self) -> bool {
        self.env == "production"
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn layers_apply_in_order_and_well_known_names_map() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "[server]\nbind = \"127.0.0.1:1\"\n[github]\norg = \"from-file\"\n",
            )?;
            jail.create_file("config/test.toml", "[server]\nbind = \"127.0.0.1:2\"\n")?;
            jail.set_env("PMHUB_ENV", "test");
            jail.set_env("PMHUB__SERVER__SHUTDOWN_TIMEOUT_SECS", "5");
            jail.set_env("DATABASE_URL", "postgres://x:dbpass@127.0.0.1/db");
            jail.set_env("GITHUB_ORG", "from-env");
            jail.set_env("GITHUB_TOKEN", "ghp_secretvalue");
            let s: Settings = Settings::figment(Path::new("config")).extract()?;
            assert_eq!(s.env, "test");
            assert_eq!(s.server.bind, "127.0.0.1:2");
            assert_eq!(s.server.shutdown_timeout_secs, 5);
            assert_eq!(
                s.database.url.as_deref(),
                Some("postgres://x:dbpass@127.0.0.1/db")
            );
            assert!(
                !format!("{s:?}").contains("dbpass"),
                "Debug hides the password"
            );
            assert_eq!(s.github.org, "from-env");
            assert_eq!(s.github.api_url, "https://api.github.com");
            assert_eq!(
                s.github.token.as_ref().unwrap().expose_secret(),
                "ghp_secretvalue"
            );
            assert!(
                !format!("{s:?}").contains("ghp_secretvalue"),
                "Debug hides secrets"
            );
            Ok(())
        });
    }

    #[test]
    fn public_url_must_be_an_absolute_http_url() {
        figment::Jail::expect_with(|jail| {
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert_eq!(s.server.public_url, None);
            jail.set_env("PMHUB__SERVER__PUBLIC_URL", "https://pm.example.com/");
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert_eq!(
                s.server.public_url.as_deref(),
                Some("https://pm.example.com")
            );
            jail.set_env("PMHUB__SERVER__PUBLIC_URL", "http://10.0.0.5:8080/pmhub/");
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert_eq!(
                s.server.public_url.as_deref(),
                Some("http://10.0.0.5:8080/pmhub")
            );
            for bad in [
                "pm.example.com",
                "/api",
                "ftp://pm.example.com",
                "https://pm.example.com/?x=1",
                "https://user:pw@pm.example.com",
            ] {
                jail.set_env("PMHUB__SERVER__PUBLIC_URL", bad);
                let err = Settings::figment(Path::new("nowhere"))
                    .extract::<Settings>()
                    .unwrap_err();
                assert!(
                    err.to_string().contains("server.public_url"),
                    "{bad}: {err}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn defaults_hold_without_files() {
        figment::Jail::expect_with(|_| {
            let s: Settings = Settings::figment(Path::new("nowhere")).extract()?;
            assert_eq!(s.server.bind, "127.0.0.1:8080");
            assert_eq!(s.github.org, "auditmos-projects");
            assert!(!s.is_production());
            assert!(s.jobs.enabled);
            assert_eq!((s.jobs.workers, s.jobs.lease_secs), (4, 30));
            Ok(())
        });
    }
}
