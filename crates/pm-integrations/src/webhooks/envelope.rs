//! What [`super::WebhookService::receive`] reads of a body: `action`,
//! `repository.id` and `repository.full_name`, borrowed from the body unless an
//! escape forces a copy. Every other value is walked by serde_json without being
//! built (no `Value` tree, no `String` per string or key). Every value goes through
//! `deserialize_any`, as it does for a `serde_json::Value`, so exactly the bodies
//! `serde_json::from_slice::<Value>` accepted are accepted — the same grammar, UTF-8
//! and escapes, number range, nesting limit (128) — and the fields mean what
//! `Value::as_str` / `Value::as_i64` made of them (the last of duplicate keys wins).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The fields of a payload that `receive` stores beside it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Envelope<'a> {
    /// `action`, when a string.
    pub action: Option<Cow<'a, str>>,
    /// `repository.id`, when an integer within `i64`.
    pub repository_id: Option<i64>,
    /// `repository.full_name`, when a string.
    pub repo_full_name: Option<Cow<'a, str>>,
}

/// Parses `text` as one JSON value (whitespace around it allowed): the envelope of
/// an object, `None` for any other JSON value.
pub(super) fn parse(text: &str) -> serde_json::Result<Option<Envelope<'_>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let found = Want::Top.deserialize(&mut de)?;
    de.end()?;
    Ok(match found {
        Found::Object(envelope) => Some(envelope),
        _ => None,
    })
}

/// What is looked for in the value at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The payload: an object with `action` and `repository`.
    Top,
    /// `repository`: an object with `id` and `full_name`.
    Repository,
    Str,
    Int,
    /// A value checked and dropped.
    Nothing,
}

enum Found<'a> {
    Nothing,
    Str(Cow<'a, str>),
    Int(i64),
    Object(Envelope<'a>),
}

impl<'a> Found<'a> {
    fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Found::Str(s) => Some(s),
            _ => None,
        }
    }

    fn into_int(self) -> Option<i64> {
        match self {
            Found::Int(n) => Some(n),
            _ => None,
        }
    }
}

/// The keys looked for, matched without allocating.
#[derive(Debug, Clone, Copy)]
enum Key {
    Action,
    Repository,
    Id,
    FullName,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "action" => Key::Action,
                    "repository" => Key::Repository,
                    "id" => Key::Id,
                    "full_name" => Key::FullName,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> DeserializeSeed<'de> for Want {
    type Value = Found<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Found<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Want {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found<'de>, E> {
        Ok(Found::Nothing)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Found<'de>, E> {
        Ok(if self == Want::Int {
            Found::Int(n)
        } else {
            Found::Nothing
        })
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Found<'de>, E> {
        Ok(match i64::try_from(n) {
            Ok(n) if self == Want::Int => Found::Int(n),
            _ => Found::Nothing,
        })
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found<'de>, E> {
        Ok(Found::Nothing)
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Found<'de>, E> {
        Ok(if self == Want::Str {
            Found::Str(Cow::Borrowed(s))
        } else {
            Found::Nothing
        })
    }

