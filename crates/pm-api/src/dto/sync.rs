//! Two-way sync: the project's settings, the journal, conflicts and health, and the
//! webhook a repository link registers.

use super::ProjectDto;
use pm_integrations::two_way::{
    Conflict, ConflictFilter, ConflictPolicy, ProjectSyncHealth, SyncDirection,
    SyncDirectionOfChange, SyncEvent, SyncEventKind, SyncField, SyncSettings, SyncSettingsPatch,
};
use pm_integrations::{LinkedRepo, WebhookOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

api_enum!(SyncDirectionDto <=> SyncDirection { ImportOnly, TwoWay });
api_enum!(ConflictPolicyDto <=> ConflictPolicy { PmhubWins, GithubWins });
api_enum!(SyncEventKindDto <=> SyncEventKind {
    Created, Updated, EchoIgnored, Conflict, Skipped, Failed, LinkRemoved, LinkDeleted,
    LinkTransferred
});
api_enum!(ChangeDirectionDto <=> SyncDirectionOfChange { ToPmhub, ToGithub });
api_enum!(SyncFieldDto <=> SyncField { Title, Body, Status, Labels });

/// How the project syncs with its repository.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"direction": "two_way", "conflict_policy": "pmhub_wins", "push_new_tasks": false}))]
pub struct SyncSettingsDto {
    /// `import_only`: a sync imports new issues, skips linked ones and writes
    /// nothing to GitHub. `two_way`: changes flow both ways through the merge.
    pub direction: SyncDirectionDto,
    /// Who wins when both sides changed a field to different values.
    pub conflict_policy: ConflictPolicyDto,
    /// New tasks are pushed as issues by themselves (two-way only).
    pub push_new_tasks: bool,
}

impl From<SyncSettings> for SyncSettingsDto {
    fn from(s: SyncSettings) -> Self {
        Self {
            direction: s.direction.into(),
            conflict_policy: s.conflict_policy.into(),
            push_new_tasks: s.push_new_tasks,
        }
    }
}

/// At least one field; a field that is given must not be `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[schema(example = json!({"conflict_policy": "github_wins"}))]
pub struct PatchSyncSettingsRequest {
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = SyncDirectionDto)]
    pub direction: Option<SyncDirectionDto>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = ConflictPolicyDto)]
    pub conflict_policy: Option<ConflictPolicyDto>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = bool)]
    pub push_new_tasks: Option<bool>,
}

impl PatchSyncSettingsRequest {
    pub fn into_domain(self) -> SyncSettingsPatch {
        SyncSettingsPatch {
            direction: self.direction.map(Into::into),
            conflict_policy: self.conflict_policy.map(Into::into),
            push_new_tasks: self.push_new_tasks,
        }
    }
}

/// One decision of the sync, in the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncEventDto {
    /// Time-ordered (UUIDv7); the cursor of the lists.
    pub id: Uuid,
    /// The import, push or reconcile run it happened in (`null`: a merge caused by
    /// a delivery or a task edit).
    pub run_id: Option<Uuid>,
    /// The task's number (kept after the task is deleted).
    pub task_number: Option<i64>,
    /// The issue's number.
    pub issue_number: Option<i64>,
    pub kind: SyncEventKindDto,
    /// For `updated` and `conflict`: the side that was written.
    pub direction: Option<ChangeDirectionDto>,
    /// For `updated` and `conflict`: the field.
    pub field: Option<SyncFieldDto>,
    /// The value before: a string, or a sorted array of label names.
    pub from_value: Option<Value>,
    /// The value after.
    pub to_value: Option<Value>,
    /// What caused it (`issues.closed`, `task.edited`, `reconcile`, `sync`), a
    /// skip's reason or a failure's error code.
    pub detail: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<SyncEvent> for SyncEventDto {
    fn from(e: SyncEvent) -> Self {
        let ev = e.event;
        Self {
            id: e.id,
            run_id: ev.run_id.map(pm_kernel::SyncRunId::into_uuid),
            task_number: ev.task_number,
            issue_number: ev.issue_number,
            kind: ev.kind.into(),
            direction: ev.direction.map(Into::into),
            field: ev.field.map(Into::into),
            from_value: ev.from_value,
            to_value: ev.to_value,
            detail: ev.detail,
            created_at: e.created_at,
        }
    }
}

/// The side whose value a conflict kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictWinnerDto {
    Pmhub,
    Github,
}

/// Both sides changed a field to different values; the policy chose one. The
/// other value is kept here so a person can restore it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictDto {
    pub id: Uuid,
    pub run_id: Option<Uuid>,
    pub task_number: i64,
    pub issue_number: i64,
    pub field: SyncFieldDto,
    /// The value both sides started from (the last synced one), if known.
    pub base_value: Option<Value>,
    /// The task's value.
    pub pmhub_value: Value,
    /// GitHub's value.
    pub github_value: Value,
    /// The policy that chose.
    pub policy: ConflictPolicyDto,
    /// The side whose value both now have.
    pub winner: ConflictWinnerDto,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub detected_at: OffsetDateTime,
    /// `null` while the conflict is open.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<OffsetDateTime>,
}

