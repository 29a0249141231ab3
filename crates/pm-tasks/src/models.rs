use pm_kernel::validation::text;
use pm_kernel::{Error, ProjectId, TaskId, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
/// A task of a project.
pub struct Task {
    /// The id.
    pub id: TaskId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// 1, 2, 3… per project, never reused.
    pub number: i64,
    /// The title.
    pub title: TaskTitle,
    /// The description.
    pub description: TaskDescription,
    /// Where the task stands.
    pub status: TaskStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// Its labels.
    pub labels: Labels,
    /// Where it came from.
    pub source: TaskSource,
    /// Where it lives outside pmhub (at most one link per provider).
    pub external_links: Vec<ExternalLink>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Where a task lives outside pmhub, e.g. the GitHub issue it was imported from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalLink {
    /// The system, e.g. `github`.
    pub provider: String,
    /// Human-readable reference, e.g. `octo/hello#12`.
    pub reference: String,
    /// The web URL.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A task to create.
pub struct NewTask {
    /// The title.
    pub title: TaskTitle,
    /// The description.
    pub description: TaskDescription,
    /// Where the task stands.
    pub status: TaskStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// Its labels.
    pub labels: Labels,
    /// Where it came from.
    pub source: TaskSource,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// Changes to a task; `None` leaves a field as it is.
pub struct TaskPatch {
    /// A new title.
    pub title: Option<TaskTitle>,
    /// A new description.
    pub description: Option<TaskDescription>,
    /// A new status.
    pub status: Option<TaskStatus>,
    /// A new priority.
    pub priority: Option<Priority>,
    /// New labels (replacing all).
    pub labels: Option<Labels>,
}

impl TaskPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.status.is_none()
            && self.priority.is_none()
            && self.labels.is_none()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
/// Which tasks a list returns.
pub struct TaskFilter {
    /// Only tasks in this status.
    pub status: Option<TaskStatus>,
    /// Only tasks from this source.
    pub source: Option<TaskSource>,
}

pm_kernel::string_enum!(
    /// Where a task stands.
    TaskStatus, "status", {
        /// Not started.
        Todo => "todo",
        /// Someone is on it.
        InProgress => "in_progress",
        /// Finished.
        Done => "done",
        /// Dropped.
        Canceled => "canceled",
    }
);

pm_kernel::string_enum!(
    /// How urgent a task is.
    Priority, "priority", {
        /// No priority given.
        None => "none",
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High.
        High => "high",
        /// Urgent.
        Urgent => "urgent",
    }
);

pm_kernel::string_enum!(
    /// Where a task came from.
    TaskSource, "source", {
        /// Created in pmhub.
        Manual => "manual",
        /// Imported from a GitHub issue.
        Github => "github",
    }
);

/// 1 to 500 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    /// The most characters allowed.
    pub const MAX_CHARS: usize = 500;

    /// Validates `value` (trimmed where the type says so); fails with a validation error naming the field.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("title", value, 1, Self::MAX_CHARS).map(Self)
    }

    /// A title from an external system: trimmed and cut to the maximum rather than
    /// rejected, since the import must not fail on a long GitHub title.
    pub fn lenient(value: &str) -> Self {
        let trimmed: String = without_nul(value.trim()).take(Self::MAX_CHARS).collect();
        if trimmed.is_empty() {
            Self("(untitled)".into())
        } else {
            Self(trimmed)
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Markdown, at most 65,536 characters (GitHub's own limit for an issue body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDescription(String);

impl TaskDescription {
    /// The most characters allowed.
    pub const MAX_CHARS: usize = 65_536;

    /// Validates `value` (trimmed where the type says so); fails with a validation error naming the field.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("description", value, 0, Self::MAX_CHARS)?;
        Ok(Self(value.to_string()))
    }

    /// A description from an external system, cut to the maximum rather than rejected.
    pub fn lenient(value: &str) -> Self {
        Self(without_nul(value).take(Self::MAX_CHARS).collect())
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 50 distinct labels of 1 to 100 characters each, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Vec<String>);

impl Labels {
    /// The most labels a task may have.
    pub const MAX_COUNT: usize = 50;
    /// The most characters of one label.
    pub const MAX_CHARS: usize = 100;

    /// Trims, deduplicates and checks the labels.
    pub fn new(values: &[String]) -> Result<Self, Error> {
        if values.len() > Self::MAX_COUNT {
            return Err(Error::invalid(
                "labels",
                format!("at most {} labels", Self::MAX_COUNT),
            ));
        }
        let mut out: Vec<String> = Vec::with_capacity(values.len());
        for value in values {
            let label = text("labels", value, 1, Self::MAX_CHARS)?;
            if !out.contains(&label) {
                out.push(label);
            }
        }
        Ok(Self(out))
    }

    /// Labels from an external system: invalid ones are cut or dropped, not fatal.
    pub fn lenient<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for value in values {
            let label: String = without_nul(value.trim()).take(Self::MAX_CHARS).collect();
            if !label.is_empty() && !out.contains(&label) && out.len() < Self::MAX_COUNT {
                out.push(label);
            }
        }
        Self(out)
    }

    /// The labels.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The labels, by value.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// The characters of `value` without NUL: PostgreSQL refuses it in text, so one
/// such character from GitHub would otherwise fail its page on every import.
fn without_nul(value: &str) -> impl Iterator<Item = char> + '_ {
    value.chars().filter(|&c| c != '\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_their_wire_names() {
        assert_eq!(
            "in_progress".parse::<TaskStatus>().unwrap(),
            TaskStatus::InProgress
        );
        assert_eq!("urgent".parse::<Priority>().unwrap(), Priority::Urgent);
        assert_eq!("github".parse::<TaskSource>().unwrap(), TaskSource::Github);
        let err = "started".parse::<TaskStatus>().unwrap_err();
        assert!(
            err.to_string()
                .contains("todo, in_progress, done, canceled")
        );
    }

    #[test]
    fn titles_are_bounded_but_imports_are_lenient() {
        assert!(TaskTitle::new("").is_err());
        assert!(TaskTitle::new(&"x".repeat(10_000)).is_err());
        assert_eq!(TaskTitle::lenient(&"x".repeat(10_000)).as_str().len(), 500);
        assert_eq!(TaskTitle::lenient("  ").as_str(), "(untitled)");
        assert_eq!(TaskTitle::lenient("a\0b").as_str(), "ab");
        assert_eq!(TaskDescription::lenient("x\0").as_str(), "x");
        assert_eq!(Labels::lenient(["b\0ug"]).as_slice(), ["bug"]);
    }

    #[test]
    fn labels_deduplicate_and_bound() {
        let labels = Labels::new(&["bug".into(), " bug ".into(), "ui".into()]).unwrap();
        assert_eq!(labels.as_slice(), ["bug", "ui"]);
        assert!(Labels::new(&[String::new()]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("l{i}")).collect();
        assert!(Labels::new(&many).is_err());
        assert_eq!(
            Labels::lenient(many.iter().map(String::as_str))
                .as_slice()
                .len(),
            50
        );
    }
}
