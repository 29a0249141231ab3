//! Projects.

use super::validated_value_missing;
use pm_kernel::{Error, Validator};
use pm_projects::{Description, NewProject, Project, ProjectName, ProjectPatch};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

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
#[schema(example = json!({"name": "Billing revamp", "description": "Move invoices to the new provider."}))]
pub struct CreateProjectRequest {
    #[schema(schema_with = super::schema::project_name)]
    pub name: String,
    #[schema(schema_with = super::schema::project_description)]
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

/// At least one field; a field that is given must not be `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[schema(example = json!({"name": "Billing revamp 2"}))]
pub struct PatchProjectRequest {
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = super::schema::project_name_patch)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = super::schema::project_description_patch)]
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

list_type!(ProjectList, ProjectDto);
