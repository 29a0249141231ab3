//! Conditional requests: the `ETag` of each list page fetched, with the page as it
//! was parsed, so a `304 Not Modified` (which costs no rate limit) can be answered
//! from memory.
//!
//! Keys are a keyed hash of (token, URL): pages are per token (two tokens may see
//! different repositories), yet no token is kept in memory in plain form. The hash
//! keys are random per cache, so the values are useless outside this process.

use secrecy::{ExposeSecret, SecretString};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use url::Url;

/// Identifies one (token, URL) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey(u64);

pub(crate) struct EtagCache {
    hasher: RandomState,
    max_entries: usize,
    /// Bound on the summed weights (raw body sizes), so a few huge pages cannot
    /// hold gigabytes: the entry count alone does not bound memory.
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<CacheKey, Entry>,
    /// Insertion order, oldest first: simple FIFO eviction.
    order: VecDeque<CacheKey>,
    bytes: usize,
}

struct Entry {
    etag: String,
    /// Any page type; each URL is only ever read as one type.
    page: Arc<dyn Any + Send + Sync>,
    weight: usize,
}

impl EtagCache {
    pub(crate) const DEFAULT_MAX_ENTRIES: usize = 1_000;
    pub(crate) const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            max_entries,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn key(&self, token: &SecretString, url: &Url) -> CacheKey {
        CacheKey(self.hasher.hash_one((token.expose_secret(), url.as_str())))
    }

    /// The ETag to send as `If-None-Match`, if the page is cached.
    pub(crate) fn etag(&self, key: CacheKey) -> Option<String> {
        self.lock().entries.get(&key).map(|e| e.etag.clone())
    }

    /// The cached page, only if it is still the one stored under `etag` (another
    /// task may have replaced it since the request was sent).
    pub(crate) fn page<T: Clone + 'static>(&self, key: CacheKey, etag: &str) -> Option<T> {
        let inner = self.lock();
        let entry = inner.entries.get(&key).filter(|e| e.etag == etag)?;
        entry.page.downcast_ref::<T>().cloned()
    }

    pub(crate) fn insert<T: Send + Sync + 'static>(
        &self,
        key: CacheKey,
        etag: String,
        page: T,
        weight: usize,
    ) {
        let mut inner = self.lock();
        inner.remove(key);
        if weight > self.max_bytes || self.max_entries == 0 {
            return;
        }
        while inner.entries.len() >= self.max_entries || inner.bytes + weight > self.max_bytes {
            let Some(oldest) = inner.order.front().copied() else {
                break;
            };
            inner.remove(oldest);
        }
        inner.bytes += weight;
        inner.order.push_back(key);
        inner.entries.insert(
            key,
            Entry {
                etag,
                page: Arc::new(page),
                weight,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a
        // way that matters for a cache, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn remove(&mut self, key: CacheKey) {
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.weight;
            // O(n) with n ≤ max_entries (1,000): cheap next to an HTTP request.
            self.order.retain(|k| *k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    fn url(n: usize) -> Url {
        Url::parse(&format!("https://api.github.com/x?page={n}")).unwrap()
    }

    #[test]
    fn keyed_by_token_and_url() {
        let cache = EtagCache::new(10, 1_000);
        let a = cache.key(&token("token-a"), &url(1));
        cache.insert(a, "\"e1\"".into(), vec![1, 2, 3], 10);
        assert_eq!(cache.etag(a).as_deref(), Some("\"e1\""));
        assert_eq!(cache.page::<Vec<i32>>(a, "\"e1\""), Some(vec![1, 2, 3]));
        assert_eq!(cache.page::<Vec<i32>>(a, "\"other\""), None);
        assert_eq!(
            cache.page::<String>(a, "\"e1\""),
            None,
            "wrong type is a miss"
        );
        assert_eq!(cache.etag(cache.key(&token("token-b"), &url(1))), None);
        assert_eq!(cache.etag(cache.key(&token("token-a"), &url(2))), None);
    }

    #[test]
    fn bounded_by_entries_oldest_out_first() {
        let cache = EtagCache::new(3, 1_000);
        let t = token("t");
        for n in 0..5 {
            cache.insert(cache.key(&t, &url(n)), format!("e{n}"), n, 1);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.etag(cache.key(&t, &url(0))), None);
        assert_eq!(cache.etag(cache.key(&t, &url(1))), None);
        assert_eq!(cache.etag(cache.key(&t, &url(4))).as_deref(), Some("e4"));
    }

    #[test]
    fn bounded_by_bytes_and_replacing_does_not_leak_weight() {
        let cache = EtagCache::new(100, 100);
        let t = token("t");
        let k = cache.key(&t, &url(0));
        for _ in 0..10 {
            cache.insert(k, "e".into(), 0u8, 60);
        }
        assert_eq!(cache.len(), 1);
        cache.insert(cache.key(&t, &url(1)), "e".into(), 0u8, 60);
        assert_eq!(cache.len(), 1, "60 + 60 > 100: the older page goes");
        assert_eq!(cache.etag(k), None);
        cache.insert(cache.key(&t, &url(2)), "e".into(), 0u8, 101);
        assert_eq!(cache.etag(cache.key(&t, &url(2))), None, "too big to cache");
    }
}
