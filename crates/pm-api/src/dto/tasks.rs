//! Tasks and their queries.

use super::validated_value_missing;
use pm_kernel::{Error, Validator};
use pm_tasks::{
    ExternalLink, Labels, NewTask, Priority, Task, TaskDescription, TaskPatch, TaskSource,
    TaskStatus, TaskTitle,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

api_enum!(TaskStatusDto <=> TaskStatus { Todo, InProgress, Done, Canceled });
api_enum!(PriorityDto <=> Priority { None, Low, Medium, High, Urgent });
api_enum!(TaskSourceDto <=> TaskSource { Manual, Github });

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
#[schema(example = json!({"title": "Draft the migration plan", "priority": "high", "labels": ["backend"]}))]
pub struct CreateTaskRequest {
    #[schema(schema_with = super::schema::task_title)]
    pub title: String,
    #[schema(schema_with = super::schema::task_description)]
    pub description: Option<String>,
    pub status: Option<TaskStatusDto>,
    pub priority: Option<PriorityDto>,
    #[schema(schema_with = super::schema::labels)]
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

/// At least one field; a field that is given must not be `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[schema(example = json!({"status": "in_progress"}))]
pub struct PatchTaskRequest {
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = super::schema::task_title)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = super::schema::task_description_patch)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = TaskStatusDto)]
    pub status: Option<TaskStatusDto>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = PriorityDto)]
    pub priority: Option<PriorityDto>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = super::schema::labels_patch)]
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
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// A task's address: its project's slug and its number.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only describes the path in the OpenAPI document
pub struct TaskPath {
    /// The project's slug.
    #[param(
        pattern = r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        min_length = 3,
        max_length = 100
    )]
    slug: String,
    /// The task's number.
    #[param(minimum = 1)]
    number: i64,
}

list_type!(TaskList, TaskDto);
