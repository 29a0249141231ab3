//! The vocabulary of "an issue linked to a task", shared by the import (which
//! links the issues it reads) and the push (which links the issues it creates):
//! the key that identifies an issue forever, its human-readable reference, the
//! hidden marker a pushed issue carries, and the [`ExternalLink`] built from all
//! of it.

use crate::GithubIssue;
use pm_kernel::TaskId;
use pm_projects::RepoFullName;
use pm_tasks::ExternalLink;

/// The `provider` of every link to GitHub, as stored in `external_links.provider`.
pub const GITHUB_PROVIDER: &str = "github";

/// The key that identifies an issue forever: GitHub's immutable issue id, scoped
/// by host. Numbers change meaning across repositories; ids survive renames.
pub fn dedup_key(host: &str, issue_id: i64) -> String {
    format!("{GITHUB_PROVIDER}:{host}:issue:{issue_id}")
}

/// `owner/repo#N`, taken from the issue's own URL (which follows renames), else
/// from the repository that was asked for.
pub fn issue_reference(requested: &RepoFullName, issue: &GithubIssue) -> String {
    let from_url = issue.html_url.split_once("://").and_then(|(_, rest)| {
        let mut parts = rest.split('/');
        let _host = parts.next()?;
        let owner = parts.next()?;
        let name = parts.next()?;
        (parts.next() == Some("issues")).then(|| format!("{owner}/{name}"))
    });
    format!(
        "{}#{}",
        from_url.unwrap_or_else(|| requested.to_string()),
        issue.number
    )
}

/// The link of a task to `issue`, with the issue's dedup key.
pub fn issue_link(host: &str, repo: &RepoFullName, issue: &GithubIssue) -> (String, ExternalLink) {
    (
        dedup_key(host, issue.id),
        ExternalLink {
            provider: GITHUB_PROVIDER.into(),
            reference: issue_reference(repo, issue),
            url: issue.html_url.clone(),
        },
    )
}

const MARKER_START: &str = "<!-- pmhub:task:";
const MARKER_END: &str = " -->";

/// The hidden marker a pushed issue's body ends with.
pub fn marker(task_id: TaskId) -> String {
    format!("{MARKER_START}{task_id}{MARKER_END}")
}

/// The task id in a pushed issue's marker, if the body has one.
pub fn marked_task(body: &str) -> Option<TaskId> {
    let start = body.rfind(MARKER_START)? + MARKER_START.len();
    let rest = body.get(start..)?;
    let id = rest.get(..rest.find(MARKER_END)?)?;
    id.parse::<uuid::Uuid>().ok().map(TaskId::from_uuid)
}

/// The body without pmhub's marker (and the blank line before it): what the
/// task's description holds. A body without a marker comes back as it was.
pub fn strip_marker(body: &str) -> &str {
    let Some(start) = body.rfind(MARKER_START) else {
        return body;
    };
    let rest = body.get(start..).unwrap_or_default();
    match rest.find(MARKER_END) {
        Some(end)
            if rest
                .get(end + MARKER_END.len()..)
                .is_some_and(|t| t.trim().is_empty()) =>
        {
            body.get(..start).unwrap_or(body).trim_end()
        }
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueState;

    fn issue(html_url: &str) -> GithubIssue {
        GithubIssue {
            updated_at: None,
            repo_full_name: None,
            id: 42,
            number: 7,
            title: "t".into(),
            body: None,
            state: IssueState::Open,
            state_reason: None,
            labels: Vec::new(),
            html_url: html_url.into(),
        }
    }

    #[test]
    fn a_marker_reads_back_as_its_task() {
        let task = TaskId::new();
        let body = format!("text\n\n{}", marker(task));
        assert_eq!(marked_task(&body), Some(task));
        assert_eq!(marked_task("<!-- pmhub:task:not-a-uuid -->"), None);
        assert_eq!(marked_task("no marker"), None);
        assert_eq!(strip_marker(&body), "text");
        assert_eq!(strip_marker("no marker"), "no marker");
        let inside = format!("{} and more", marker(task));
        assert_eq!(
            strip_marker(&inside),
            inside,
            "a marker mid-text is the user's text"
        );
    }

    #[test]
    fn a_link_names_the_issue_by_its_url_and_its_id() {
        let repo = RepoFullName::parse("octo/old").unwrap();
        let (key, link) = issue_link(
            "github.com",
            &repo,
            &issue("https://github.com/octo/new/issues/7"),
        );
        assert_eq!(key, "github:github.com:issue:42");
        assert_eq!(link.provider, GITHUB_PROVIDER);
        assert_eq!(link.reference, "octo/new#7");
        assert_eq!(issue_reference(&repo, &issue("not a url")), "octo/old#7");
    }
}
