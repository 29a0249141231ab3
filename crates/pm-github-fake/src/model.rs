//! Public value types: snapshots handed to tests, inputs for seeding, and the seed-file format.
//!
//! Snapshots are copies; the live data stays behind the [`crate::FakeGithub`] mutex.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Why a seeding or control call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FakeError {
    #[error("no user or organization named `{0}`")]
    UnknownAccount(String),
    #[error("`{0}` is a user, not an organization")]
    NotAnOrganization(String),
    #[error("`{0}` is an organization, not a user")]
    NotAUser(String),
    #[error("no repository named `{0}`")]
    UnknownRepo(String),
    #[error("repository `{repo}` has no issue #{number}")]
    UnknownIssue { repo: String, number: u64 },
    #[error("`{0}` already exists")]
    NameTaken(String),
    #[error("invalid name `{0}`")]
    InvalidName(String),
    #[error("cannot generate {0} issues in one batch (at most {max})", max = crate::state::MAX_BATCH)]
    BatchTooLarge(u64),
}

/// Open or closed, as GitHub's `state` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// GitHub's `state_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateReason {
    Completed,
    NotPlanned,
    Reopened,
}

impl StateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::NotPlanned => "not_planned",
            Self::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "completed" => Some(Self::Completed),
            "not_planned" => Some(Self::NotPlanned),
            "reopened" => Some(Self::Reopened),
            _ => None,
        }
    }
}

/// A repository as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub full_name: String,
    pub private: bool,
    pub description: Option<String>,
    pub html_url: String,
    /// Open issues *and* open pull requests, like GitHub's `open_issues_count`.
    pub open_issues_count: u64,
    /// All issues and pull requests, open or closed.
    pub issue_count: u64,
}

/// An issue (or pull request) as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Globally unique, stable across repository renames.
    pub id: u64,
    /// Per repository, from 1.
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: IssueState,
    pub state_reason: Option<StateReason>,
    pub labels: Vec<String>,
    pub pull_request: bool,
    /// Login of the author.
    pub author: String,
    pub html_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// An edit through the library or control API ([`crate::FakeGithub::edit_issue`],
/// `POST /_fake/repos/{o}/{r}/issues/{n}/edit`); fields left out are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueEdit {
    #[serde(default)]
    pub title: Option<String>,
    /// `Some(None)` clears the body.
    #[serde(default, deserialize_with = "double_option")]
    pub body: Option<Option<String>>,
    /// Replaces the labels (names; unknown ones are created).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

fn double_option<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

/// Input for [`crate::FakeGithub::add_issue`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIssue {
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    /// Label names; labels missing from the repository are created, as GitHub does.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Make it a pull request (it then carries a `pull_request` object in issue listings).
    #[serde(default)]
    pub pull_request: bool,
    /// Login of the author; defaults to the repository owner (or, for an organization, its
    /// first member).
    #[serde(default)]
    pub author: Option<String>,
}

impl NewIssue {
    pub fn titled(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }
}

/// How to generate a batch of issues ([`crate::FakeGithub::add_issues`], `POST
/// /_fake/repos/{o}/{r}/issues/generate`, seed files).
///
/// Counting `i` from 1 within the batch: item `i` is a pull request when `i` is a multiple of
/// `pull_request_every`; it is closed when `i` is a multiple of `closed_every`, and a closed
/// *issue* gets `state_reason: not_planned` when `i` is also a multiple of `not_planned_every`
/// (otherwise `completed`; closed pull requests have no state reason). Labels, if given, are
/// handed out round-robin, one per item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateIssues {
    pub count: u64,
    #[serde(default)]
    pub pull_request_every: Option<u64>,
    #[serde(default)]
    pub closed_every: Option<u64>,
    #[serde(default)]
    pub not_planned_every: Option<u64>,
    #[serde(default)]
    pub labels: Vec<String>,
}

impl GenerateIssues {
    pub fn new(count: u64) -> Self {
        Self {
            count,
            ..Self::default()
        }
    }

    pub fn pull_request_every(mut self, k: u64) -> Self {
        self.pull_request_every = Some(k);
        self
    }

    pub fn closed_every(mut self, j: u64) -> Self {
        self.closed_every = Some(j);
        self
    }

    pub fn not_planned_every(mut self, m: u64) -> Self {
        self.not_planned_every = Some(m);
        self
    }

    pub fn labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }
}

/// One logged API request (admin requests under `/_fake` are not logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// Raw query string, without `?`; empty when there was none.
    pub query: String,
    /// When the request arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// `PATCH` requests to issues (`…/issues/{number}`, either path form), as served by
/// `GET /_fake/patches`: what an end-to-end test reads to assert "exactly one PATCH per
/// edit" or "no PATCH at all over 10 s". Every request that reached the fake counts, whatever
/// it was answered (faults included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchCounts {
    pub total: u64,
    /// Per issue, sorted by repository and number; the repository under its current name
    /// (a request to a renamed repository's old name or to `/repositories/{id}` counts for it).
    pub issues: Vec<IssuePatches>,
}

/// The `PATCH` requests one issue received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuePatches {
    /// `owner/name`.
    pub repo: String,
    pub number: u64,
    pub count: u64,
}

/// Request counters, as served by `GET /_fake/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub requests: u64,
    /// Keyed by `"METHOD /route/{pattern}"`, e.g. `"GET /repos/{owner}/{repo}/issues"`.
    pub by_route: BTreeMap<String, u64>,
}

/// The `--seed-file` format (also accepted by [`crate::FakeGithub::apply_seed`]).
///
/// ```json
/// {
///   "users": [{"token": "ghp_alice", "login": "alice"}],
///   "orgs": [{"login": "acme", "members": ["alice"]}],
///   "repos": [{"owner": "acme", "name": "web", "private": true,
///              "issues": {"count": 250, "pull_request_every": 5, "closed_every": 4}}]
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub orgs: Vec<SeedOrg>,
    #[serde(default)]
    pub repos: Vec<SeedRepo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub token: String,
    pub login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrg {
    pub login: String,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRepo {
    pub owner: String,
    pub name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub issues: Option<GenerateIssues>,
}
