//! Small helpers shared by state and rendering: clocks, GitHub-style node ids and timestamps,
//! ETags, and a JSON object writer for the hot issue-listing path.

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, DefaultHasher, Hash, Hasher},
    io::Write as _,
    sync::LazyLock,
};

use base64::Engine as _;
use time::OffsetDateTime;

/// Current time as Unix seconds (GitHub's timestamps have second precision).
pub(crate) fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) fn to_datetime(secs: i64) -> OffsetDateTime {
    // Our timestamps are derived from the wall clock, so they are always in range; the fallback
    // only guards against a nonsensical clock.
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the exact form GitHub uses.
pub(crate) fn format_ts(secs: i64) -> String {
    let t = to_datetime(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `since`-style timestamps: RFC 3339 (`2024-05-01T10:00:00Z`, offsets, fractions) or a
/// bare date (`2024-05-01`, midnight UTC), both of which GitHub accepts.
pub(crate) fn parse_ts(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let date =
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// Legacy GitHub node id: base64 of `"0{len(type)}:{Type}{id}"`, e.g. `MDQ6VXNlcjE=`
/// (`04:User1`) or `MDEwOlJlcG9zaXRvcnkx` (`010:Repository1`).
pub(crate) fn node_id(kind: &str, id: u64) -> String {
    let raw = format!("0{}:{kind}{id}", kind.len());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Differs per process so that ETags from an earlier run of the fake never validate against a
/// new one whose counters happen to line up.
static EPOCH: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(0u8));

/// A strong ETag (quoted, 64 hex digits like GitHub's) over a key that identifies the content.
/// Keys are cheap (ids, versions, query) so that a `304` costs no rendering.
pub(crate) fn etag_for(key: impl Hash) -> String {
    let mut out = String::with_capacity(66);
    out.push('"');
    for salt in 0u8..4 {
        let mut h = DefaultHasher::new();
        (*EPOCH, salt).hash(&mut h);
        key.hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.push('"');
    out
}

/// Whether an `If-None-Match` header value matches `etag` (weak comparison, like GitHub).
pub(crate) fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let wanted = bare(etag);
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == wanted)
}

/// Percent-encodes a path segment (label names may hold spaces and the like).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The contents of a JSON string literal for `s`, without the surrounding quotes. Used to escape
/// URL prefixes once per page instead of once per field.
pub(crate) fn json_escaped(s: &str) -> String {
    let quoted = serde_json::Value::from(s).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Appends a JSON object field by field to a byte buffer. Used where building a
/// `serde_json::Value` per item would dominate the cost (issue pages of 100 items).
pub(crate) struct ObjWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// Already-serialised JSON fragment(s) such as `"a":1,"b":null`, written as they are.
    pub(crate) fn fields(&mut self, raw: &[u8]) {
        if raw.is_empty() {
            return;
        }
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(raw);
    }

    pub(crate) fn raw(&mut self, key: &str, raw_json: &[u8]) {
        self.key(key).extend_from_slice(raw_json);
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        // Writing to a Vec cannot fail and a &str always serialises.
        let _ = serde_json::to_writer(&mut *out, value);
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    /// A string made of pre-escaped parts (see [`json_escaped`]) plus plain ASCII pieces.
    pub(crate) fn str_parts(&mut self, key: &str, parts: &[&str]) {
        let out = self.key(key);
        out.push(b'"');
        for p in parts {
            out.extend_from_slice(p.as_bytes());
        }
        out.push(b'"');
    }

    pub(crate) fn u64(&mut self, key: &str, value: u64) {
        let out = self.key(key);
        let _ = write!(out, "{value}");
    }

    pub(crate) fn null(&mut self, key: &str) {
        self.key(key).extend_from_slice(b"null");
    }

    pub(crate) fn ts(&mut self, key: &str, secs: Option<i64>) {
        match secs {
            Some(s) => self.str_parts(key, &[&format_ts(s)]),
            None => self.null(key),
        }
    }

    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_match_githubs_legacy_format() {
        assert_eq!(node_id("User", 1), "MDQ6VXNlcjE=");
        assert_eq!(node_id("Issue", 1), "MDU6SXNzdWUx");
        assert_eq!(
            node_id("Repository", 1296269),
            "MDEwOlJlcG9zaXRvcnkxMjk2MjY5"
        );
        assert_eq!(node_id("Label", 208045946), "MDU6TGFiZWwyMDgwNDU5NDY=");
        assert_eq!(node_id("Organization", 1), "MDEyOk9yZ2FuaXphdGlvbjE=");
    }

    #[test]
    fn timestamps_round_trip_in_githubs_format() {
        let s = format_ts(1_658_205_556);
        assert_eq!(s, "2022-07-19T04:39:16Z");
        assert_eq!(parse_ts(&s), Some(1_658_205_556));
        assert_eq!(parse_ts("2022-07-19T06:39:16+02:00"), Some(1_658_205_556));
        assert_eq!(parse_ts("2022-07-19"), Some(1_658_188_800));
        assert_eq!(parse_ts("yesterday"), None);
    }

    #[test]
    fn etags_are_strong_stable_and_matchable() {
        let a = etag_for((1u64, 2u64, "q"));
        assert_eq!(a, etag_for((1u64, 2u64, "q")));
        assert_ne!(a, etag_for((1u64, 3u64, "q")));
        assert_eq!(a.len(), 66);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert!(etag_matches(&a, &a));
        assert!(etag_matches(&format!("W/{a}, \"x\""), &a));
        assert!(etag_matches("*", &a));
        assert!(!etag_matches("\"other\"", &a));
    }

    #[test]
    fn obj_writer_produces_valid_json() {
        let mut out = Vec::new();
        let mut w = ObjWriter::begin(&mut out);
        w.u64("id", 7);
        w.fields(br#""locked":false,"x":null"#);
        w.str("title", "a \"quoted\" title");
        w.opt_str("body", None);
        w.ts("at", Some(0));
        w.end();
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["title"], "a \"quoted\" title");
        assert_eq!(v["at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["locked"], false);
        assert_eq!(v["id"], 7);
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("good first issue"), "good%20first%20issue");
        assert_eq!(encode_segment("bug"), "bug");
    }
}
