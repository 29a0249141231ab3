//! Specs: each project has exactly one, created in `draft` with the project. It moves
//! `draft` → `interviewing` (submit) → `review` (approve, admins only). Approval may
//! provision the project's GitHub repository through the [`RepoProvisioner`] port;
//! that step can fail without undoing the approval.

#![warn(missing_docs)]

/// The entities and value types.
pub mod models;
/// The ports (traits) adapters implement.
pub mod ports;
pub mod service;

pub use models::{Spec, SpecContent, SpecStatus};
pub use ports::{RepoProvisioner, SpecRepository};
pub use service::{Approval, RepositoryOutcome, SpecService};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockRepoProvisioner, MockSpecRepository};
