//! Parsing of key material from configuration (`crypto.key`, `crypto.old_keys`).
//!
//! Errors name the setting that is wrong but never echo what it contains: a
//! half-pasted key is still a key.

use crate::tokens::sha256;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use secrecy::zeroize::Zeroizing;
use std::fmt;

/// AES-256 keys are 32 bytes.
pub(crate) const KEY_LEN: usize = 32;

const MAX_KEY_ID_LEN: usize = 32;

/// Standard alphabet; operators paste keys from different tools, so padding is
/// optional.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which setting a [`KeyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetting {
    /// `PMHUB_ENCRYPTION_KEY` (`crypto.key`).
    Current,
    /// The `entry`-th (1-based, counting every comma-separated item)
    /// entry of `PMHUB_ENCRYPTION_OLD_KEYS` (`crypto.old_keys`).
    Old { entry: usize },
}

impl fmt::Display for KeySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySetting::Current => f.write_str("PMHUB_ENCRYPTION_KEY (crypto.key)"),
            KeySetting::Old { entry } => write!(
                f,
                "entry {entry} of PMHUB_ENCRYPTION_OLD_KEYS (crypto.old_keys)"
            ),
        }
    }
}

/// Why the configured key material was rejected. No variant holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "PMHUB_ENCRYPTION_KEY (crypto.key) is not set: it must be the base64 of 32 random bytes, optionally prefixed `kid:`"
    )]
    Missing,
    #[error("{which} is not valid base64 (standard alphabet, padding optional)")]
    NotBase64 { which: KeySetting },
    #[error("{which} must decode to exactly {KEY_LEN} bytes, got {got}")]
    WrongLength { which: KeySetting, got: usize },
    #[error(
        "{which} has an invalid key id: use 1-{MAX_KEY_ID_LEN} characters from A-Z, a-z, 0-9, `_` and `-`"
    )]
    BadKeyId { which: KeySetting },
    #[error(
        "key id `{0}` is used by more than one key in PMHUB_ENCRYPTION_KEY / PMHUB_ENCRYPTION_OLD_KEYS"
    )]
    DuplicateKeyId(String),
}

/// One AES-256-GCM key and its id. The key bytes live only inside ring's key type.
pub(crate) struct NamedKey {
    pub(crate) id: String,
    pub(crate) key: LessSafeKey,
}

/// Parses `[kid:]base64`. Without a kid, the id is derived from the key itself so
/// the same key always gets the same id (and a restarted server can still open
/// what it sealed).
pub(crate) fn parse_key(entry: &str, which: KeySetting) -> Result<NamedKey, KeyError> {
    // Standard base64 has no ':', so the first one can only end a key id.
    let (kid, encoded) = match entry.split_once(':') {
        Some((kid, encoded)) => {
            let kid = kid.trim();
            if !is_valid_key_id(kid) {
                return Err(KeyError::BadKeyId { which });
            }
            (Some(kid), encoded.trim())
        }
        None => (None, entry.trim()),
    };

    // Zeroizing: the decoded bytes are wiped as soon as ring has its own copy.
    let bytes = Zeroizing::new(
        KEY_BASE64
            .decode(encoded)
            // The decode error names the offending byte, i.e. part of the key: drop it.
            .map_err(|_| KeyError::NotBase64 { which })?,
    );
    if bytes.len() != KEY_LEN {
        return Err(KeyError::WrongLength {
            which,
            got: bytes.len(),
        });
    }

    let id = match kid {
        Some(kid) => kid.to_owned(),
        None => derived_key_id(&bytes),
    };
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::WrongLength {
        which,
        got: bytes.len(),
    })?;
    Ok(NamedKey {
        id,
        key: LessSafeKey::new(unbound),
    })
}

/// `k` + the first 8 hex digits of the key's SHA-256: stable, short, and 32 bits of
/// a hash reveal nothing useful about a 256-bit key.
fn derived_key_id(key: &[u8]) -> String {
    let hash = sha256(key);
    let mut id = String::with_capacity(9);
    id.push('k');
    for byte in &hash[..4] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

fn is_valid_key_id(kid: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn encode_key(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // bytes 0..32

    #[test]
    fn derived_ids_are_stable_and_well_formed() {
        let a = parse_key(KEY, KeySetting::Current).unwrap();
        let b = parse_key(KEY.trim_end_matches('='), KeySetting::Current).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.len(), 9);
        assert!(a.id.starts_with('k'));
        assert!(is_valid_key_id(&a.id));
        // SHA-256 of bytes 0..32 starts with 630dcd29.
        assert_eq!(a.id, "k630dcd29");
    }

    #[test]
    fn explicit_ids_are_kept_and_whitespace_is_tolerated() {
        let k = parse_key(&format!(" prod-2025_01 : {KEY} "), KeySetting::Current).unwrap();
        assert_eq!(k.id, "prod-2025_01");
    }

    #[test]
    fn key_ids_are_checked() {
        for bad in ["", "a b", "é", "a.b", &"x".repeat(33)] {
            assert!(!is_valid_key_id(bad), "{bad:?}");
        }
        for good in ["a", "K-1_x", &"x".repeat(32)] {
            assert!(is_valid_key_id(good), "{good:?}");
        }
    }

    #[test]
    fn settings_are_named_for_operators() {
        assert_eq!(
            KeySetting::Old { entry: 2 }.to_string(),
            "entry 2 of PMHUB_ENCRYPTION_OLD_KEYS (crypto.old_keys)"
        );
        assert!(
            KeySetting::Current
                .to_string()
                .contains("PMHUB_ENCRYPTION_KEY")
        );
    }
}
