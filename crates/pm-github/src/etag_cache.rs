//! Conditional requests: the `ETag` of each list page fetched, with the page as it
//! was parsed, so a `304 Not Modified` (which costs no rate limit) can be answered
//! from memory.
//!
//! Keys are a keyed hash of (token, URL): pages are per token (two tokens may see
//! different repositories), yet no token is kept in memory in plain form. The hash
//! keys are random per cache, so the values are useless outside this process.
//!
//! **Bound and eviction (ADR 0024).** The cache is bounded by the memory its pages
//! hold (`max_bytes`, 64 MiB by default) and by a count of entries (`max_entries`,
//! 10,000, which caps the bookkeeping). A page weighs what the parsed page keeps in
//! memory (its issues' strings and vectors), not the length of GitHub's body: the
//! body carries users, URLs and reactions that parsing drops, and weighing by it
//! overstated a page of issues some five to ten times. When full, the **least
//! recently used** page goes first: a page is used when it is stored and each time
//! a `304` is answered from it. Pages that never change are exactly the ones that
//! earn 304s and are never stored again, so evicting in insertion order (FIFO, as
//! before) threw out the most useful pages first; with LRU, a repository that is
//! re-synced or reconciled keeps its pages while one-off imports age out.
//!
//! A cold cache (another instance, a restart, an eviction) is never wrong: the
//! request is then unconditional, GitHub answers `200` with the page, and it is
//! charged to the rate limit. So the cache stays per instance.

use pm_integrations::{GithubIssue, GithubRepo, IssuePage};
use secrecy::{ExposeSecret, SecretString};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;
use std::sync::{Arc, Mutex, PoisonError};
use url::Url;

/// Identifies one (token, URL) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey(u64);

pub(crate) struct EtagCache {
    hasher: RandomState,
    max_entries: usize,
    /// Bound on the summed weights (what the pages hold in memory), so a few huge
    /// pages cannot hold gigabytes: the entry count alone does not bound memory.
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<CacheKey, Entry>,
    /// Last use → key, least recently used first.
    by_use: BTreeMap<u64, CacheKey>,
    /// The clock of uses (one tick per store or hit).
    clock: u64,
    bytes: usize,
}

struct Entry {
    etag: String,
    /// Any page type; each URL is only ever read as one type.
    page: Arc<dyn Any + Send + Sync>,
    weight: usize,
    /// The tick of its last use (its key in `Inner::by_use`).
    used: u64,
}

/// What an entry costs besides its page: the maps' slots, the `Arc`, the ETag.
const ENTRY_OVERHEAD: usize = 128;

impl EtagCache {
    pub(crate) const DEFAULT_MAX_ENTRIES: usize = 10_000;
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
    /// task may have replaced it since the request was sent). A hit is a use: the
    /// page moves to the back of the eviction order.
    pub(crate) fn page<T: Clone + 'static>(&self, key: CacheKey, etag: &str) -> Option<T> {
        let mut inner = self.lock();
        let page = {
            let entry = inner.entries.get(&key).filter(|e| e.etag == etag)?;
            entry.page.downcast_ref::<T>().cloned()?
        };
        inner.touch(key);
        Some(page)
    }

    /// Stores `page` under `etag`, replacing what `key` held. `raw_len` (the body's
    /// length) is its weight only for a page type [`held_bytes`] does not know.
    pub(crate) fn insert<T: Send + Sync + 'static>(
        &self,
        key: CacheKey,
        etag: String,
        page: T,
        raw_len: usize,
    ) {
        let weight = held_bytes(&page)
            .unwrap_or(raw_len)
            .saturating_add(etag.len() + ENTRY_OVERHEAD);
        let mut inner = self.lock();
        inner.remove(key);
        if weight > self.max_bytes || self.max_entries == 0 {
            return;
        }
        while inner.entries.len() >= self.max_entries || inner.bytes + weight > self.max_bytes {
            let Some((_, oldest)) = inner.by_use.first_key_value().map(|(t, k)| (*t, *k)) else {
                break;
            };
            inner.remove(oldest);
        }
        inner.clock += 1;
        let used = inner.clock;
        inner.bytes += weight;
        inner.by_use.insert(used, key);
        inner.entries.insert(
            key,
            Entry {
                etag,
                page: Arc::new(page),
                weight,
                used,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
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
            self.by_use.remove(&old.used);
        }
    }

    fn touch(&mut self, key: CacheKey) {
        self.clock += 1;
        let now = self.clock;
        if let Some(entry) = self.entries.get_mut(&key) {
            self.by_use.remove(&entry.used);
            entry.used = now;
            self.by_use.insert(now, key);
        }
    }
}

/// What a parsed page keeps in memory (an estimate from its parts: the structs and
/// the heap buffers of their strings and vectors), for the page types this client
/// caches; `None` for any other.
fn held_bytes(page: &dyn Any) -> Option<usize> {
    if let Some(page) = page.downcast_ref::<IssuePage>() {
        let issues: usize = page.issues.iter().map(issue_bytes).sum();
        return Some(size_of::<IssuePage>() + issues + opt_string(page.next.as_ref()));
    }
    if let Some(page) = page.downcast_ref::<crate::wire::RepoPage>() {
        let repos: usize = page.repos.iter().map(repo_bytes).sum();
        return Some(size_of::<crate::wire::RepoPage>() + repos + opt_string(page.next.as_ref()));
    }
    None
}

