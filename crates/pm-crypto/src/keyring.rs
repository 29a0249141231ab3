//! AES-256-GCM sealing of secrets at rest, with key rotation.

use crate::keys::{KEY_LEN, KeyError, KeySetting, NamedKey, encode_key, parse_key};
use pm_integrations::{SealedSecret, SecretCipher};
use pm_kernel::{Error, Result};
use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::fmt;

/// The keys secrets are sealed and opened with: one current key (seals and opens)
/// and any number of old keys (open only), each known by its id. The id of the
/// sealing key is stored with every [`SealedSecret`], so rows sealed before a
/// rotation keep opening as long as their key is listed in the old keys.
///
/// `Debug` shows the key ids only.
pub struct Keyring {
    current: NamedKey,
    old: Vec<NamedKey>,
    rng: SystemRandom,
}

impl Keyring {
    /// Builds the keyring from `crypto.key` (`[kid:]base64`, 32 bytes) and
    /// `crypto.old_keys` (comma-separated `kid:base64`; empty entries are ignored).
    /// An old entry without `kid:` gets the id it had as a current key, so a
    /// retired `PMHUB_ENCRYPTION_KEY` value can be moved over verbatim.
    pub fn from_config(current: &str, old: Option<&str>) -> Result<Self, KeyError> {
        if current.trim().is_empty() {
            return Err(KeyError::Missing);
        }
        let current = parse_key(current, KeySetting::Current)?;

        let mut seen = HashSet::from([current.id.clone()]);
        let mut old_keys = Vec::new();
        for (index, entry) in old.unwrap_or_default().split(',').enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            let key = parse_key(entry, KeySetting::Old { entry: index + 1 })?;
            // Two keys with one id would make `open` pick one of them arbitrarily.
            if !seen.insert(key.id.clone()) {
                return Err(KeyError::DuplicateKeyId(key.id));
            }
            old_keys.push(key);
        }

        Ok(Self {
            current,
            old: old_keys,
            rng: SystemRandom::new(),
        })
    }

    /// A fresh random 32-byte key, standard base64 (padded): what
    /// `PMHUB_ENCRYPTION_KEY` expects, e.g. for the generated development key file.
    pub fn generate_encoded_key() -> String {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        // Infallible by contract, and a key without real randomness must never be
        // produced; the OS RNG does not fail on supported platforms.
        SystemRandom::new()
            .fill(bytes.as_mut())
            .expect("the operating system's random number generator failed");
        encode_key(bytes.as_ref())
    }

    /// Every key id, the current one first.
    pub fn key_ids(&self) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .map(|k| k.id.clone())
            .collect()
    }

    fn key(&self, id: &str) -> Option<&NamedKey> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let old: Vec<&str> = self.old.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field("old", &old)
            .finish()
    }
}

impl SecretCipher for Keyring {
    fn seal(&self, secret: &SecretString, context: &[u8]) -> Result<SealedSecret> {
        let mut nonce = [0u8; NONCE_LEN];
        // Random 96-bit nonces are safe with GCM for far more seals than a
        // credential table will ever see (the bound is around 2^32 per key).
        self.rng
            .fill(&mut nonce)
            .map_err(|_| Error::internal("could not seal a secret: no random nonce available"))?;

        let key = &self.current.key;
        let plaintext = secret.expose_secret().as_bytes();
        // Room for the tag up front, so appending it never reallocates and leaves a
        // stray copy of the plaintext behind; Zeroizing wipes it if sealing fails.
        let mut buffer = Zeroizing::new(Vec::with_capacity(
            plaintext.len() + key.algorithm().tag_len(),
        ));
        buffer.extend_from_slice(plaintext);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut *buffer,
        )
        .map_err(|_| Error::internal("could not seal a secret: it is too long"))?;

