//! [`Sha256Fingerprint`]: the `TokenFingerprint` port, SHA-256 of the token in hex.

use crate::tokens::sha256;
use pm_integrations::{TokenFingerprint, TokenKey};
use secrecy::{ExposeSecret, SecretString};
use std::fmt::Write;

/// SHA-256 of a GitHub token, 64 lowercase hex digits: the key of the shared
/// rate-limit gate and create pacing (`github_throttle`). Unkeyed on purpose:
/// every instance must compute the same key. GitHub tokens carry well over 128
/// bits of randomness, so the hash cannot be turned back into the token.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sha256Fingerprint;

impl TokenFingerprint for Sha256Fingerprint {
    fn fingerprint(&self, token: &SecretString) -> TokenKey {
        let hash = sha256(token.expose_secret().as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in hash {
            let _ = write!(hex, "{byte:02x}");
        }
        TokenKey::from_hex(hex).expect("64 lowercase hex digits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_hex_sha256_of_the_token() {
        let key = Sha256Fingerprint.fingerprint(&SecretString::from("abc"));
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            key.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let other = Sha256Fingerprint.fingerprint(&SecretString::from("abd"));
        assert_ne!(key, other);
        assert!(!format!("{key:?}").contains("abc"));
    }
}