fn issue_bytes(issue: &GithubIssue) -> usize {
    size_of::<GithubIssue>()
        + issue.title.capacity()
        + opt_string(issue.body.as_ref())
        + opt_string(issue.state_reason.as_ref())
        + issue.labels.capacity() * size_of::<String>()
        + issue.labels.iter().map(String::capacity).sum::<usize>()
        + issue.html_url.capacity()
        + opt_string(issue.repo_full_name.as_ref())
}

fn repo_bytes(repo: &GithubRepo) -> usize {
    size_of::<GithubRepo>()
        + repo.full_name.capacity()
        + repo.html_url.capacity()
        + opt_string(repo.default_branch.as_ref())
}

fn opt_string(s: Option<&String>) -> usize {
    s.map_or(0, String::capacity)
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

    /// The weight of a page of `raw` bytes whose type the cache does not know.
    fn w(raw: usize, etag: &str) -> usize {
        raw + etag.len() + ENTRY_OVERHEAD
    }

    #[test]
    fn keyed_by_token_and_url() {
        let cache = EtagCache::new(10, 10_000);
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
    fn bounded_by_entries_least_recently_used_out_first() {
        let cache = EtagCache::new(3, 100_000);
        let t = token("t");
        for n in 0..3 {
            cache.insert(cache.key(&t, &url(n)), format!("e{n}"), n, 1);
        }
        // Page 0 is the oldest stored but answers a 304 now: page 1 is the least
        // recently used.
        assert_eq!(cache.page::<usize>(cache.key(&t, &url(0)), "e0"), Some(0));
        cache.insert(cache.key(&t, &url(3)), "e3".into(), 3usize, 1);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.etag(cache.key(&t, &url(1))), None, "LRU evicted");
        assert_eq!(cache.etag(cache.key(&t, &url(0))).as_deref(), Some("e0"));
        cache.insert(cache.key(&t, &url(4)), "e4".into(), 4usize, 1);
        assert_eq!(cache.etag(cache.key(&t, &url(2))), None);
        assert_eq!(cache.etag(cache.key(&t, &url(0))).as_deref(), Some("e0"));
        assert_eq!(cache.etag(cache.key(&t, &url(4))).as_deref(), Some("e4"));
    }

    #[test]
    fn a_miss_on_a_replaced_etag_is_not_a_use() {
        let cache = EtagCache::new(2, 100_000);
        let t = token("t");
        let (k0, k1) = (cache.key(&t, &url(0)), cache.key(&t, &url(1)));
        cache.insert(k0, "e0".into(), 0usize, 1);
        cache.insert(k1, "e1".into(), 1usize, 1);
        assert_eq!(cache.page::<usize>(k0, "stale"), None);
        cache.insert(cache.key(&t, &url(2)), "e2".into(), 2usize, 1);
        assert_eq!(cache.etag(k0), None, "page 0 was not used: it went first");
        assert!(cache.etag(k1).is_some());
    }

    #[test]
    fn bounded_by_bytes_and_replacing_does_not_leak_weight() {
        let cache = EtagCache::new(100, 2 * w(60, "e") - 1);
        let t = token("t");
        let k = cache.key(&t, &url(0));
        for _ in 0..10 {
            cache.insert(k, "e".into(), 0u8, 60);
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), w(60, "e"));
        cache.insert(cache.key(&t, &url(1)), "e".into(), 0u8, 60);
        assert_eq!(cache.len(), 1, "two pages do not fit: the older goes");
        assert_eq!(cache.etag(k), None);
        assert_eq!(cache.bytes(), w(60, "e"));
        cache.insert(cache.key(&t, &url(2)), "e".into(), 0u8, 2 * w(60, "e"));
        assert_eq!(cache.etag(cache.key(&t, &url(2))), None, "too big to cache");
    }

    /// A page of three issues as the real GitHub sent it (recorded).
    const RECORDED_PAGE: &[u8] = include_bytes!(
        "../../../tests/fixtures/github/rest/recorded/list-repo-issues.per_page-3.page-1-of-5.200.body.json"
    );

    #[test]
    fn an_issue_page_weighs_what_it_holds_not_the_body_it_came_in() {
        let next = "https://api.github.com/repositories/1/issues?per_page=3&page=2";
        let page = crate::wire::parse_issue_page(RECORDED_PAGE, Some(next.into())).unwrap();
        assert_eq!(page.issues.len(), 3);
        let held = held_bytes(&page).expect("an issue page is weighed");
        let floor: usize = page
            .issues
            .iter()
            .map(|i| size_of::<GithubIssue>() + i.title.len() + i.html_url.len())
            .sum();
        assert!(held >= floor, "{held} < {floor}");
        // GitHub's body carries users, URLs and reactions that parsing drops.
        assert!(
            held * 4 < RECORDED_PAGE.len(),
            "{held} vs {} raw",
            RECORDED_PAGE.len()
        );
        let cache = EtagCache::new(10, 1024 * 1024);
        let k = cache.key(&token("t"), &url(1));
        let copy = page.clone();
        // (A clone's strings have no spare capacity: weigh the page that is stored.)
        let held_copy = held_bytes(&copy).unwrap();
        cache.insert(k, "e".into(), copy, RECORDED_PAGE.len());
        assert_eq!(cache.bytes(), held_copy + 1 + ENTRY_OVERHEAD);
        assert_eq!(cache.page::<IssuePage>(k, "e"), Some(page));
    }
}