    /// A string with escapes, unescaped into serde_json's scratch buffer.
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Found<'de>, E> {
        Ok(if self == Want::Str {
            Found::Str(Cow::Owned(s.to_string()))
        } else {
            Found::Nothing
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Found<'de>, E> {
        Ok(Found::Nothing)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found<'de>, A::Error> {
        while seq.next_element_seed(Want::Nothing)?.is_some() {}
        Ok(Found::Nothing)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found<'de>, A::Error> {
        let mut envelope = Envelope::default();
        while let Some(key) = map.next_key::<Key>()? {
            let want = match (self, key) {
                (Want::Top, Key::Action) | (Want::Repository, Key::FullName) => Want::Str,
                (Want::Top, Key::Repository) => Want::Repository,
                (Want::Repository, Key::Id) => Want::Int,
                _ => Want::Nothing,
            };
            let found = map.next_value_seed(want)?;
            match (self, key) {
                (Want::Top, Key::Action) => envelope.action = found.into_str(),
                (Want::Top, Key::Repository) => {
                    let repository = match found {
                        Found::Object(r) => r,
                        _ => Envelope::default(),
                    };
                    envelope.repository_id = repository.repository_id;
                    envelope.repo_full_name = repository.repo_full_name;
                }
                (Want::Repository, Key::Id) => envelope.repository_id = found.into_int(),
                (Want::Repository, Key::FullName) => envelope.repo_full_name = found.into_str(),
                _ => {}
            }
        }
        Ok(match self {
            Want::Top | Want::Repository => Found::Object(envelope),
            _ => Found::Nothing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// `action`, `repository.id`, `repository.full_name` of an object; `None` for
    /// another JSON value; `Err` for a refused body.
    type Read = Result<Option<(Option<String>, Option<i64>, Option<String>)>, ()>;

    /// What the `Value` parse that this replaces made of `body`.
    fn by_value(body: &str) -> Read {
        let v: Value = serde_json::from_str(body).map_err(|_| ())?;
        if !v.is_object() {
            return Ok(None);
        }
        Ok(Some((
            v.get("action").and_then(Value::as_str).map(str::to_string),
            v.pointer("/repository/id").and_then(Value::as_i64),
            v.pointer("/repository/full_name")
                .and_then(Value::as_str)
                .map(str::to_string),
        )))
    }

    fn by_envelope(body: &str) -> Read {
        let e = parse(body).map_err(|_| ())?;
        Ok(e.map(|e| {
            (
                e.action.map(Cow::into_owned),
                e.repository_id,
                e.repo_full_name.map(Cow::into_owned),
            )
        }))
    }

    #[test]
    fn reads_what_the_value_parse_read_and_refuses_what_it_refused() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        let shallow = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        let cases: Vec<&str> = vec![
            r#"{"action":"closed","repository":{"id":99,"full_name":"Acme/Widgets"}}"#,
            r#" {"repository":{"full_name":"A\/b\u00e9","id":-3,"owner":{"id":1}},"action":"x\"y"} "#,
            r#"{"action":7,"repository":{"id":1.0,"full_name":null}}"#,
            r#"{"action":["closed"],"repository":"Acme/Widgets"}"#,
            r#"{"repository":{"id":18446744073709551615}}"#,
            r#"{"repository":{"id":9223372036854775807,"id":5}}"#,
            r#"{"action":"a","action":"b","repository":{"id":1},"repository":[]}"#,
            r#"{"issue":{"repository":{"id":1},"action":"nested ones do not count"}}"#,
            r#"{"zen":"\u0000","big":1e308,"neg":-0,"t":true,"f":false,"n":null}"#,
            "{}",
            "[1]",
            "\"string\"",
            "12",
            "null",
            &shallow,
            // Refused: not JSON, or JSON that serde_json's Value refuses.
            &deep,
            "",
            "payload=%7B%7D",
            r#"{"a":1}x"#,
            r#"{"a":1,}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":1e400}"#,
            r#"{"a":01}"#,
            "{\"a\":\"tab\tinside\"}",
            r#"{"a":"unterminated}"#,
            r#"{a:1}"#,
        ];
        for body in cases {
            assert_eq!(by_envelope(body), by_value(body), "{body}");
        }
        assert!(by_value(&deep).is_err(), "the nesting limit applies");
        assert!(by_value(&shallow).is_ok());
    }

    #[test]
    fn unescaped_strings_are_borrowed_from_the_body() {
        let body = r#"{"action":"edited","repository":{"id":1,"full_name":"o\/r"}}"#;
        let e = parse(body).unwrap().unwrap();
        assert!(matches!(e.action, Some(Cow::Borrowed("edited"))));
        assert!(matches!(e.repo_full_name.as_deref(), Some("o/r")));
        assert!(matches!(e.repo_full_name, Some(Cow::Owned(_))), "unescaped");
    }

    #[test]
    fn the_fixtures_read_as_before() {
        for name in [
            "issues.edited.json",
            "issues.opened.with-organization.json",
            "ping.json",
        ] {
            let path = format!(
                "{}/../../tests/fixtures/github/webhooks/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let body = std::fs::read_to_string(&path).unwrap();
            let read = by_envelope(&body).unwrap().unwrap();
            assert_eq!(Ok(Some(read.clone())), by_value(&body), "{name}");
            assert!(read.1.is_some() && read.2.is_some(), "{name}: {read:?}");
        }
    }
}
