//! `X-Hub-Signature-256`: HMAC-SHA256 of a webhook delivery's raw body, keyed by a
//! shared secret, as `sha256=<64 lowercase hex digits>`.

use pm_integrations::WebhookVerifier;
use ring::hmac;

/// Verifies deliveries against one or more secrets (several while a secret is
/// rotated: the old one and the new one are both accepted until GitHub uses only
/// the new one). The secrets live only inside `ring`'s keys; `Debug` shows how
/// many there are, never them.
pub struct HmacWebhookVerifier {
    keys: Vec<hmac::Key>,
}

impl std::fmt::Debug for HmacWebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacWebhookVerifier")
            .field("secrets", &self.keys.len())
            .finish()
    }
}

impl HmacWebhookVerifier {
    /// From the `github.webhook_secret` setting: secrets separated by commas,
    /// surrounding whitespace trimmed, empty entries dropped. `None` or nothing but
    /// separators gives a verifier with no secret, which refuses everything.
    pub fn from_config(setting: Option<&str>) -> Self {
        let keys = setting
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes()))
            .collect();
        Self { keys }
    }

    /// How many secrets are configured.
    pub fn secrets(&self) -> usize {
        self.keys.len()
    }

    /// The header value for `body` under the first secret (for tests and tools
    /// that send deliveries).
    pub fn sign(&self, body: &[u8]) -> Option<String> {
        let tag = hmac::sign(self.keys.first()?, body);
        Some(format!("sha256={}", hex(tag.as_ref())))
    }
}

impl WebhookVerifier for HmacWebhookVerifier {
    fn is_configured(&self) -> bool {
        !self.keys.is_empty()
    }

    fn verify(&self, body: &[u8], signature: &str) -> bool {
        let Some(tag) = signature.trim().strip_prefix("sha256=").and_then(unhex_32) else {
            return false;
        };
        // `hmac::verify` compares in constant time. Every key is tried, so the time
        // taken does not tell which secret matched.
        self.keys
            .iter()
            .fold(false, |ok, key| hmac::verify(key, body, &tag).is_ok() | ok)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly 64 hex digits (either case) → 32 bytes.
fn unhex_32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../tests/fixtures/github/{rel}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_recorded_test_vectors_verify() {
        let vectors: serde_json::Value =
            serde_json::from_slice(&fixture("webhooks/signature-test-vectors.json")).unwrap();
        let vectors = vectors["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 3);
        for v in vectors {
            let body = match v["payload_utf8"].as_str() {
                Some(text) => text.as_bytes().to_vec(),
                None => fixture(v["payload_file"].as_str().unwrap()),
            };
            let signature = v["x_hub_signature_256"].as_str().unwrap();
            let verifier = HmacWebhookVerifier::from_config(v["secret"].as_str());
            assert!(verifier.verify(&body, signature), "{}", v["source"]);
            assert_eq!(verifier.sign(&body).as_deref(), Some(signature));
            assert!(
                verifier.verify(
                    &body,
                    &signature.to_ascii_uppercase().replace("SHA256=", "sha256=")
                ),
                "hex digits in either case"
            );

            let mut changed = body.clone();
            changed[0] ^= 1;
            assert!(!verifier.verify(&changed, signature), "one changed byte");
            let other = HmacWebhookVerifier::from_config(Some("another secret"));
            assert!(!other.verify(&body, signature), "an unknown secret");
        }
    }

    #[test]
    fn any_configured_secret_verifies_during_a_rotation() {
        let body = b"Hello, World!";
        let old = HmacWebhookVerifier::from_config(Some("old"));
        let new = HmacWebhookVerifier::from_config(Some("new"));
        let both = HmacWebhookVerifier::from_config(Some(" new , old ,, "));
        assert_eq!(both.secrets(), 2);
        assert!(both.verify(body, &old.sign(body).unwrap()));
        assert!(both.verify(body, &new.sign(body).unwrap()));
        assert!(!new.verify(body, &old.sign(body).unwrap()));
    }

    #[test]
    fn malformed_signatures_and_no_secret_never_verify() {
        let body = b"Hello, World!";
        let v = HmacWebhookVerifier::from_config(Some("It's a Secret to Everybody"));
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(v.verify(body, good));
        for bad in [
            "",
            "sha256=",
            &good[7..],
            &good.replace("sha256=", "sha1="),
            &good[..good.len() - 1],
            &format!("{good}00"),
            &good.replace('7', "g"),
        ] {
            assert!(!v.verify(body, bad), "{bad:?}");
        }
        for none in [None, Some(""), Some(" , ")] {
            let v = HmacWebhookVerifier::from_config(none);
            assert!(!v.is_configured());
            assert!(!v.verify(body, good));
        }
        assert_eq!(format!("{v:?}"), "HmacWebhookVerifier { secrets: 1 }");
    }
}
