//! GitHub state shared by every pmhub instance: the per-token rate-limit gate
//! ("blocked until") and the pacing of content-creating calls. Both live behind
//! [`GithubThrottle`] (PostgreSQL in production, `pm_postgres::PgGithubThrottle`),
//! so two instances behind a load balancer never hammer a limited token or create
//! faster than GitHub's secondary limits allow. See ADR 0021.
//!
//! Rows are keyed by a [`TokenKey`], the SHA-256 of the token in hex, computed
//! through the [`TokenFingerprint`] port (`pm_crypto::Sha256Fingerprint`): the
//! token itself is never stored. Every time is the store's clock (durations in,
//! durations out), so instances with skewed clocks still agree.

use async_trait::async_trait;
use pm_kernel::{Error, Result};
use secrecy::SecretString;
use std::fmt;
use std::time::Duration;

/// A token's fingerprint: SHA-256 of the token, 64 lowercase hex digits. Never
/// the token, and not reversible for GitHub's high-entropy tokens.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenKey(String);

impl TokenKey {
    /// Checks the form: exactly 64 lowercase hex digits.
    pub fn from_hex(hex: impl Into<String>) -> Result<Self> {
        let hex = hex.into();
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(hex))
        } else {
            Err(Error::internal(
                "a token fingerprint must be 64 lowercase hex digits",
            ))
        }
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits: enough to tell tokens apart in a metric label
    /// or a log line, useless to anyone without the token.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey({}…)", self.short())
    }
}

/// Computes [`TokenKey`]s; implemented by the crypto adapter so the domain
/// needs no hash implementation of its own.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenFingerprint: Send + Sync {
    /// The fingerprint of `token`; the same token always gives the same key.
    fn fingerprint(&self, token: &SecretString) -> TokenKey;
}

/// The rate-limit gate and create pacing, shared by all instances.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GithubThrottle: Send + Sync {
    /// How long the token is still blocked, if it is (`None` once the block
    /// has lifted or was never set).
    async fn blocked_for(&self, token: &TokenKey) -> Result<Option<Duration>>;

    /// Blocks the token for `wait` from now. A longer block already recorded is
    /// kept (the later of both wins).
    async fn block_for(&self, token: &TokenKey, wait: Duration) -> Result<()>;

    /// Reserves the token's next create slot, at least `interval` after the
    /// previous one (whichever instance took it), and returns how long to wait
    /// for it. Two callers never get the same slot.
    async fn reserve_create_slot(&self, token: &TokenKey, interval: Duration) -> Result<Duration>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_keys_are_64_lowercase_hex_and_debug_shows_a_prefix() {
        let hex = "ab".repeat(32);
        let key = TokenKey::from_hex(hex.clone()).unwrap();
        assert_eq!(key.as_str(), hex);
        assert_eq!(key.short(), "abababababab");
        assert_eq!(format!("{key:?}"), "TokenKey(abababababab…)");
        for bad in ["", "AB".repeat(32).as_str(), &"a".repeat(63), "ghp_token"] {
            assert!(TokenKey::from_hex(bad).is_err(), "{bad}");
        }
    }
}
