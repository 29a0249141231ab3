//! Helpers for tests of crates built on pm-projects (the `testing` feature).

use crate::{Description, Project, ProjectName, RepoFullName, Slug};
use pm_kernel::{ProjectId, WorkspaceId};

/// A project of `workspace_id` named `name`, with `slug`, an empty description and
/// the repository `repo` if given, created now. Panics on an invalid slug, name
/// or repository (test input).
pub fn project(workspace_id: WorkspaceId, slug: &str, name: &str, repo: Option<&str>) -> Project {
    let now = pm_kernel::now();
    Project {
        id: ProjectId::new(),
        workspace_id,
        slug: Slug::parse(slug).expect("a valid test slug"),
        name: ProjectName::new(name).expect("a valid test name"),
        description: Description::default(),
        github_repo: repo.map(|r| RepoFullName::parse(r).expect("a valid test repository")),
        created_at: now,
        updated_at: now,
    }
}
