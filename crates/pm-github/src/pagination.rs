//! GitHub's `Link` header: where the next page is.
//!
//! A small RFC 8288 reader rather than the `parse_link_header` crate: that crate
//! splits the header on every comma (a URL with a comma in its query, e.g.
//! `labels=a,b`, breaks it), fails the whole header on a query parameter without
//! `=`, and does not understand `rel="next last"`. Here only the `next` target is
//! needed, and a malformed entry is skipped instead of hiding the valid ones.

use reqwest::header::{HeaderMap, LINK};

/// The `rel="next"` target exactly as GitHub sent it (never rebuilt: GitHub changes
/// the shape, e.g. to `/repositories/{id}/issues?page=N`), if any.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(next_in)
}

/// The first `next` target in one `Link` header value.
fn next_in(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        // Each entry is `<uri>` followed by `; name=value` parameters.
        let after_open = rest.strip_prefix('<')?;
        let close = after_open.find('>')?;
        let uri = after_open[..close].trim();
        let (params, tail) = split_entry(&after_open[close + 1..]);
        if params.split(';').any(is_rel_next) && !uri.is_empty() {
            return Some(uri.to_string());
        }
        rest = tail;
    }
}

/// Splits at the first comma outside a quoted string: (this entry's params, the rest).
fn split_entry(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return (&s[..i], &s[i + 1..]),
            _ => {}
        }
    }
    (s, "")
}

/// `rel="next"`, `rel=next` or a space-separated list containing `next`.
fn is_rel_next(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("rel")
        && value
            .trim()
            .trim_matches('"')
            .split_ascii_whitespace()
            .any(|rel| rel.eq_ignore_ascii_case("next"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn recorded_first_page_has_next() {
        let h = r#"<https://api.github.com/repositories/515435940/issues?per_page=3&page=2>; rel="next", <https://api.github.com/repositories/515435940/issues?per_page=3&page=5>; rel="last""#;
        assert_eq!(
            next_in(h).as_deref(),
            Some("https://api.github.com/repositories/515435940/issues?per_page=3&page=2")
        );
    }

    #[test]
    fn next_found_after_prev() {
        let h = r#"<https://x/i?page=1>; rel="prev", <https://x/i?page=3>; rel="next", <https://x/i?page=5>; rel="last", <https://x/i?page=1>; rel="first""#;
        assert_eq!(next_in(h).as_deref(), Some("https://x/i?page=3"));
    }

    #[test]
    fn last_page_has_no_next() {
        let h = r#"<https://x/i?page=4>; rel="prev", <https://x/i?page=1>; rel="first""#;
        assert_eq!(next_in(h), None);
        assert_eq!(next_in(""), None);
    }

    #[test]
    fn commas_inside_urls_and_multi_rel() {
        let h = r#"<https://x/i?labels=a,b&page=1>; rel="prev", <https://x/i?labels=a,b&page=3>; rel="next last""#;
        assert_eq!(next_in(h).as_deref(), Some("https://x/i?labels=a,b&page=3"));
    }

    #[test]
    fn unquoted_rel_and_odd_spacing() {
        assert_eq!(
            next_in("<https://x/2>;rel=next").as_deref(),
            Some("https://x/2")
        );
        assert_eq!(
            next_in(r#"  <https://x/2> ;  REL = "Next" "#).as_deref(),
            Some("https://x/2")
        );
    }

    #[test]
    fn nextish_rels_do_not_count() {
        assert_eq!(next_in(r#"<https://x/2>; rel="nextpage""#), None);
        assert_eq!(next_in(r#"<https://x/2>; title="next""#), None);
    }

    #[test]
    fn reads_every_link_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static(r#"<https://x/1>; rel="prev""#),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(r#"<https://x/3>; rel="next""#),
        );
        assert_eq!(next_link(&headers).as_deref(), Some("https://x/3"));
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
