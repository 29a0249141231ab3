use pm_kernel::validation::text;
use pm_kernel::{Error, ProjectId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub project_id: ProjectId,
    pub status: SpecStatus,
    pub content: SpecContent,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecStatus {
    Draft,
    Interviewing,
    Review,
}

impl SpecStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SpecStatus::Draft => "draft",
            SpecStatus::Interviewing => "interviewing",
            SpecStatus::Review => "review",
        }
    }
}

impl fmt::Display for SpecStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpecStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "draft" => Ok(SpecStatus::Draft),
            "interviewing" => Ok(SpecStatus::Interviewing),
            "review" => Ok(SpecStatus::Review),
            other => Err(Error::internal(format!("unknown spec status {other:?}"))),
        }
    }
}

/// Markdown content of a spec, at most 200,000 characters. Kept verbatim (not
/// trimmed): leading whitespace can be meaningful in markdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecContent(String);

impl SpecContent {
    pub const MAX_CHARS: usize = 200_000;

    pub fn new(value: &str) -> Result<Self, Error> {
        text("content", value, 0, Self::MAX_CHARS)?;
        Ok(Self(value.to_string()))
    }

    /// Content read back from storage, already validated when written.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
