//! The GitHub integration: connection, repositories, import, push and runs.

use pm_integrations::{SyncKind, SyncStatus};
use pm_kernel::Error;
use pm_projects::RepoFullName;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// `{"token": "…"}`. The token is a `SecretString`: its `Debug` is redacted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "ghp_example0000000000000000000000000000"}))]
pub struct ConnectRequest {
    #[schema(value_type = String, schema_with = super::schema::github_token)]
    pub token: secrecy::SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionDto {
    /// Always `github`.
    pub provider: &'static str,
    pub account_login: String,
    /// The token's last 4 characters.
    pub token_hint: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub connected_at: OffsetDateTime,
}

impl From<pm_integrations::ConnectionInfo> for ConnectionDto {
    fn from(c: pm_integrations::ConnectionInfo) -> Self {
        Self {
            provider: "github",
            account_login: c.account_login,
            token_hint: c.token_hint,
            connected_at: c.connected_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepoDto {
    pub full_name: String,
    pub private: bool,
    pub html_url: String,
}

impl From<pm_integrations::GithubRepo> for RepoDto {
    fn from(r: pm_integrations::GithubRepo) -> Self {
        Self {
            full_name: r.full_name,
            private: r.private,
            html_url: r.html_url,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "octo/hello"}))]
pub struct SetRepoRequest {
    #[schema(schema_with = super::schema::repo)]
    pub full_name: String,
}

impl SetRepoRequest {
    pub fn into_domain(self) -> Result<RepoFullName, Error> {
        RepoFullName::parse(&self.full_name)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"repo": "octo/hello"}))]
pub struct SyncRequest {
    #[schema(schema_with = super::schema::sync_repo)]
    pub repo: Option<String>,
}

impl SyncRequest {
    /// The repository to import from, if the body names one.
    pub fn into_domain(self) -> Result<Option<RepoFullName>, Error> {
        self.repo
            .as_deref()
            .map(|r| {
                RepoFullName::parse(r).map_err(|_| Error::invalid("repo", "must be `owner/name`"))
            })
            .transpose()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub sync_run_id: Uuid,
    pub repo: String,
    pub created: u32,
    /// Linked issues seen: `updated + unchanged` in a two-way project (kept for
    /// older clients), every linked issue in an `import_only` one.
    pub skipped: u32,
    /// Linked issues the merge changed, on either side (two-way projects).
    pub updated: u32,
    /// Linked issues already equal on both sides (two-way projects).
    pub unchanged: u32,
    /// Fields changed on both sides to different values; the project's policy
    /// chose (see `GET …/github/conflicts`).
    pub conflicts: u32,
    pub pull_requests_ignored: u32,
    pub total_seen: u32,
}

impl From<pm_integrations::ImportReport> for SyncResponse {
    fn from(r: pm_integrations::ImportReport) -> Self {
        Self {
            sync_run_id: r.run_id.into_uuid(),
            repo: r.repo.to_string(),
            created: r.counts.created,
            skipped: r.counts.skipped,
            updated: r.counts.updated,
            unchanged: r.counts.unchanged,
            conflicts: r.counts.conflicts,
            pull_requests_ignored: r.counts.pull_requests_ignored,
            total_seen: r.counts.total_seen,
        }
    }
}

api_enum!(SyncKindDto <=> SyncKind { Import, Push, Reconcile });
api_enum!(SyncStatusDto <=> SyncStatus { Queued, Running, Waiting, Succeeded, Failed, Canceled });

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunDto {
    pub id: Uuid,
    pub kind: SyncKindDto,
    pub repo: String,
    pub status: SyncStatusDto,
    pub created: u32,
    /// Linked items seen: `updated + unchanged` in a two-way project (kept for
    /// older clients), every linked item in an `import_only` one.
    pub skipped: u32,
    /// Linked items the merge changed, on either side (two-way projects).
    pub updated: u32,
    /// Linked items already equal on both sides (two-way projects).
    pub unchanged: u32,
    /// Fields changed on both sides to different values; the project's policy
    /// chose (see `GET …/github/conflicts`).
    pub conflicts: u32,
    pub pull_requests_ignored: u32,
    pub total_seen: u32,
    /// For a failed run, e.g. `GITHUB_RATE_LIMITED`; for a queued or waiting run,
    /// the error that sent it back (it is retried or resumes by itself).
    pub error_code: Option<String>,
    /// When the run was asked for.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
    /// While `waiting` (a GitHub rate limit): when the run continues by itself.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resumes_at: Option<OffsetDateTime>,
    /// How many times a worker took the run up (0 while it is first queued).
    pub attempts: u32,
    pub progress: SyncProgressDto,
}

/// How far a run got.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncProgressDto {
    /// Issue pages stored (an import; 100 issues a page).
    pub pages: u32,
    /// A push's tasks pushed so far (issues created and linked).
    pub tasks_done: Option<u32>,
    /// A push's tasks still to push (`null` until the push has read its backlog).
    pub tasks_remaining: Option<u32>,
}

impl From<pm_integrations::SyncRun> for SyncRunDto {
    fn from(r: pm_integrations::SyncRun) -> Self {
        Self {
            id: r.id.into_uuid(),
            kind: r.kind.into(),
            repo: r.repo,
            status: r.status.into(),
            created: r.counts.created,
            skipped: r.counts.skipped,
            updated: r.counts.updated,
            unchanged: r.counts.unchanged,
            conflicts: r.counts.conflicts,
            pull_requests_ignored: r.counts.pull_requests_ignored,
            total_seen: r.counts.total_seen,
            error_code: r.error_code,
            started_at: r.started_at,
            finished_at: r.finished_at,
            resumes_at: r.resumes_at,
            attempts: r.attempts,
            progress: SyncProgressDto {
                pages: r.progress.pages,
                tasks_done: (r.kind == SyncKind::Push).then_some(r.counts.created),
                tasks_remaining: r.progress.tasks_remaining,
            },
        }
    }
}

list_type!(RepoList, RepoDto);
list_type!(SyncRunList, SyncRunDto);

#[derive(Debug, Serialize, ToSchema)]
pub struct PushResponse {
    pub sync_run_id: Uuid,
    pub repo: String,
    pub created: u32,
    /// Tasks already linked to an issue (including issues found again after an
    /// interrupted push).
    pub skipped: u32,
}

impl From<&pm_integrations::SyncRun> for SyncResponse {
    fn from(r: &pm_integrations::SyncRun) -> Self {
        Self {
            sync_run_id: r.id.into_uuid(),
            repo: r.repo.clone(),
            created: r.counts.created,
            skipped: r.counts.skipped,
            updated: r.counts.updated,
            unchanged: r.counts.unchanged,
            conflicts: r.counts.conflicts,
            pull_requests_ignored: r.counts.pull_requests_ignored,
            total_seen: r.counts.total_seen,
        }
    }
}

impl From<&pm_integrations::SyncRun> for PushResponse {
    fn from(r: &pm_integrations::SyncRun) -> Self {
        Self {
            sync_run_id: r.id.into_uuid(),
            repo: r.repo.clone(),
            created: r.counts.created,
            skipped: r.counts.skipped,
        }
    }
}

impl From<pm_integrations::PushReport> for PushResponse {
    fn from(r: pm_integrations::PushReport) -> Self {
        Self {
            sync_run_id: r.run_id.into_uuid(),
            repo: r.repo.to_string(),
            created: r.created,
            skipped: r.skipped,
        }
    }
}
