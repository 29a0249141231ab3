//! The JSON shapes of the API. Requests reject unknown fields; enums are
//! snake_case strings. Conversions to and from the domain live here so handlers
//! stay a few lines long.

use pm_accounts::{ApiToken, User, Workspace};
use pm_integrations::{SyncKind, SyncStatus};
use pm_kernel::{Error, Role, Validator};
use pm_projects::{Description, NewProject, Project, ProjectName, ProjectPatch};
use pm_specs::{Approval, RepositoryOutcome, Spec, SpecContent, SpecStatus};
use pm_tasks::{
    ExternalLink, Labels, NewTask, Priority, Task, TaskDescription, TaskPatch, TaskSource,
    TaskStatus, TaskTitle,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Declares an API enum mirroring a domain enum, with conversions both ways.
macro_rules! api_enum {
    ($api:ident <=> $domain:ident { $($variant:ident),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $api { $($variant),+ }

        impl From<$api> for $domain {
            fn from(v: $api) -> Self {
                match v { $($api::$variant => $domain::$variant),+ }
            }
        }

        impl From<$domain> for $api {
            fn from(v: $domain) -> Self {
                match v { $($domain::$variant => $api::$variant),+ }
            }
        }
    };
}

api_enum!(RoleDto <=> Role { Admin, Member });
api_enum!(SpecStatusDto <=> SpecStatus { Draft, Interviewing, Review });
api_enum!(TaskStatusDto <=> TaskStatus { Todo, InProgress, Done, Canceled });
api_enum!(PriorityDto <=> Priority { None, Low, Medium, High, Urgent });
api_enum!(TaskSourceDto <=> TaskSource { Manual, Github });

// ---- accounts -------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceDto {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeDto {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub workspace: WorkspaceDto,
}

impl MeDto {
    pub fn new(user: &User, workspace: &Workspace) -> Self {
        Self {
            user_id: user.id.into_uuid(),
            email: user.email.to_string(),
            role: user.role.into(),
            workspace: WorkspaceDto {
                id: workspace.id.into_uuid(),
                name: workspace.name.to_string(),
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub role: RoleDto,
}

/// A new user with its API token, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedUserDto {
    pub id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub token: String,
}

impl std::fmt::Debug for CreatedUserDto {
    /// Never the token: this value exists only to be serialised once.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedUserDto")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A user of the workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub role: RoleDto,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id.into_uuid(),
            email: u.email.to_string(),
            role: u.role.into(),
            created_at: u.created_at,
        }
    }
}

/// Every field is optional; an empty body is the same as `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A label, 1-100 characters (e.g. `CI`).
    pub name: Option<String>,
    /// 1..=3650. Without it the token does not expire (it can still be revoked).
    pub expires_in_days: Option<i64>,
}

/// An API token's metadata. Never the token or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    pub id: Uuid,
    pub name: Option<String>,
    /// The token's last 4 characters; null for tokens issued before hints existed.
    pub hint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Recorded at most once a minute.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    /// Null: never expires. A past value: expired (the token answers 401).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<ApiToken> for TokenDto {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.into_uuid(),
            name: t.name.map(|n| n.to_string()),
            hint: t.hint,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

/// A new token: its metadata and the token itself, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedTokenDto {
    #[serde(flatten)]
    pub meta: TokenDto,
    pub token: String,
}

