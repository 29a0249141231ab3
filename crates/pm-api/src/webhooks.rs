//! Wiring of GitHub webhooks: the [`WebhookService`] from the settings, and the
//! `github.delivery` job handler (see `routes::webhooks` for the endpoint and
//! docs/architecture.md, "Webhooks").

use crate::config::Settings;
use async_trait::async_trait;
use pm_crypto::HmacWebhookVerifier;
use pm_integrations::webhooks::{DELIVERY_JOB, WebhookService};
use pm_jobs::{Job, JobContext, JobError, JobHandler, JobOutcome};
use pm_postgres::{Database, PgWebhookStore};
use secrecy::ExposeSecret;
use std::sync::Arc;

/// The verifier from `github.webhook_secret` (comma-separated secrets).
pub fn verifier(settings: &Settings) -> HmacWebhookVerifier {
    HmacWebhookVerifier::from_config(
        settings
            .github
            .webhook_secret
            .as_ref()
            .map(ExposeSecret::expose_secret),
    )
}

/// What webhook registration needs: `server.public_url` and the first secret of
/// `github.webhook_secret` (the newest, during a rotation).
pub fn hook_config(settings: &Settings) -> pm_integrations::HookConfig {
    let first = settings.github.webhook_secret.as_ref().and_then(|s| {
        s.expose_secret()
            .split(',')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(|s| secrecy::SecretString::from(s.to_string()))
    });
    pm_integrations::HookConfig::new(settings.server.public_url.clone(), first)
}

/// The webhook service on `db`.
pub fn service(settings: &Settings, db: &Database) -> WebhookService {
    WebhookService::new(
        Arc::new(verifier(settings)),
        Arc::new(PgWebhookStore::new(db.clone())),
    )
}

/// Says once, at start-up, whether deliveries can be accepted (never the secret).
pub fn log_configuration(settings: &Settings) {
    let secrets = verifier(settings).secrets();
    if secrets == 0 {
        tracing::warn!(
            "github.webhook_secret (PMHUB__GITHUB__WEBHOOK_SECRET) is not set: \
             POST /api/v1/webhooks/github refuses every delivery with 503 WEBHOOK_NOT_CONFIGURED"
        );
    } else {
        tracing::info!(secrets, "GitHub webhook deliveries are accepted");
    }
}

/// `github.delivery`: processes one stored delivery (payload `{"delivery_id"}`).
/// Idempotent: a processed delivery is not processed again.
pub struct DeliveryHandler {
    service: WebhookService,
}

impl DeliveryHandler {
    pub fn new(service: WebhookService) -> Self {
        Self { service }
    }

    /// Registers the handler under [`DELIVERY_JOB`].
    pub fn register(registry: &mut pm_worker::Registry, service: WebhookService) {
        registry.register(DELIVERY_JOB, Arc::new(Self::new(service)));
    }
}

#[async_trait]
impl JobHandler for DeliveryHandler {
    async fn run(&self, job: &Job, _ctx: &JobContext) -> JobOutcome {
        let Some(delivery_id) = job
            .payload
            .get("delivery_id")
            .and_then(serde_json::Value::as_str)
        else {
            return JobOutcome::Fail(JobError::new(
                "VALIDATION_FAILED",
                "the job's payload has no delivery_id",
            ));
        };
        match self.service.process(delivery_id).await {
            Ok(outcome) => {
                tracing::debug!(
                    delivery_id,
                    outcome = outcome.as_str(),
                    "webhook delivery processed"
                );
                JobOutcome::Succeeded
            }
            Err(err) => {
                tracing::warn!(
                    delivery_id,
                    error_code = err.code(),
                    "webhook delivery not processed"
                );
                JobOutcome::from_error(&err, pm_kernel::now())
            }
        }
    }
}
