//! The error every pmhub service returns. Each variant maps to exactly one stable
//! API error code (see `pm-api`'s problem table); adapters translate their own
//! failures into these variants so no infrastructure type leaks upward.

use crate::{FieldError, GithubError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more rules; nothing was written.
    #[error("validation failed: {}", summarize(.0))]
    Validation(Vec<FieldError>),
    /// No such object in the caller's workspace (another tenant's data lands here too).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("authentication required")]
    Unauthenticated,
    /// The caller is authenticated but its role does not allow this.
    #[error("this action requires the admin role")]
    Forbidden,
    /// The request is well formed but clashes with the current state.
    #[error("{0}")]
    Conflict(String),
    /// Neither the workspace nor the server has a GitHub token.
    #[error("no GitHub token: connect one for the workspace or set GITHUB_TOKEN")]
    IntegrationNotConnected,
    #[error(transparent)]
    Github(#[from] GithubError),
    /// The database does not answer (down, unreachable, too slow, shutting down):
    /// a transient outage the caller may retry, unlike [`Error::Internal`]. The
    /// message is logged, never sent.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure. The message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// Wraps an infrastructure error as [`Error::Internal`]. Callers must make sure
    /// the error's text cannot carry a secret.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The stable code clients and logs see for this error.
    pub const fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "VALIDATION_FAILED",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::Forbidden => "FORBIDDEN",
            Error::Conflict(_) => "CONFLICT",
            Error::IntegrationNotConnected => "INTEGRATION_NOT_CONNECTED",
            Error::Github(e) => e.code(),
            Error::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL",
        }
    }
}
