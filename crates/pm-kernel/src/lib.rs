//! The vocabulary every pmhub crate shares: typed ids, the acting user, the error
//! type services return, field validation and keyset pagination.
//!
//! This crate has no I/O and no infrastructure dependencies, so any domain crate can
//! depend on it.

#![warn(missing_docs)]

pub mod actor;
pub mod error;
pub mod github;
pub mod ids;
pub mod page;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validation;
pub mod wire;

pub use actor::{Actor, Role};
pub use error::{Cause, ConflictReason, Error, Result};
pub use github::GithubError;
pub use ids::{ProjectId, SyncRunId, TaskId, TokenId, UserId, WorkspaceId};
pub use page::{Cursor, Limit, Page};
pub use validation::{FieldError, Validator};

/// Timestamps are always UTC; this alias keeps signatures short.
pub type Timestamp = time::OffsetDateTime;

/// The current time in UTC, truncated to microseconds (PostgreSQL's precision) so that
/// a value read back from the database equals the value written.
pub fn now() -> Timestamp {
    let now = time::OffsetDateTime::now_utc();
    let micros = now.microsecond();
    now.replace_microsecond(micros).unwrap_or(now)
}