impl From<Conflict> for ConflictDto {
    fn from(c: Conflict) -> Self {
        let k = c.conflict;
        Self {
            id: c.id,
            run_id: k.run_id.map(pm_kernel::SyncRunId::into_uuid),
            task_number: k.task_number,
            issue_number: k.issue_number,
            field: k.field.into(),
            base_value: k.base_value,
            pmhub_value: k.pmhub_value,
            github_value: k.github_value,
            policy: k.policy.into(),
            winner: match k.policy {
                ConflictPolicy::PmhubWins => ConflictWinnerDto::Pmhub,
                ConflictPolicy::GithubWins => ConflictWinnerDto::Github,
            },
            detected_at: c.detected_at,
            acknowledged_at: c.acknowledged_at,
        }
    }
}

list_type!(SyncEventList, SyncEventDto);
list_type!(ConflictList, ConflictDto);

/// Which conflicts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictStatusDto {
    /// Not acknowledged yet (the default).
    Open,
    /// Every recorded conflict.
    All,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConflictListQuery {
    /// `open` (default) or `all`.
    pub status: Option<ConflictStatusDto>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
}

impl ConflictListQuery {
    pub fn filter(&self) -> ConflictFilter {
        match self.status {
            Some(ConflictStatusDto::All) => ConflictFilter::All,
            Some(ConflictStatusDto::Open) | None => ConflictFilter::Open,
        }
    }
}

/// The health of the project's sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncHealthDto {
    /// The linked repository (`null`: none, nothing syncs).
    pub repo: Option<String>,
    pub direction: SyncDirectionDto,
    pub conflict_policy: ConflictPolicyDto,
    /// When the last webhook delivery for the repository arrived (`null`: never;
    /// check that the webhook is registered).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_delivery_at: Option<OffsetDateTime>,
    /// When the last periodic reconcile of the project finished.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_reconcile_at: Option<OffsetDateTime>,
    /// The project's sync jobs queued, running or waiting.
    pub pending_jobs: u32,
    /// The project's sync jobs that failed for good (kept until cleaned up).
    pub failed_jobs: u32,
    /// Conflicts nobody acknowledged yet.
    pub open_conflicts: u32,
    /// The latest error: a failed run's code or a failed journal entry's.
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<OffsetDateTime>,
}

impl From<ProjectSyncHealth> for SyncHealthDto {
    fn from(h: ProjectSyncHealth) -> Self {
        let f = h.health;
        Self {
            repo: h.repo,
            direction: h.settings.direction.into(),
            conflict_policy: h.settings.conflict_policy.into(),
            last_delivery_at: f.last_delivery_at,
            last_reconcile_at: f.last_reconcile_at,
            pending_jobs: f.pending_jobs,
            failed_jobs: f.failed_jobs,
            open_conflicts: f.open_conflicts,
            last_error: f.last_error,
            last_error_at: f.last_error_at,
        }
    }
}

/// What happened to the repository's webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatusDto {
    /// pmhub created it.
    Registered,
    /// The repository had it already.
    AlreadyExists,
    /// pmhub did not try (no `server.public_url` or no webhook secret): add it by hand.
    Manual,
    /// GitHub refused or failed; the repository is linked all the same.
    Failed,
}

/// The webhook registration that followed the link.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    pub status: WebhookStatusDto,
    /// The payload URL (`null` when pmhub does not know its public URL).
    pub url: Option<String>,
    /// The events asked for: `issues` and `repository`.
    pub events: Vec<String>,
    /// GitHub's hook id, when `registered`.
    pub hook_id: Option<i64>,
    /// Why pmhub did not try, when `manual`: `no_public_url` or `no_webhook_secret`.
    pub reason: Option<String>,
    /// When `failed`: the error's code, e.g. `GITHUB_FORBIDDEN`.
    pub error_code: Option<String>,
    /// When `failed`: GitHub's HTTP status, if it answered.
    pub github_status: Option<u16>,
    /// For a person: what was done, or how to add the webhook by hand.
    pub message: String,
}

impl From<WebhookOutcome> for WebhookDto {
    fn from(w: WebhookOutcome) -> Self {
        let message = w.message();
        let events = pm_integrations::repos::hooks::WEBHOOK_EVENTS
            .iter()
            .map(|e| (*e).to_string())
            .collect();
        let mut dto = Self {
            status: WebhookStatusDto::Manual,
            url: None,
            events,
            hook_id: None,
            reason: None,
            error_code: None,
            github_status: None,
            message,
        };
        match w {
            WebhookOutcome::Registered { url, id } => {
                dto.status = WebhookStatusDto::Registered;
                dto.url = Some(url);
                dto.hook_id = Some(id);
            }
            WebhookOutcome::AlreadyExists { url } => {
                dto.status = WebhookStatusDto::AlreadyExists;
                dto.url = Some(url);
            }
            WebhookOutcome::Manual { url, reason, .. } => {
                dto.url = url;
                dto.reason = Some(reason.as_str().to_string());
            }
            WebhookOutcome::Failed {
                url,
                error_code,
                status,
                ..
            } => {
                dto.status = WebhookStatusDto::Failed;
                dto.url = Some(url);
                dto.error_code = Some(error_code.to_string());
                dto.github_status = status;
            }
        }
        dto
    }
}

/// The project with its new repository, and what happened to the webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkRepoResponse {
    #[serde(flatten)]
    pub project: ProjectDto,
    pub webhook: WebhookDto,
}

impl From<LinkedRepo> for LinkRepoResponse {
    fn from(l: LinkedRepo) -> Self {
        Self {
            project: l.project.into(),
            webhook: l.webhook.into(),
        }
    }
}
