//! Keyset pagination: a bounded page size and a cursor that names the last row a
//! client saw. Clients treat cursors as opaque; they are the sort key itself (a UUID, a
//! task number), so the API can state their exact shape in its OpenAPI document and a
//! cursor that matches it is never refused.

use crate::Error;
use serde::Serialize;

/// A page size in `1..=200`, 50 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// The largest page size.
    pub const MAX: u32 = 200;
    /// The page size when none is given.
    pub const DEFAULT: u32 = 50;

    /// A limit from a query parameter: the default when absent, else 1..=MAX.
    pub fn new(value: Option<i64>) -> Result<Self, Error> {
        match value {
            None => Ok(Self(Self::DEFAULT)),
            Some(v) if (1..=i64::from(Self::MAX)).contains(&v) => Ok(Self(v as u32)),
            Some(_) => Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", Self::MAX),
            )),
        }
    }

    /// The page size.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// An opaque position: the sort key of the last item of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// The longest cursor accepted (a UUID has 36 characters).
    pub const MAX_LEN: usize = 64;

    /// A cursor naming `key` (the sort key of the last row a client saw).
    pub fn from_key(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Decodes a cursor a client sent back.
    pub fn decode(encoded: &str) -> Result<Self, Error> {
        let valid = (1..=Self::MAX_LEN).contains(&encoded.len())
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(Self(encoded.to_string()))
        } else {
            Err(Error::invalid("cursor", "is not a cursor this API issued"))
        }
    }

    /// The opaque form sent to clients.
    pub fn encode(&self) -> String {
        self.0.clone()
    }

    /// The sort key.
    pub fn key(&self) -> &str {
        &self.0
    }

    /// The key parsed as the sort key type it was made from (an id, a number).
    pub fn parse_key<T: std::str::FromStr>(&self) -> Result<T, Error> {
        self.0
            .parse()
            .map_err(|_| Error::invalid("cursor", "is not a cursor this API issued"))
    }
}

/// One page of results and, when more exist, the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items, at most the limit.
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only tells that a next
    /// page exists and is dropped.
    pub fn from_rows(mut rows: Vec<T>, limit: Limit, key: impl Fn(&T) -> String) -> Self {
        let has_more = rows.len() > limit.get() as usize;
        rows.truncate(limit.get() as usize);
        let next_cursor = if has_more {
            rows.last().map(|last| Cursor::from_key(key(last)).encode())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    /// The same page with its items converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(Limit::new(None).unwrap().get(), 50);
        assert_eq!(Limit::new(Some(1)).unwrap().get(), 1);
        assert_eq!(Limit::new(Some(200)).unwrap().get(), 200);
        assert!(Limit::new(Some(0)).is_err());
        assert!(Limit::new(Some(100_000)).is_err());
        assert!(Limit::new(Some(-1)).is_err());
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor::from_key("42");
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("!!not base64!!").is_err());
        assert_eq!(Cursor::from_key("42").parse_key::<i64>().unwrap(), 42);
        assert!(Cursor::from_key("x").parse_key::<i64>().is_err());
    }

    #[test]
    fn page_has_cursor_only_when_more_rows_exist() {
        let limit = Limit::new(Some(2)).unwrap();
        let page = Page::from_rows(vec![1, 2, 3], limit, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            Cursor::decode(page.next_cursor.as_deref().unwrap())
                .unwrap()
                .key(),
            "2"
        );
        let last = Page::from_rows(vec![1, 2], limit, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }
}
