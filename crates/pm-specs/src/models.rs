use pm_kernel::validation::text;
use pm_kernel::{Error, ProjectId, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
/// A project's spec.
pub struct Spec {
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// Where it is in its workflow.
    pub status: SpecStatus,
    /// Its markdown content.
    pub content: SpecContent,
    /// When it last changed.
    pub updated_at: Timestamp,
}

pm_kernel::string_enum!(
    /// Where a spec is in its workflow: `draft` → `interviewing` → `review`.
    SpecStatus, "status", {
        /// Being written.
        Draft => "draft",
        /// Submitted; questions are being answered.
        Interviewing => "interviewing",
        /// Approved; the content is locked.
        Review => "review",
    }
);

/// Markdown content of a spec, at most 200,000 characters. Kept verbatim (not
/// trimmed): leading whitespace can be meaningful in markdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecContent(String);

impl SpecContent {
    /// The most characters allowed.
    pub const MAX_CHARS: usize = 200_000;

    /// Checks the length and characters; keeps the text verbatim.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("content", value, 0, Self::MAX_CHARS)?;
        Ok(Self(value.to_string()))
    }

    /// Content read back from storage, already validated when written.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
