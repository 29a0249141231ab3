//! API tokens: random, shown once, stored as a SHA-256 hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pm_accounts::{IssuedToken, TokenHash, TokenIssuer};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;

/// Every token starts with this, so leaked tokens are easy to recognise (secret
/// scanners, logs) and easy to tell apart from GitHub tokens.
pub const TOKEN_PREFIX: &str = "pmh_";

/// 256 bits of entropy: a stored hash cannot be brute-forced back to a token, so a
/// plain (unsalted, fast) SHA-256 is enough and lets the hash be a lookup key.
const TOKEN_BYTES: usize = 32;

/// [`TokenIssuer`] backed by the operating system's CSPRNG and SHA-256.
#[derive(Debug)]
pub struct RingTokenIssuer {
    rng: SystemRandom,
}

impl RingTokenIssuer {
    pub fn new() -> Self {
        Self {
            rng: SystemRandom::new(),
        }
    }
}

impl Default for RingTokenIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenIssuer for RingTokenIssuer {
    #[allow(
        clippy::expect_used,
        reason = "a token without real randomness must never be issued"
    )]
    fn issue(&self) -> IssuedToken {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        // The port is infallible, and issuing a token without real randomness would
        // be far worse than failing the request, so an OS RNG failure (which does not
        // happen on supported platforms) aborts this call.
        self.rng
            .fill(bytes.as_mut())
            .expect("the operating system's random number generator failed");

        let mut plaintext = String::with_capacity(TOKEN_PREFIX.len() + 43);
        plaintext.push_str(TOKEN_PREFIX);
        URL_SAFE_NO_PAD.encode_string(bytes.as_ref(), &mut plaintext);

        let hash = self.hash(&plaintext);
        IssuedToken {
            plaintext: SecretString::from(plaintext),
            hash,
        }
    }

    fn hash(&self, presented: &str) -> TokenHash {
        TokenHash(sha256(presented.as_bytes()))
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SHA-256 output is always 32 bytes, so this copy cannot panic.
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashSet;

    #[test]
    fn tokens_have_the_prefix_and_the_expected_length() {
        let issued = RingTokenIssuer::new().issue();
        let token = issued.plaintext.expose_secret();
        assert!(token.starts_with(TOKEN_PREFIX), "{token}");
        // 32 bytes in unpadded base64 are 43 characters.
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 43);
        let body = &token[TOKEN_PREFIX.len()..];
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "not base64url without padding: {body}"
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), TOKEN_BYTES);
    }

    #[test]
    fn tokens_are_distinct() {
        let issuer = RingTokenIssuer::new();
        let tokens: HashSet<String> = (0..100)
            .map(|_| issuer.issue().plaintext.expose_secret().to_owned())
            .collect();
        assert_eq!(tokens.len(), 100);
    }

    #[test]
    fn the_issued_hash_is_the_hash_of_the_plaintext() {
        let issuer = RingTokenIssuer::new();
        let issued = issuer.issue();
        assert_eq!(issuer.hash(issued.plaintext.expose_secret()), issued.hash);
    }

    #[test]
    fn hash_is_sha256_of_the_presented_string() {
        // Known answer: SHA-256("abc").
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = RingTokenIssuer::new()
            .hash("abc")
            .0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn different_input_gives_a_different_hash() {
        let issuer = RingTokenIssuer::new();
        let a = issuer.issue();
        let b = issuer.issue();
        assert_ne!(a.hash, b.hash);
        assert_ne!(issuer.hash("pmh_a"), issuer.hash("pmh_b"));
        assert_ne!(issuer.hash("pmh_a"), issuer.hash("pmh_a "));
    }
}
