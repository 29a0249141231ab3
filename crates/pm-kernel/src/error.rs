//! The error every pmhub service returns. Each variant maps to exactly one stable
//! API error code (see `pm-api`'s problem table); adapters translate their own
//! failures into these variants so no infrastructure type leaks upward.

use crate::{FieldError, GithubError};
use std::error::Error as StdError;
use std::fmt;

/// A result whose error is pmhub's [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the terms of the API's error table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more rules; nothing was written.
    #[error("validation failed: {}", summarize(.0))]
    Validation(Vec<FieldError>),
    /// No such object in the caller's workspace (another tenant's data lands here too).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No valid credentials came with the request.
    #[error("authentication required")]
    Unauthenticated,
    /// The caller is authenticated but its role does not allow this.
    #[error("this action requires the admin role")]
    Forbidden,
    /// The request is well formed but clashes with the current state. `reason`
    /// tells the clashes apart for code (a service retries a slug only on
    /// [`ConflictReason::SlugTaken`]); `message` is what a person reads. Every
    /// reason renders as the same API code, `CONFLICT`.
    #[error("{message}")]
    Conflict {
        /// Which rule or state the request clashed with.
        reason: ConflictReason,
        /// A sentence for the caller; never holds a secret.
        message: String,
    },
    /// Neither the workspace nor the server has a GitHub token.
    #[error("no GitHub token: connect one for the workspace or set GITHUB_TOKEN")]
    IntegrationNotConnected,
    /// GitHub refused or failed a call.
    #[error(transparent)]
    Github(#[from] GithubError),
    /// The database does not answer (down, unreachable, too slow, shutting down):
    /// a transient outage the caller may retry, unlike [`Error::Internal`]. The
    /// message is logged, never sent.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure. Its [`Cause`] keeps the whole chain of
    /// the underlying error for the log; it is never sent.
    #[error("internal error: {0}")]
    Internal(Cause),
}

/// Why a request conflicts with the current state. One API code (`CONFLICT`) for
/// all; the reason is for code that must react to one clash and not another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictReason {
    /// The generated project slug is in use (creation tries a fresh one).
    SlugTaken,
    /// A workspace with this name exists.
    WorkspaceNameTaken,
    /// A live user of the workspace has this e-mail.
    EmailTaken,
    /// The workspace's last admin cannot be removed.
    LastAdmin,
    /// The spec's status does not allow this, or it changed meanwhile.
    SpecStatus,
    /// Another holder has the project lease for this work (a push or an approval
    /// is already running).
    LeaseHeld,
    /// The lease this work held was taken over (it was too slow); it stopped.
    LeaseLost,
    /// The project's GitHub repository was linked meanwhile.
    RepoAlreadyLinked,
    /// The sync run has finished (succeeded, failed or canceled): it cannot be
    /// canceled, or a waiting request reports that it was canceled.
    RunFinished,
}

impl Error {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// A conflict for `reason`, with a message for the caller.
    pub fn conflict(reason: ConflictReason, message: impl Into<String>) -> Self {
        Error::Conflict {
            reason,
            message: message.into(),
        }
    }

    /// The conflict's reason, if this is a conflict.
    pub const fn conflict_reason(&self) -> Option<ConflictReason> {
        match self {
            Error::Conflict { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// Wraps a message or an infrastructure error as [`Error::Internal`], keeping
    /// the error (and its sources) as the cause. Callers must make sure the
    /// error's text cannot carry a secret.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Error::Internal(cause.into())
    }

    /// [`Error::internal`] with a line of context in front of the cause, e.g.
    /// `Error::internal_because("database", err)` logs `database: <err>: <its source>…`.
    pub fn internal_because(
        context: impl fmt::Display,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Error::Internal(Cause::new(Context {
            context: context.to_string(),
            source: source.into(),
        }))
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
            Error::Conflict { .. } => "CONFLICT",
            Error::IntegrationNotConnected => "INTEGRATION_NOT_CONNECTED",
            Error::Github(e) => e.code(),
            Error::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL",
        }
    }
}

/// The cause of an [`Error::Internal`]: the underlying error, kept whole.
///
/// Its `Display` writes the error and every source after it, separated by `: `,
/// so one log line shows the full chain. Anything that converts into a boxed
/// error converts into a `Cause`: a `&str`, a `String`, or any
/// `std::error::Error + Send + Sync`.
pub struct Cause(Box<dyn StdError + Send + Sync + 'static>);

impl Cause {
    /// Keeps `error` as a cause.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self(error.into())
    }

    /// The underlying error (walk its `source()` for the rest of the chain).
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

impl<E: Into<Box<dyn StdError + Send + Sync + 'static>>> From<E> for Cause {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(next) = source {
            write!(f, ": {next}")?;
            source = next.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cause").field(&self.to_string()).finish()
    }
}

/// A line of context in front of a source error.
#[derive(Debug)]
struct Context {
    context: String,
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl StdError for Context {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn an_internal_error_keeps_and_shows_its_whole_chain() {
        let err = Error::internal_because("database", Outer(Inner));
        assert_eq!(err.to_string(), "internal error: database: outer: inner");
        let Error::Internal(cause) = &err else {
            panic!("expected Internal, got {err:?}");
        };
        let source = cause.error().source().expect("the source is kept");
        assert_eq!(source.to_string(), "outer");
        assert_eq!(err.code(), "INTERNAL");
        assert_eq!(
            Error::internal("plain").to_string(),
            "internal error: plain"
        );
    }

    #[test]
    fn conflicts_keep_their_reason_and_share_one_code() {
        let slug = Error::conflict(ConflictReason::SlugTaken, "the slug is taken");
        let lease = Error::conflict(ConflictReason::LeaseHeld, "a push is running");
        assert_eq!(slug.conflict_reason(), Some(ConflictReason::SlugTaken));
        assert_eq!(lease.conflict_reason(), Some(ConflictReason::LeaseHeld));
        assert_eq!(slug.code(), "CONFLICT");
        assert_eq!(lease.code(), "CONFLICT");
        assert_eq!(slug.to_string(), "the slug is taken");
        assert_eq!(Error::Forbidden.conflict_reason(), None);
    }
}