impl std::fmt::Debug for CreatedTokenDto {
    /// Never the token: this value exists only to be serialised once.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenDto")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

// ---- projects -------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectDto {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// `owner/name` of the linked GitHub repository.
    pub github_repo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<Project> for ProjectDto {
    fn from(p: Project) -> Self {
        Self {
            id: p.id.into_uuid(),
            slug: p.slug.to_string(),
            name: p.name.to_string(),
            description: p.description.to_string(),
            github_repo: p.github_repo.map(|r| r.to_string()),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// 1-200 characters.
    pub name: String,
    /// Markdown, up to 20,000 characters.
    pub description: Option<String>,
}

impl CreateProjectRequest {
    pub fn into_domain(self) -> Result<NewProject, Error> {
        let mut v = Validator::new();
        let name = v.check(ProjectName::new(&self.name));
        let description = v.check(Description::new(self.description.as_deref().unwrap_or("")));
        v.finish()?;
        Ok(NewProject {
            name: name.ok_or_else(validated_value_missing)?,
            description: description.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchProjectRequest {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl PatchProjectRequest {
    pub fn into_domain(self) -> Result<ProjectPatch, Error> {
        let mut v = Validator::new();
        let name = self
            .name
            .as_deref()
            .and_then(|n| v.check(ProjectName::new(n)));
        let description = self
            .description
            .as_deref()
            .and_then(|d| v.check(Description::new(d)));
        v.finish()?;
        Ok(ProjectPatch { name, description })
    }
}

// ---- specs ----------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SpecDto {
    pub status: SpecStatusDto,
    pub content: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<Spec> for SpecDto {
    fn from(s: Spec) -> Self {
        Self {
            status: s.status.into(),
            content: s.content.as_str().to_string(),
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSpecRequest {
    /// Markdown, up to 200,000 characters.
    pub content: String,
}

impl PutSpecRequest {
    pub fn into_domain(self) -> Result<SpecContent, Error> {
        SpecContent::new(&self.content)
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepositoryOutcomeKind {
    Created,
    AlreadySet,
    Failed,
}

/// What happened to the project's repository on approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepositoryDto {
    pub outcome: RepositoryOutcomeKind,
    pub full_name: Option<String>,
    /// Set when `outcome` is `failed`, e.g. `GITHUB_FORBIDDEN`.
    pub error_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApproveResponse {
    pub spec: SpecDto,
    pub repository: RepositoryDto,
}

impl From<Approval> for ApproveResponse {
    fn from(a: Approval) -> Self {
        let repository = match a.repository {
            RepositoryOutcome::Created { full_name } => RepositoryDto {
                outcome: RepositoryOutcomeKind::Created,
                full_name: Some(full_name),
                error_code: None,
            },
            RepositoryOutcome::AlreadySet { full_name } => RepositoryDto {
                outcome: RepositoryOutcomeKind::AlreadySet,
                full_name: Some(full_name),
                error_code: None,
            },
            RepositoryOutcome::Failed { error_code } => RepositoryDto {
                outcome: RepositoryOutcomeKind::Failed,
                full_name: None,
                error_code: Some(error_code),
            },
        };
        Self {
            spec: a.spec.into(),
            repository,
        }
    }
}

// ---- tasks ----------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ExternalLinkDto {
    /// `github`.
    pub provider: String,
    /// e.g. `octo/hello#12`.
    pub reference: String,
    pub url: String,
}

impl From<ExternalLink> for ExternalLinkDto {
    fn from(l: ExternalLink) -> Self {
        Self {
            provider: l.provider,
            reference: l.reference,
            url: l.url,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDto {
    pub id: Uuid,
    /// 1, 2, 3… per project; tasks are addressed by it.
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: TaskStatusDto,
    pub priority: PriorityDto,
    pub labels: Vec<String>,
    pub source: TaskSourceDto,
    pub external_links: Vec<ExternalLinkDto>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<Task> for TaskDto {
    fn from(t: Task) -> Self {
        Self {
            id: t.id.into_uuid(),
            number: t.number,
            title: t.title.as_str().to_string(),
            description: t.description.as_str().to_string(),
            status: t.status.into(),
            priority: t.priority.into(),
            labels: t.labels.into_vec(),
            source: t.source.into(),
            external_links: t.external_links.into_iter().map(Into::into).collect(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// 1-500 characters.
    pub title: String,
    /// Markdown, up to 65,536 characters.
    pub description: Option<String>,
    pub status: Option<TaskStatusDto>,
    pub priority: Option<PriorityDto>,
    /// Up to 50 distinct labels of 1-100 characters.
    pub labels: Option<Vec<String>>,
}

impl CreateTaskRequest {
    pub fn into_domain(self) -> Result<NewTask, Error> {
        let mut v = Validator::new();
        let title = v.check(TaskTitle::new(&self.title));
        let description = v.check(TaskDescription::new(
            self.description.as_deref().unwrap_or(""),
        ));
        let labels = v.check(Labels::new(self.labels.as_deref().unwrap_or(&[])));
        v.finish()?;
        Ok(NewTask {
            title: title.ok_or_else(validated_value_missing)?,
            description: description.unwrap_or_default(),
            status: self.status.map(Into::into).unwrap_or(TaskStatus::Todo),
            priority: self.priority.map(Into::into).unwrap_or(Priority::None),
            labels: labels.unwrap_or_default(),
            source: TaskSource::Manual,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTaskRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatusDto>,
    pub priority: Option<PriorityDto>,
    pub labels: Option<Vec<String>>,
}

impl PatchTaskRequest {
    pub fn into_domain(self) -> Result<TaskPatch, Error> {
        let mut v = Validator::new();
        let title = self
            .title
            .as_deref()
            .and_then(|t| v.check(TaskTitle::new(t)));
        let description = self
            .description
            .as_deref()
            .and_then(|d| v.check(TaskDescription::new(d)));
        let labels = self.labels.as_deref().and_then(|l| v.check(Labels::new(l)));
        v.finish()?;
        Ok(TaskPatch {
            title,
            description,
            status: self.status.map(Into::into),
            priority: self.priority.map(Into::into),
            labels,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    pub status: Option<TaskStatusDto>,
    pub source: Option<TaskSourceDto>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Declares a concrete list envelope `{items, next_cursor}` for the OpenAPI document.
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl<T: Into<$item>> From<pm_kernel::Page<T>> for $name {
            fn from(page: pm_kernel::Page<T>) -> Self {
                Self {
                    items: page.items.into_iter().map(Into::into).collect(),
                    next_cursor: page.next_cursor,
                }
            }
        }
    };
}

list_type!(ProjectList, ProjectDto);
list_type!(TaskList, TaskDto);
list_type!(UserList, UserDto);
list_type!(TokenList, TokenDto);

/// After `Validator::finish` succeeded every checked value is present; the type
/// system still needs an answer for the impossible case.
fn validated_value_missing() -> Error {
    Error::internal("a value that passed validation is missing")
}

// ---- GitHub integration ---------------------------------------------------

/// `{"token": "…"}`. The token is a `SecretString`: its `Debug` is redacted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// A GitHub personal access token. Verified with `GET /user`, stored
    /// encrypted, never returned.
    #[schema(value_type = String)]
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
pub struct SetRepoRequest {
    /// `owner/name`.
    pub full_name: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// `owner/name`; defaults to the project's `github_repo`.
    pub repo: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub sync_run_id: Uuid,
    pub repo: String,
    pub created: u32,
    pub skipped: u32,
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
            pull_requests_ignored: r.counts.pull_requests_ignored,
            total_seen: r.counts.total_seen,
        }
    }
}

api_enum!(SyncKindDto <=> SyncKind { Import, Push });
api_enum!(SyncStatusDto <=> SyncStatus { Queued, Running, Waiting, Succeeded, Failed, Canceled });

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunDto {
    pub id: Uuid,
    pub kind: SyncKindDto,
    pub repo: String,
    pub status: SyncStatusDto,
    pub created: u32,
    pub skipped: u32,
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
