//! GitHub's JSON, as far as pmhub reads or writes it. Private to the adapter and
//! lenient: unknown fields are ignored, optional fields may be null or absent (GitHub
//! adds and removes fields between API versions).

use crate::errors::shorten;
use pm_integrations::{GithubIssue, GithubRepo, GithubUser, IssuePage, IssuePatch, IssueState};
use pm_kernel::GithubError;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize, Serializer};

/// Parses a success body; a body that does not fit is GitHub (or something in
/// between) misbehaving, reported as `Unavailable` with serde's explanation.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, GithubError> {
    serde_json::from_slice(body).map_err(|e| GithubError::Unavailable {
        status: None,
        reason: shorten(&format!("GitHub sent an unexpected {what}: {e}")),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireUser {
    id: i64,
    login: String,
}

impl From<WireUser> for GithubUser {
    fn from(u: WireUser) -> Self {
        Self {
            id: u.id,
            login: u.login,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireRepo {
    id: i64,
    full_name: String,
    #[serde(default)]
    private: bool,
    html_url: String,
    #[serde(default)]
    default_branch: Option<String>,
}

impl From<WireRepo> for GithubRepo {
    fn from(r: WireRepo) -> Self {
        Self {
            id: r.id,
            full_name: r.full_name,
            private: r.private,
            html_url: r.html_url,
            default_branch: r.default_branch,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireIssue {
    id: i64,
    number: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    state_reason: Option<String>,
    #[serde(default)]
    labels: Option<Vec<WireLabel>>,
    html_url: String,
    #[serde(default)]
    updated_at: Option<String>,
    /// `https://api.github.com/repos/{owner}/{repo}`: where the issue is now.
    #[serde(default)]
    repository_url: Option<String>,
    /// Present and non-null only on pull requests (GitHub lists PRs as issues). A
    /// legacy media type sends `"pull_request": null` on plain issues, hence Option.
    #[serde(default)]
    pull_request: Option<IgnoredAny>,
}

/// Labels come as objects `{name, color, ...}` or, in some payloads, plain names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireLabel {
    Name(String),
    Object {
        #[serde(default)]
        name: Option<String>,
    },
    /// Anything else is ignored rather than failing the whole page.
    Other(IgnoredAny),
}

impl WireIssue {
    pub(crate) fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }
}

impl From<WireIssue> for GithubIssue {
    fn from(i: WireIssue) -> Self {
        let state = match i.state.as_deref() {
            Some(s) if s.eq_ignore_ascii_case("closed") => IssueState::Closed,
            _ => IssueState::Open,
        };
        let labels = i
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter_map(|label| match label {
                WireLabel::Name(name) | WireLabel::Object { name: Some(name) } => Some(name),
                WireLabel::Object { name: None } | WireLabel::Other(_) => None,
            })
            .collect();
        Self {
            id: i.id,
            number: i.number,
            title: i.title.unwrap_or_default(),
            body: i.body,
            state,
            state_reason: i.state_reason,
            labels,
            html_url: i.html_url,
            updated_at: i.updated_at.as_deref().and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            }),
            repo_full_name: i.repository_url.as_deref().and_then(repo_of_api_url),
        }
    }
}

/// `owner/name` from `…/repos/{owner}/{name}` (an issue's `repository_url`).
fn repo_of_api_url(url: &str) -> Option<String> {
    let tail = url.rsplit_once("/repos/")?.1.trim_end_matches('/');
    let (owner, name) = tail.split_once('/')?;
    (!owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| format!("{owner}/{name}"))
}

/// One page of `GET /user/repos` and where the next one is.
#[derive(Debug, Clone)]
pub(crate) struct RepoPage {
    pub(crate) repos: Vec<GithubRepo>,
    pub(crate) next: Option<String>,
}

pub(crate) fn parse_repo_page(body: &[u8], next: Option<String>) -> Result<RepoPage, GithubError> {
    let items: Vec<WireRepo> = parse(body, "repository list")?;
    Ok(RepoPage {
        repos: items.into_iter().map(GithubRepo::from).collect(),
        next,
    })
}

/// One page of issues with the pull requests left out and counted.
pub(crate) fn parse_issue_page(
    body: &[u8],
    next: Option<String>,
) -> Result<IssuePage, GithubError> {
    let items: Vec<WireIssue> = parse(body, "issue list")?;
    let mut page = IssuePage {
        next,
        ..IssuePage::default()
    };
    for item in items {
        if item.is_pull_request() {
            page.pull_requests_skipped = page.pull_requests_skipped.saturating_add(1);
        } else {
            page.issues.push(item.into());
        }
    }
    Ok(page)
}

/// Body of `POST /repos/{owner}/{repo}/issues`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateIssueBody<'a> {
    pub(crate) title: &'a str,
    pub(crate) body: &'a str,
    pub(crate) labels: &'a [String],
}

/// Body of `POST /orgs/{org}/repos`. pmhub only ever creates private repositories.
#[derive(Debug, Serialize)]
pub(crate) struct CreateRepoBody<'a> {
    pub(crate) name: &'a str,
    pub(crate) private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
}

/// Body of `PATCH /repos/{owner}/{repo}/issues/{number}`: only the fields the
/// patch sets, so a field pmhub does not change is never overwritten with a stale
/// value (GitHub leaves absent fields as they are).
#[derive(Debug, Serialize)]
pub(crate) struct UpdateIssueBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    /// `open` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    /// `completed`, `not_planned` or `reopened`, spelled as GitHub does.
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<&'a str>,
    /// Replaces all labels (`[]` clears them).
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a [String]>,
}

impl<'a> From<&'a IssuePatch> for UpdateIssueBody<'a> {
    fn from(p: &'a IssuePatch) -> Self {
        Self {
            title: p.title.as_deref(),
            body: p.body.as_deref(),
            state: p.state.map(|s| match s {
                IssueState::Open => "open",
                IssueState::Closed => "closed",
            }),
            state_reason: p.state_reason.as_deref(),
            labels: p.labels.as_deref(),
        }
    }
}

