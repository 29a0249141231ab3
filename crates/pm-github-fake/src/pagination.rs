//! `page`/`per_page` handling and GitHub's `Link` header.
//!
//! Format, from the recorded responses (`list-repo-issues.per_page-3.page-*.meta.json`):
//! `<URL?per_page=3&page=1>; rel="prev", <…page=3>; rel="next", <…page=5>; rel="last",
//! <…page=1>; rel="first"`, rels in that order, each present only when it applies; the URL keeps
//! the request's other query parameters as sent and puts `page` last. No header at all when
//! everything fits on one page.

use std::ops::Range;

pub(crate) const DEFAULT_PER_PAGE: usize = 30;
pub(crate) const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Paging {
    pub per_page: usize,
    /// 1-based.
    pub page: usize,
}

impl Paging {
    /// Lenient like GitHub: missing, zero or garbage values fall back to the defaults, and
    /// `per_page` above 100 is clamped to 100.
    pub(crate) fn parse(per_page: Option<&str>, page: Option<&str>) -> Self {
        let per_page = per_page
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE));
        let page = page
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(1);
        Self { per_page, page }
    }

    /// Number of pages for `total` items (at least 1).
    pub(crate) fn last_page(&self, total: usize) -> usize {
        total.div_ceil(self.per_page).max(1)
    }

    /// Slice of the `total` items this page covers (empty past the end).
    pub(crate) fn range(&self, total: usize) -> Range<usize> {
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        let end = start.saturating_add(self.per_page).min(total);
        start..end
    }

    /// The `Link` header for this page of `total` items, or `None` when there is only one page.
    /// `url` is the absolute URL without query; `raw_query` is the request's query as sent.
    pub(crate) fn link_header(&self, url: &str, raw_query: &str, total: usize) -> Option<String> {
        let last = self.last_page(total);
        if last <= 1 && self.page <= 1 {
            return None;
        }
        let kept: Vec<&str> = raw_query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| pair.split('=').next() != Some("page"))
            .collect();
        let href = |page: usize| {
            let mut q = kept.join("&");
            if !q.is_empty() {
                q.push('&');
            }
            format!("<{url}?{q}page={page}>")
        };
        let mut rels = Vec::with_capacity(4);
        if self.page > 1 {
            rels.push(format!("{}; rel=\"prev\"", href(self.page - 1)));
        }
        if self.page < last {
            rels.push(format!("{}; rel=\"next\"", href(self.page + 1)));
        }
        // GitHub leaves `last` out on the last page itself; past the end it still helps.
        if self.page != last {
            rels.push(format!("{}; rel=\"last\"", href(last)));
        }
        if self.page > 1 {
            rels.push(format!("{}; rel=\"first\"", href(1)));
        }
        Some(rels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://api.github.com/repositories/515435940/issues";

    /// The five recorded pages of 13 issues at `per_page=3`, byte for byte.
    #[test]
    fn matches_the_recorded_link_headers() {
        let recorded = [
            (
                1,
                "per_page=3",
                r#"<https://api.github.com/repositories/515435940/issues?per_page=3&page=2>; rel="next", <https://api.github.com/repositories/515435940/issues?per_page=3&page=5>; rel="last""#,
            ),
            (
                2,
                "per_page=3&page=2",
                r#"<https://api.github.com/repositories/515435940/issues?per_page=3&page=1>; rel="prev", <https://api.github.com/repositories/515435940/issues?per_page=3&page=3>; rel="next", <https://api.github.com/repositories/515435940/issues?per_page=3&page=5>; rel="last", <https://api.github.com/repositories/515435940/issues?per_page=3&page=1>; rel="first""#,
            ),
            (
                4,
                "per_page=3&page=4",
                r#"<https://api.github.com/repositories/515435940/issues?per_page=3&page=3>; rel="prev", <https://api.github.com/repositories/515435940/issues?per_page=3&page=5>; rel="next", <https://api.github.com/repositories/515435940/issues?per_page=3&page=5>; rel="last", <https://api.github.com/repositories/515435940/issues?per_page=3&page=1>; rel="first""#,
            ),
            (
                5,
                "per_page=3&page=5",
                r#"<https://api.github.com/repositories/515435940/issues?per_page=3&page=4>; rel="prev", <https://api.github.com/repositories/515435940/issues?per_page=3&page=1>; rel="first""#,
            ),
        ];
        for (page, query, expected) in recorded {
            let paging = Paging::parse(Some("3"), Some(&page.to_string()));
            assert_eq!(
                paging.link_header(URL, query, 13).as_deref(),
                Some(expected),
                "page {page}"
            );
        }
    }

    #[test]
    fn single_page_has_no_link_and_params_are_lenient() {
        assert_eq!(Paging::parse(None, None).link_header(URL, "", 30), None);
        assert_eq!(Paging::parse(None, None).link_header(URL, "", 0), None);
        assert_eq!(
            Paging::parse(Some("500"), Some("0")),
            Paging {
                per_page: 100,
                page: 1
            }
        );
        assert_eq!(Paging::parse(Some("x"), Some("-1")).per_page, 30);
    }

    #[test]
    fn ranges_cover_every_item_once() {
        let total = 250;
        let mut seen = Vec::new();
        for page in 1..=3 {
            let p = Paging {
                per_page: 100,
                page,
            };
            seen.extend(p.range(total));
        }
        assert_eq!(seen, (0..250).collect::<Vec<_>>());
        assert!(
            Paging {
                per_page: 100,
                page: 4
            }
            .range(total)
            .is_empty()
        );
    }

    #[test]
    fn other_params_are_kept_in_order() {
        let p = Paging::parse(Some("2"), Some("1"));
        let link = p
            .link_header(
                URL,
                "state=all&page=1&per_page=2&since=2024-01-01T00%3A00%3A00Z",
                3,
            )
            .expect("two pages");
        assert!(
            link.starts_with(&format!(
                "<{URL}?state=all&per_page=2&since=2024-01-01T00%3A00%3A00Z&page=2>; rel=\"next\""
            )),
            "{link}"
        );
    }
}
