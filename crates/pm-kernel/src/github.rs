//! How a call to GitHub can fail, in the terms users see. The GitHub adapter maps
//! HTTP statuses and bodies to these; the API maps each to one `GITHUB_*` code.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
/// How a call to GitHub failed.
pub enum GithubError {
    /// GitHub rejected the token (401).
    #[error("GitHub rejected the token")]
    Unauthorized,
    /// The token lacks a permission (403 that is not a rate limit).
    #[error("the GitHub token lacks a permission: {message}")]
    Forbidden {
        /// GitHub's message.
        message: String,
    },
    /// The repository (or other resource) is not visible to the token (404).
    #[error("not found on GitHub: {message}")]
    NotFound {
        /// GitHub's message.
        message: String,
    },
    /// A primary or secondary rate limit; retry after this many seconds.
    #[error("GitHub rate limit reached; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the limit resets.
        retry_after_secs: u64,
    },
    /// Network failure, time-out or 5xx after bounded retries. `status` is GitHub's
    /// HTTP status when it answered (5xx), `None` when no answer came (network, time-out)
    /// or the answer could not be used.
    #[error("GitHub is unavailable: {reason}")]
    Unavailable {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// GitHub's HTTP status, if it answered.
        status: Option<u16>,
        /// What went wrong.
        reason: String,
    },
    /// The repository name clash persisted after the retry with a suffix.
    #[error("the repository name is already taken: {name}")]
    RepoNameTaken {
        /// The name that was taken.
        name: String,
    },
    /// GitHub refused the request's content (400, 409, 422 other than a name clash and
    /// the rest of 4xx; `status` is GitHub's), or pmhub refused to send it (`status: None`).
    #[error("GitHub refused the request: {message}")]
    Rejected {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// GitHub's HTTP status, if it answered.
        status: Option<u16>,
        /// GitHub's message.
        message: String,
    },
}

impl GithubError {
    /// The stable code the API and the logs use for this error.
    pub const fn code(&self) -> &'static str {
        match self {
            GithubError::Unauthorized => "GITHUB_UNAUTHORIZED",
            GithubError::Forbidden { .. } => "GITHUB_FORBIDDEN",
            GithubError::NotFound { .. } => "GITHUB_NOT_FOUND",
            GithubError::RateLimited { .. } => "GITHUB_RATE_LIMITED",
            GithubError::Unavailable { .. } => "GITHUB_UNAVAILABLE",
            GithubError::RepoNameTaken { .. } => "GITHUB_REPO_NAME_TAKEN",
            GithubError::Rejected { .. } => "GITHUB_REJECTED",
        }
    }

    /// GitHub's HTTP status behind this error, for logs: 401, 403, 404 (also for a 410),
    /// 422 for a name clash, the 4xx of a rejection, the 5xx of an unavailable GitHub.
    /// `None` when GitHub gave no answer (network failure, time-out), when pmhub refused
    /// to send the request, and for rate limits (a 403 or a 429, or refused before any
    /// request while a limit lasts; `code()` says which error it is).
    pub const fn status(&self) -> Option<u16> {
        match self {
            GithubError::Unauthorized => Some(401),
            GithubError::Forbidden { .. } => Some(403),
            GithubError::NotFound { .. } => Some(404),
            GithubError::RateLimited { .. } => None,
            GithubError::RepoNameTaken { .. } => Some(422),
            GithubError::Unavailable { status, .. } | GithubError::Rejected { status, .. } => {
                *status
            }
        }
    }
}
