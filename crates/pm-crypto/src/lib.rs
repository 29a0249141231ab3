//! Crypto adapter built on `ring`.
//!
//! - [`RingTokenIssuer`] implements [`pm_accounts::TokenIssuer`]: random API tokens
//!   (`pmh_` + base64url of 32 random bytes), stored only as their SHA-256.
//! - [`Keyring`] implements [`pm_integrations::SecretCipher`]: AES-256-GCM for
//!   secrets at rest (the workspaces' GitHub tokens), with a current key that seals
//!   and old keys that only open, so keys can be rotated (`crypto.key` /
//!   `crypto.old_keys`, see the design brief §6).
//! - [`HmacWebhookVerifier`] implements [`pm_integrations::WebhookVerifier`]: the
//!   HMAC-SHA256 `X-Hub-Signature-256` of GitHub's webhook deliveries, against one or
//!   more secrets (`github.webhook_secret`, comma-separated for rotation).
//!
//! - [`Sha256Fingerprint`] implements [`pm_integrations::TokenFingerprint`]: the
//!   SHA-256 (hex) that keys the shared GitHub throttle, never the token.
//!
//! Nothing in this crate formats key material or plaintext: `Debug` and error
//! messages carry key ids and lengths only.

mod fingerprint;
mod keyring;
mod keys;
mod tokens;
mod webhooks;

pub use fingerprint::Sha256Fingerprint;
pub use keyring::Keyring;
pub use keys::{KeyError, KeySetting};
pub use tokens::{RingTokenIssuer, TOKEN_PREFIX};
pub use webhooks::HmacWebhookVerifier;
