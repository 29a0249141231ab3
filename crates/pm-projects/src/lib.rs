//! Projects: the unit everything else hangs from. A project has a globally unique
//! slug, a name, a description and optionally the GitHub repository it is linked to.

#![warn(missing_docs)]

pub mod models;
pub mod ports;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use models::{Description, NewProject, Project, ProjectName, ProjectPatch, RepoFullName, Slug};
pub use ports::{LeaseGuard, LeasePurpose, ProjectLeases, ProjectRepository, project_of};
pub use service::ProjectService;

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockProjectLeases, MockProjectRepository};
