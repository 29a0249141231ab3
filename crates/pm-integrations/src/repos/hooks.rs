//! Registering a repository's webhook when pmhub links or creates it
//! (`POST /repos/{o}/{r}/hooks`), so deliveries start without anyone touching
//! GitHub's settings. Needs pmhub's public URL (`server.public_url`) and a webhook
//! secret; without either, or when GitHub refuses (the token is not an admin of
//! the repository), the outcome says how to add the hook by hand. It never fails
//! the link or the approval it follows.

use crate::{GithubApi, HookRegistration, NewHook};
use pm_projects::RepoFullName;
use secrecy::SecretString;
use std::fmt;

/// Where deliveries go, under pmhub's public URL.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/github";
/// The events pmhub asks for.
pub const WEBHOOK_EVENTS: [&str; 2] = ["issues", "repository"];

/// What webhook registration needs: pmhub's public URL and the secret GitHub signs
/// with (the first configured one: the newest, during a rotation).
#[derive(Clone, Default)]
pub struct HookConfig {
    public_url: Option<String>,
    secret: Option<SecretString>,
}

impl fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookConfig")
            .field("public_url", &self.public_url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl HookConfig {
    /// Registration with `public_url` (an absolute http(s) URL, checked by the
    /// configuration) and `secret`; either `None` turns it off.
    pub fn new(public_url: Option<String>, secret: Option<SecretString>) -> Self {
        Self { public_url, secret }
    }

    /// The payload URL GitHub is given, if pmhub knows its public URL.
    pub fn url(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|base| format!("{}{WEBHOOK_PATH}", base.trim_end_matches('/')))
    }

    /// Registers `repo`'s webhook with `token`, or says why not. Logs the outcome
    /// (never the secret or the token).
    pub async fn register(
        &self,
        github: &dyn GithubApi,
        token: &SecretString,
        repo: &RepoFullName,
    ) -> WebhookOutcome {
        let url = self.url();
        let (Some(url), Some(secret)) = (url.clone(), self.secret.clone()) else {
            let reason = if url.is_none() {
                ManualReason::NoPublicUrl
            } else {
                ManualReason::NoSecret
            };
            tracing::info!(
                repository = %repo,
                reason = reason.as_str(),
                "the repository's webhook is not registered by pmhub; it can be added by hand"
            );
            return WebhookOutcome::Manual {
                repo: repo.to_string(),
                url,
                reason,
            };
        };
        let hook = NewHook {
            url: url.clone(),
            secret,
            events: WEBHOOK_EVENTS.iter().map(|e| (*e).to_string()).collect(),
        };
        match github.create_hook(token, repo, &hook).await {
            Ok(HookRegistration::Created { id }) => {
                tracing::info!(repository = %repo, hook_id = id, url = %url, "registered the repository's webhook");
                WebhookOutcome::Registered { url, id }
            }
            Ok(HookRegistration::AlreadyExists) => {
                tracing::info!(repository = %repo, url = %url, "the repository's webhook exists already");
                WebhookOutcome::AlreadyExists { url }
            }
            Err(err) => {
                tracing::warn!(
                    repository = %repo,
                    error_code = err.code(),
                    status = err.status(),
                    "GitHub did not register the repository's webhook; the link stands and the hook can be added by hand"
                );
                WebhookOutcome::Failed {
                    repo: repo.to_string(),
                    url,
                    error_code: err.code(),
                    status: err.status(),
                }
            }
        }
    }
}

/// Why pmhub did not try to register a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManualReason {
    /// `server.public_url` is not configured: pmhub does not know its address.
    NoPublicUrl,
    /// No webhook secret is configured: pmhub refuses unsigned deliveries.
    NoSecret,
}

impl ManualReason {
    /// The reason's text form (logs and the API).
    pub const fn as_str(self) -> &'static str {
        match self {
            ManualReason::NoPublicUrl => "no_public_url",
            ManualReason::NoSecret => "no_webhook_secret",
        }
    }
}

/// What happened to a repository's webhook when pmhub linked or created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// GitHub created the hook.
    Registered {
        /// The payload URL.
        url: String,
        /// GitHub's hook id.
        id: i64,
    },
    /// A hook with this URL was there already.
    AlreadyExists {
        /// The payload URL.
        url: String,
    },
    /// pmhub did not try: it is to be added by hand.
    Manual {
        /// The repository.
        repo: String,
        /// The payload URL, if pmhub knows its public URL.
        url: Option<String>,
        /// Why not.
        reason: ManualReason,
    },
    /// GitHub refused or failed (the link stands).
    Failed {
        /// The repository.
        repo: String,
        /// The payload URL.
        url: String,
        /// The error's code, e.g. `GITHUB_FORBIDDEN`.
        error_code: &'static str,
        /// GitHub's HTTP status, if it answered.
        status: Option<u16>,
    },
}