/// Body of `POST /repos/{owner}/{repo}/hooks`. No `Debug`: it holds the secret.
#[derive(Serialize)]
pub(crate) struct CreateHookBody<'a> {
    /// Always `web` for repository webhooks.
    pub(crate) name: &'static str,
    pub(crate) active: bool,
    pub(crate) events: &'a [String],
    pub(crate) config: HookConfig<'a>,
}

/// No `Debug`: it holds the secret.
#[derive(Serialize)]
pub(crate) struct HookConfig<'a> {
    pub(crate) url: &'a str,
    /// `json`: pmhub's endpoint reads JSON bodies (the default, `form`, would send
    /// `payload=` form fields).
    pub(crate) content_type: &'static str,
    #[serde(serialize_with = "expose")]
    pub(crate) secret: &'a SecretString,
    /// `"0"` (a string, as GitHub spells it): TLS certificates are verified.
    pub(crate) insecure_ssl: &'static str,
}

fn expose<S: Serializer>(secret: &&SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// The part of a created hook pmhub keeps.
#[derive(Debug, Deserialize)]
pub(crate) struct WireHook {
    pub(crate) id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({
            "id": 10, "number": 3, "title": "T", "body": null, "state": "open",
            "html_url": "https://github.com/o/r/issues/3", "unknown_field": {"x": 1}
        });
        if let (Some(base), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in extra {
                base.insert(k.clone(), val.clone());
            }
        }
        v
    }

    fn page_of(items: Vec<serde_json::Value>) -> IssuePage {
        parse_issue_page(&serde_json::to_vec(&items).unwrap(), None).unwrap()
    }

    #[test]
    fn labels_as_objects_strings_or_junk() {
        let page = page_of(vec![issue(json!({
            "labels": [{"name": "bug", "color": "f00"}, "ui", {"color": "0f0"}, 42]
        }))]);
        assert_eq!(
            page.issues[0].labels,
            vec!["bug".to_string(), "ui".to_string()]
        );
    }

    #[test]
    fn null_pull_request_is_an_issue_object_is_a_pr() {
        let page = page_of(vec![
            issue(json!({"pull_request": null})),
            issue(json!({"pull_request": {"url": "u"}})),
            issue(json!({})),
        ]);
        assert_eq!(page.issues.len(), 2);
        assert_eq!(page.pull_requests_skipped, 1);
    }

    #[test]
    fn states_and_nulls() {
        let page = page_of(vec![
            issue(json!({"state": "closed", "state_reason": "completed", "labels": null})),
            issue(json!({"state": null, "title": null})),
        ]);
        assert_eq!(page.issues[0].state, IssueState::Closed);
        assert_eq!(page.issues[0].state_reason.as_deref(), Some("completed"));
        assert!(page.issues[0].labels.is_empty());
        assert_eq!(page.issues[1].state, IssueState::Open);
        assert_eq!(page.issues[1].title, "");
    }

    #[test]
    fn missing_required_field_is_unavailable() {
        let err = parse_issue_page(br#"[{"number": 1}]"#, None).unwrap_err();
        assert!(
            matches!(err, GithubError::Unavailable { ref reason, .. } if reason.contains("id"))
        );
        assert!(parse_issue_page(b"{}", None).is_err());
    }

    #[test]
    fn repo_body_omits_missing_description() {
        let body = CreateRepoBody {
            name: "n",
            private: true,
            description: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"name": "n", "private": true})
        );
    }

    #[test]
    fn patch_body_has_only_the_set_fields() {
        let patch = IssuePatch {
            state: Some(IssueState::Closed),
            state_reason: Some("not_planned".into()),
            ..IssuePatch::default()
        };
        assert_eq!(
            serde_json::to_value(UpdateIssueBody::from(&patch)).unwrap(),
            json!({"state": "closed", "state_reason": "not_planned"})
        );
        let patch = IssuePatch {
            title: Some("T".into()),
            body: Some(String::new()),
            labels: Some(Vec::new()),
            ..IssuePatch::default()
        };
        assert_eq!(
            serde_json::to_value(UpdateIssueBody::from(&patch)).unwrap(),
            json!({"title": "T", "body": "", "labels": []})
        );
    }
}
