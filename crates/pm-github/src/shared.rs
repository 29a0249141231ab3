//! The rate-limit gate and create pacing shared by every pmhub instance, through
//! the `GithubThrottle` port (PostgreSQL in production; ADR 0021).
//!
//! The in-process [`RateGate`] stays in front as a fast path: it only ever
//! refuses more (a token this process saw limited), never lets more through, so
//! it cannot make two instances hammer a token. When the shared store cannot be
//! reached, the gate check fails open (the local gate still applies, and the
//! database being down stops the import or push at its next write anyway) and a
//! create waits one full interval instead of its slot.

use crate::rate_gate::RateGate;
use pm_integrations::{GithubThrottle, TokenFingerprint};
use pm_kernel::GithubError;
use secrecy::SecretString;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What [`GithubClient::with_shared_throttle`](crate::GithubClient::with_shared_throttle) needs.
#[derive(Clone)]
pub struct SharedThrottle {
    pub throttle: Arc<dyn GithubThrottle>,
    pub fingerprint: Arc<dyn TokenFingerprint>,
    /// Between two content-creating calls with one token, across all instances
    /// (`github.push_interval_ms`; GitHub asks for at least a second). Zero: no pacing.
    pub create_interval: Duration,
}

impl fmt::Debug for SharedThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedThrottle")
            .field("create_interval", &self.create_interval)
            .finish_non_exhaustive()
    }
}

impl SharedThrottle {
    /// `RateLimited` while the shared store says the token is blocked (the
    /// block is copied into this process's gate too).
    pub(crate) async fn check(
        &self,
        token: &SecretString,
        gate: &RateGate,
    ) -> Result<(), GithubError> {
        let key = self.fingerprint.fingerprint(token);
        match self.throttle.blocked_for(&key).await {
            Ok(None) => Ok(()),
            Ok(Some(left)) => {
                let err = GithubError::RateLimited {
                    retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
                };
                gate.record::<()>(token, &Err(err.clone()));
                Err(err)
            }
            Err(e) => {
                tracing::warn!(
                    token = key.short(),
                    error = %e,
                    "the shared GitHub rate-limit gate could not be read; going by this process's"
                );
                Ok(())
            }
        }
    }

    /// Writes a rate limit GitHub reported to the shared store.
    pub(crate) async fn record<T>(&self, token: &SecretString, result: &Result<T, GithubError>) {
        let Err(GithubError::RateLimited { retry_after_secs }) = result else {
            return;
        };
        let key = self.fingerprint.fingerprint(token);
        if let Err(e) = self
            .throttle
            .block_for(&key, Duration::from_secs(*retry_after_secs))
            .await
        {
            tracing::warn!(
                token = key.short(),
                error = %e,
                "a GitHub rate limit could not be shared with other instances"
            );
        }
    }

    /// Waits for the token's next create slot. True when it waited.
    pub(crate) async fn pace_create(&self, token: &SecretString) -> bool {
        let interval = self.create_interval;
        if interval.is_zero() {
            return false;
        }
        let key = self.fingerprint.fingerprint(token);
        let wait = match self.throttle.reserve_create_slot(&key, interval).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(
                    token = key.short(),
                    error = %e,
                    "no shared create slot could be reserved; waiting one interval"
                );
                interval
            }
        };
        if wait.is_zero() {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }
}