impl WebhookOutcome {
    /// A sentence for a person: what was done, or how to add the hook by hand.
    pub fn message(&self) -> String {
        let events = WEBHOOK_EVENTS
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        let by_hand = |repo: &str, url: &str| {
            format!(
                "add it by hand in {repo}'s Settings → Webhooks → Add webhook: payload URL {url}, \
                 content type application/json, the secret you configured \
                 (github.webhook_secret), events {events}"
            )
        };
        match self {
            WebhookOutcome::Registered { url, .. } => {
                format!("pmhub registered the webhook {url} for {events} events")
            }
            WebhookOutcome::AlreadyExists { url } => {
                format!("the repository already has the webhook {url}")
            }
            WebhookOutcome::Manual {
                repo,
                url,
                reason: ManualReason::NoPublicUrl,
            } => {
                let url = url
                    .clone()
                    .unwrap_or_else(|| format!("<pmhub's public URL>{WEBHOOK_PATH}"));
                format!(
                    "server.public_url is not configured, so pmhub did not register a webhook; \
                     set it to have pmhub register one, or {}",
                    by_hand(repo, &url)
                )
            }
            WebhookOutcome::Manual {
                repo,
                url,
                reason: ManualReason::NoSecret,
            } => {
                let url = url
                    .clone()
                    .unwrap_or_else(|| format!("<pmhub's public URL>{WEBHOOK_PATH}"));
                format!(
                    "no webhook secret is configured (github.webhook_secret), so pmhub refuses \
                     deliveries and did not register a webhook; configure one, then {}",
                    by_hand(repo, &url)
                )
            }
            WebhookOutcome::Failed {
                repo,
                url,
                error_code,
                status,
            } => {
                let status = status.map(|s| format!("{s} ")).unwrap_or_default();
                format!(
                    "GitHub did not create the webhook ({status}{error_code}; registering one \
                     needs admin rights on the repository); the repository is linked: {}",
                    by_hand(repo, url)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::MockGithubApi;
    use pm_kernel::GithubError;
    use secrecy::ExposeSecret;

    fn repo() -> RepoFullName {
        RepoFullName::parse("octo/hello").unwrap()
    }

    fn token() -> SecretString {
        SecretString::from("ghp_token".to_string())
    }

    fn configured() -> HookConfig {
        HookConfig::new(
            Some("https://pm.example.com/".into()),
            Some(SecretString::from("s3cret-one".to_string())),
        )
    }

    #[tokio::test]
    async fn registers_the_url_events_and_secret() {
        let mut github = MockGithubApi::new();
        github
            .expect_create_hook()
            .withf(|_, r, hook| {
                r.as_str() == "octo/hello"
                    && hook.url == "https://pm.example.com/api/v1/webhooks/github"
                    && hook.events == ["issues", "repository"]
                    && hook.secret.expose_secret() == "s3cret-one"
            })
            .times(1)
            .returning(|_, _, _| Ok(HookRegistration::Created { id: 7 }));
        let outcome = configured().register(&github, &token(), &repo()).await;
        assert_eq!(
            outcome,
            WebhookOutcome::Registered {
                url: "https://pm.example.com/api/v1/webhooks/github".into(),
                id: 7
            }
        );
    }

    #[tokio::test]
    async fn an_existing_hook_is_reported_as_such() {
        let mut github = MockGithubApi::new();
        github
            .expect_create_hook()
            .returning(|_, _, _| Ok(HookRegistration::AlreadyExists));
        let outcome = configured().register(&github, &token(), &repo()).await;
        assert!(matches!(outcome, WebhookOutcome::AlreadyExists { .. }));
    }

    #[tokio::test]
    async fn without_a_public_url_or_a_secret_nothing_is_called() {
        let mut github = MockGithubApi::new();
        github.expect_create_hook().never();
        let no_url = HookConfig::new(None, Some(SecretString::from("s".to_string())));
        let outcome = no_url.register(&github, &token(), &repo()).await;
        assert!(matches!(
            &outcome,
            WebhookOutcome::Manual {
                url: None,
                reason: ManualReason::NoPublicUrl,
                ..
            }
        ));
        let message = outcome.message();
        assert!(message.contains("server.public_url"), "{message}");
        assert!(message.contains("the secret you configured"), "{message}");

        let no_secret = HookConfig::new(Some("http://pm.local:8080".into()), None);
        let outcome = no_secret.register(&github, &token(), &repo()).await;
        let message = outcome.message();
        assert!(matches!(
            outcome,
            WebhookOutcome::Manual {
                reason: ManualReason::NoSecret,
                ..
            }
        ));
        assert!(
            message.contains("http://pm.local:8080/api/v1/webhooks/github"),
            "{message}"
        );
        assert!(message.contains("`issues` and `repository`"), "{message}");
    }

    #[tokio::test]
    async fn a_refusal_is_reported_with_githubs_status_and_how_to_add_it() {
        let mut github = MockGithubApi::new();
        github.expect_create_hook().returning(|_, _, _| {
            Err(GithubError::Forbidden {
                message: "Must have admin rights to Repository.".into(),
            })
        });
        let outcome = configured().register(&github, &token(), &repo()).await;
        let WebhookOutcome::Failed {
            error_code, status, ..
        } = &outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!((*error_code, *status), ("GITHUB_FORBIDDEN", Some(403)));
        let message = outcome.message();
        assert!(message.contains("403 GITHUB_FORBIDDEN"), "{message}");
        assert!(
            message.contains("https://pm.example.com/api/v1/webhooks/github"),
            "{message}"
        );
        assert!(!message.contains("s3cret-one"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", configured());
        assert!(!shown.contains("s3cret-one"), "{shown}");
        assert!(shown.contains("pm.example.com"));
    }
}
