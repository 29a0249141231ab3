//! Crypto adapter built on `ring`.
//!
//! - [`RingTokenIssuer`] implements [`pm_accounts::TokenIssuer`]: random API tokens
//!   (`pmh_` + base64url of 32 random bytes), stored only as their SHA-256.
//! - [`Keyring`] implements [`pm_integrations::SecretCipher`]: AES-256-GCM for
//!   secrets at rest (the workspaces' GitHub tokens), with a current key that seals
//!   and old keys that only open, so keys can be rotated (`crypto.key` /
//!   `crypto.old_keys`, see the design brief §6).
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

pub use fingerprint::Sha256Fingerprint;
pub use keyring::Keyring;
pub use keys::{KeyError, KeySetting};
pub use tokens::{RingTokenIssuer, TOKEN_PREFIX};
