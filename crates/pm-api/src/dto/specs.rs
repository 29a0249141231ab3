//! A project's spec and its approval.

use pm_kernel::Error;
use pm_specs::{Approval, RepositoryOutcome, Spec, SpecContent, SpecStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

api_enum!(SpecStatusDto <=> SpecStatus { Draft, Interviewing, Review });

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
#[schema(example = json!({"content": "# Goals\n- ship"}))]
pub struct PutSpecRequest {
    #[schema(schema_with = super::schema::spec_content)]
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