        Ok(SealedSecret {
            key_id: self.current.id.clone(),
            nonce: nonce.to_vec(),
            // Now ciphertext + tag: nothing left to wipe.
            ciphertext: std::mem::take(&mut *buffer),
        })
    }

    fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<SecretString> {
        let kid = &sealed.key_id;
        let Some(named) = self.key(kid) else {
            return Err(Error::internal(format!(
                "stored credential could not be decrypted (key `{kid}` unknown; \
                 is it missing from PMHUB_ENCRYPTION_OLD_KEYS?)"
            )));
        };
        let undecryptable = || {
            Error::internal(format!(
                "stored credential could not be decrypted with key `{kid}` \
                 (wrong key, tampered data or moved row)"
            ))
        };

        // A nonce of the wrong length can only come from tampering or corruption.
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| undecryptable())?;
        let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
        let plaintext = named
            .key
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| undecryptable())?;
        let text = std::str::from_utf8(plaintext)
            .map_err(|_| Error::internal("stored credential decrypted to invalid UTF-8"))?;
        // Copies into an exactly-sized allocation owned by the secret; the working
        // buffer is wiped when it drops.
        Ok(SecretString::from(text))
    }

    fn current_key_id(&self) -> String {
        self.current.id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &[u8] = b"github_credentials:0190a1b2-0000-7000-8000-000000000001";
    const SECRET: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";

    fn keyring(kid: &str) -> (Keyring, String) {
        let key = Keyring::generate_encoded_key();
        (
            Keyring::from_config(&format!("{kid}:{key}"), None).unwrap(),
            key,
        )
    }

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    fn internal_message(result: Result<SecretString>) -> String {
        match result {
            Err(Error::Internal(message)) => message.to_string(),
            Err(other) => panic!("expected Error::Internal, got {other:?}"),
            Ok(_) => panic!("expected Error::Internal, got a plaintext"),
        }
    }

    fn assert_opens_not(keyring: &Keyring, sealed: &SealedSecret, context: &[u8]) {
        let message = internal_message(keyring.open(sealed, context));
        assert!(
            message.contains("wrong key, tampered data or moved row"),
            "{message}"
        );
        assert!(!message.contains(SECRET), "{message}");
    }

    #[test]
    fn round_trip() {
        let (keyring, _) = keyring("k1");
        let sealed = keyring.seal(&secret(), CONTEXT).unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        // Ciphertext carries the 16-byte GCM tag.
        assert_eq!(sealed.ciphertext.len(), SECRET.len() + 16);
        let opened = keyring.open(&sealed, CONTEXT).unwrap();
        assert_eq!(opened.expose_secret(), SECRET);
    }

    #[test]
    fn round_trip_of_an_empty_and_a_non_ascii_secret() {
        let (keyring, _) = keyring("k1");
        for text in ["", "żółw 🐢"] {
            let sealed = keyring.seal(&SecretString::from(text), CONTEXT).unwrap();
            assert_eq!(
                keyring.open(&sealed, CONTEXT).unwrap().expose_secret(),
                text
            );
        }
    }

    #[test]
    fn ciphertext_does_not_contain_the_plaintext() {
        let (keyring, _) = keyring("k1");
        let sealed = keyring.seal(&secret(), CONTEXT).unwrap();
        let needle = &SECRET.as_bytes()[..8];
        assert!(
            !sealed.ciphertext.windows(needle.len()).any(|w| w == needle),
            "plaintext visible in ciphertext"
        );
        assert!(!format!("{sealed:?}").contains(SECRET));
    }

    #[test]
    fn two_seals_of_the_same_secret_differ() {
        let (keyring, _) = keyring("k1");
        let a = keyring.seal(&secret(), CONTEXT).unwrap();
        let b = keyring.seal(&secret(), CONTEXT).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn tampering_with_any_byte_of_ciphertext_or_nonce_fails() {
        let (keyring, _) = keyring("k1");
        let sealed = keyring.seal(&secret(), CONTEXT).unwrap();
        for i in 0..sealed.ciphertext.len() {
            let mut tampered = sealed.clone();
            tampered.ciphertext[i] ^= 0x01;
            assert_opens_not(&keyring, &tampered, CONTEXT);
        }
        for i in 0..sealed.nonce.len() {
            let mut tampered = sealed.clone();
            tampered.nonce[i] ^= 0x80;
            assert_opens_not(&keyring, &tampered, CONTEXT);
        }
    }

    #[test]
    fn truncated_or_malformed_data_fails_without_panicking() {
        let (keyring, _) = keyring("k1");
        let sealed = keyring.seal(&secret(), CONTEXT).unwrap();

        let mut short_nonce = sealed.clone();
        short_nonce.nonce.pop();
        assert_opens_not(&keyring, &short_nonce, CONTEXT);

        let mut truncated = sealed.clone();
        truncated.ciphertext.pop();
        assert_opens_not(&keyring, &truncated, CONTEXT);

        let mut empty = sealed;
        empty.ciphertext.clear();
        assert_opens_not(&keyring, &empty, CONTEXT);
    }

    #[test]
    fn another_context_fails() {
        let (keyring, _) = keyring("k1");
        let sealed = keyring.seal(&secret(), CONTEXT).unwrap();
        assert_opens_not(&keyring, &sealed, b"github_credentials:another-row");
        assert_opens_not(&keyring, &sealed, b"");
    }

    #[test]
    fn another_key_with_the_same_id_fails() {
        let (a, _) = keyring("shared");
        let (b, _) = keyring("shared");
        let sealed = a.seal(&secret(), CONTEXT).unwrap();
        assert_opens_not(&b, &sealed, CONTEXT);
    }

    #[test]
    fn old_keys_open_after_rotation_and_seal_uses_the_new_key() {
        let old_key = Keyring::generate_encoded_key();
        let before = Keyring::from_config(&format!("old1:{old_key}"), None).unwrap();
        let sealed_before = before.seal(&secret(), CONTEXT).unwrap();

        let new_key = Keyring::generate_encoded_key();
        let after =
            Keyring::from_config(&format!("new1:{new_key}"), Some(&format!("old1:{old_key}")))
                .unwrap();
        assert_eq!(
            after.open(&sealed_before, CONTEXT).unwrap().expose_secret(),
            SECRET
        );

        let sealed_after = after.seal(&secret(), CONTEXT).unwrap();
        assert_eq!(sealed_after.key_id, "new1");
        assert_eq!(after.current_key_id(), "new1");
        assert_eq!(after.key_ids(), ["new1", "old1"]);
        // The retired key cannot open what the new one sealed.
        let message = internal_message(before.open(&sealed_after, CONTEXT));
        assert!(message.contains("key `new1` unknown"), "{message}");
    }

    #[test]
    fn a_retired_key_without_kid_keeps_its_derived_id() {
        let old_key = Keyring::generate_encoded_key();
        let before = Keyring::from_config(&old_key, None).unwrap();
        let sealed = before.seal(&secret(), CONTEXT).unwrap();
        assert!(sealed.key_id.starts_with('k') && sealed.key_id.len() == 9);

        let after = Keyring::from_config(&Keyring::generate_encoded_key(), Some(&old_key)).unwrap();
        assert_ne!(after.current_key_id(), sealed.key_id);
        assert_eq!(
            after.open(&sealed, CONTEXT).unwrap().expose_secret(),
            SECRET
        );
    }

    #[test]
    fn an_unknown_key_id_fails_clearly() {
        let (keyring, _) = keyring("k1");
        let mut sealed = keyring.seal(&secret(), CONTEXT).unwrap();
        sealed.key_id = "gone".into();
        let message = internal_message(keyring.open(&sealed, CONTEXT));
        assert!(
            message.starts_with("stored credential could not be decrypted (key `gone` unknown"),
            "{message}"
        );
        assert!(!message.contains(SECRET));
    }

    #[test]
    fn the_derived_key_id_is_deterministic() {
        let key = Keyring::generate_encoded_key();
        let a = Keyring::from_config(&key, None).unwrap();
        let b = Keyring::from_config(&format!("  {}  ", key.trim_end_matches('=')), None).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
        // And a keyring rebuilt from the same setting opens what the first sealed.
        let sealed = a.seal(&secret(), CONTEXT).unwrap();
        assert_eq!(b.open(&sealed, CONTEXT).unwrap().expose_secret(), SECRET);
    }

    #[test]
    fn generated_keys_are_fresh_32_byte_base64() {
        let a = Keyring::generate_encoded_key();
        let b = Keyring::generate_encoded_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 44);
        assert!(Keyring::from_config(&a, None).is_ok());
    }

    #[test]
    fn old_keys_tolerate_whitespace_and_empty_entries() {
        let (k1, k2) = (
            Keyring::generate_encoded_key(),
            Keyring::generate_encoded_key(),
        );
        let keyring = Keyring::from_config(
            &Keyring::generate_encoded_key(),
            Some(&format!(" , old1 : {k1} ,, \n old2:{k2},")),
        )
        .unwrap();
        assert_eq!(keyring.key_ids()[1..], ["old1", "old2"]);
        assert!(Keyring::from_config(&k1, Some("")).is_ok());
        assert!(Keyring::from_config(&k1, Some(" , ")).is_ok());
    }

    /// Each case: the settings, the expected error, and the secret strings that
    /// must not appear in its Display or Debug.
    #[test]
    fn from_config_rejects_bad_settings_without_echoing_them() {
        let good = Keyring::generate_encoded_key();
        let short = encode_key(&[7u8; 31]);
        let long = encode_key(&[7u8; 33]);
        let not_base64 = "c2VjcmV0LWtleS1tYXRlcmlhbA!!~~";
        let cases: Vec<(String, Option<String>, KeyError, Vec<&str>)> = vec![
            ("".into(), None, KeyError::Missing, vec![]),
            (
                "  \n".into(),
                Some(format!("old1:{good}")),
                KeyError::Missing,
                vec![&good],
            ),
            (
                not_base64.into(),
                None,
                KeyError::NotBase64 {
                    which: KeySetting::Current,
                },
                vec![not_base64, "c2VjcmV0"],
            ),
            (
                short.clone(),
                None,
                KeyError::WrongLength {
                    which: KeySetting::Current,
                    got: 31,
                },
                vec![&short],
            ),
            (
                format!("k1:{long}"),
                None,
                KeyError::WrongLength {
                    which: KeySetting::Current,
                    got: 33,
                },
                vec![&long],
            ),
            (
                format!("bad kid!:{good}"),
                None,
                KeyError::BadKeyId {
                    which: KeySetting::Current,
                },
                vec![&good, "bad kid!"],
            ),
            (
                format!(":{good}"),
                None,
                KeyError::BadKeyId {
                    which: KeySetting::Current,
                },
                vec![&good],
            ),
            (
                format!("{}:{good}", "x".repeat(33)),
                None,
                KeyError::BadKeyId {
                    which: KeySetting::Current,
                },
                vec![&good],
            ),
            (
                format!("same:{good}"),
                Some(format!("same:{short}")),
                // Length is checked before duplicates, per entry.
                KeyError::WrongLength {
                    which: KeySetting::Old { entry: 1 },
                    got: 31,
                },
                vec![&good, &short],
            ),
            (
                format!("same:{good}"),
                Some(format!("other:{good}, same:{good}")),
                KeyError::DuplicateKeyId("same".into()),
                vec![&good],
            ),
            (
                good.clone(),
                Some(format!("a:{good},a:{good}")),
                KeyError::DuplicateKeyId("a".into()),
                vec![&good],
            ),
            (
                good.clone(),
                Some(format!("a:{good},,{not_base64}")),
                KeyError::NotBase64 {
                    which: KeySetting::Old { entry: 3 },
                },
                vec![&good, not_base64, "c2VjcmV0"],
            ),
        ];

        for (current, old, expected, secrets) in cases {
            let err = Keyring::from_config(&current, old.as_deref()).unwrap_err();
            assert_eq!(err, expected, "{current:?} / {old:?}");
            let display = err.to_string();
            let debug = format!("{err:?}");
            for secret in secrets {
                assert!(!display.contains(secret), "{display}");
                assert!(!debug.contains(secret), "{debug}");
            }
            let which = match &expected {
                KeyError::NotBase64 { which }
                | KeyError::WrongLength { which, .. }
                | KeyError::BadKeyId { which } => Some(*which),
                _ => None,
            };
            match which {
                Some(KeySetting::Current) => {
                    assert!(display.contains("PMHUB_ENCRYPTION_KEY"), "{display}")
                }
                Some(KeySetting::Old { .. }) => {
                    assert!(display.contains("PMHUB_ENCRYPTION_OLD_KEYS"), "{display}")
                }
                None => assert!(display.contains("PMHUB_ENCRYPTION_KEY"), "{display}"),
            }
        }
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let current = Keyring::generate_encoded_key();
        let old = Keyring::generate_encoded_key();
        let keyring = Keyring::from_config(&current, Some(&format!("old1:{old}"))).unwrap();
        let debug = format!("{keyring:?}");
        assert_eq!(
            debug,
            format!(
                "Keyring {{ current: {:?}, old: [\"old1\"] }}",
                keyring.current_key_id()
            )
        );
        for key in [&current, &old] {
            assert!(!debug.contains(key.as_str()), "{debug}");
            assert!(!debug.contains(&key[..8]), "{debug}");
        }
        let alternate = format!("{keyring:#?}");
        assert!(!alternate.contains(current.as_str()) && !alternate.contains(old.as_str()));
    }

    #[test]
    fn keyring_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Keyring>();
        let _: &dyn SecretCipher = &keyring("k1").0;
    }
}
