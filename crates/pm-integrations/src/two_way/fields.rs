//! The fields two-way sync keeps equal on both sides, in one shape for a task, an
//! issue and the stored snapshot (the merge's base): title, body, status and labels.
//! Both sides are normalised the way a task stores them (trimmed, cut to the
//! task's limits, the push marker taken out of the body), so a value GitHub allows
//! and a task cannot hold compares equal after one sync instead of differing forever.

use crate::link::strip_marker;
use crate::{GithubIssue, IssueState};
use pm_tasks::{Labels, Task, TaskDescription, TaskStatus, TaskTitle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pm_kernel::string_enum!(
    /// Open or closed, and why: what an issue's `state` + `state_reason` and a
    /// task's status have in common.
    IssueStatus, "status", {
        /// Open (a task in `todo` or `in_progress`).
        Open => "open",
        /// Closed as completed (`done`).
        Completed => "completed",
        /// Closed as not planned (`canceled`).
        NotPlanned => "not_planned",
    }
);

impl IssueStatus {
    /// An issue's state and `state_reason`, as the import maps it to a task status:
    /// only `not_planned` is not planned; a closed issue without a reason (closed
    /// before GitHub had them) or closed as `duplicate` counts as completed.
    pub fn of_issue(state: IssueState, state_reason: Option<&str>) -> Self {
        match (state, state_reason) {
            (IssueState::Open, _) => IssueStatus::Open,
            (IssueState::Closed, Some("not_planned")) => IssueStatus::NotPlanned,
            (IssueState::Closed, _) => IssueStatus::Completed,
        }
    }

    /// A task's status.
    pub fn of_task(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Todo | TaskStatus::InProgress => IssueStatus::Open,
            TaskStatus::Done => IssueStatus::Completed,
            TaskStatus::Canceled => IssueStatus::NotPlanned,
        }
    }

    /// The issue's `state` and `state_reason` for a PATCH.
    pub fn to_issue(self) -> (IssueState, Option<&'static str>) {
        match self {
            IssueStatus::Open => (IssueState::Open, None),
            IssueStatus::Completed => (IssueState::Closed, Some("completed")),
            IssueStatus::NotPlanned => (IssueState::Closed, Some("not_planned")),
        }
    }

    /// The task status for this status: a closed one maps to `done`/`canceled`; an
    /// open one keeps the task's open status if it is open, else returns it to
    /// `reopen_status` (the open status it had before it was closed), else `todo`.
    pub fn to_task(self, current: TaskStatus, reopen_status: Option<TaskStatus>) -> TaskStatus {
        match self {
            IssueStatus::Completed => TaskStatus::Done,
            IssueStatus::NotPlanned => TaskStatus::Canceled,
            IssueStatus::Open => match current {
                TaskStatus::Todo | TaskStatus::InProgress => current,
                TaskStatus::Done | TaskStatus::Canceled => match reopen_status {
                    Some(s @ (TaskStatus::Todo | TaskStatus::InProgress)) => s,
                    _ => TaskStatus::Todo,
                },
            },
        }
    }
}

/// The synced fields of one side, or of the snapshot (stored as JSON in
/// `external_links.snapshot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueFields {
    /// The title, as a task holds it.
    pub title: String,
    /// The body without pmhub's hidden marker, as a task's description holds it.
    pub body: String,
    /// Open, completed or not planned.
    #[serde(with = "status_as_str")]
    pub status: IssueStatus,
    /// Label names, as a set (GitHub does not order them meaningfully).
    pub labels: BTreeSet<String>,
}

impl IssueFields {
    /// An issue's fields, normalised as a task would store them.
    pub fn of_issue(issue: &GithubIssue) -> Self {
        let body = strip_marker(issue.body.as_deref().unwrap_or_default());
        Self {
            title: TaskTitle::lenient(&issue.title).as_str().to_string(),
            body: TaskDescription::lenient(body).as_str().to_string(),
            status: IssueStatus::of_issue(issue.state, issue.state_reason.as_deref()),
            labels: Labels::lenient(issue.labels.iter().map(String::as_str))
                .into_vec()
                .into_iter()
                .collect(),
        }
    }

    /// A task's fields.
    pub fn of_task(task: &Task) -> Self {
        Self {
            title: task.title.as_str().to_string(),
            body: task.description.as_str().to_string(),
            status: IssueStatus::of_task(task.status),
            labels: task.labels.as_slice().iter().cloned().collect(),
        }
    }
}

/// The snapshot stores the status by its wire spelling.
mod status_as_str {
    use super::IssueStatus;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(status: &IssueStatus, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(status.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IssueStatus, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown status {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_issues_map_to_done_or_canceled_by_reason() {
        assert_eq!(
            IssueStatus::of_issue(IssueState::Closed, Some("completed")),
            IssueStatus::Completed
        );
        assert_eq!(
            IssueStatus::of_issue(IssueState::Closed, None),
            IssueStatus::Completed
        );
        assert_eq!(
            IssueStatus::of_issue(IssueState::Closed, Some("not_planned")),
            IssueStatus::NotPlanned
        );
        assert_eq!(
            IssueStatus::of_issue(IssueState::Closed, Some("duplicate")),
            IssueStatus::Completed,
            "as the import maps it"
        );
        assert_eq!(
            IssueStatus::of_issue(IssueState::Open, Some("reopened")),
            IssueStatus::Open
        );
    }

    #[test]
    fn reopening_returns_a_closed_task_to_its_prior_open_status() {
        let open = IssueStatus::Open;
        assert_eq!(
            open.to_task(TaskStatus::Done, Some(TaskStatus::InProgress)),
            TaskStatus::InProgress
        );
        assert_eq!(open.to_task(TaskStatus::Canceled, None), TaskStatus::Todo);
        assert_eq!(
            open.to_task(TaskStatus::InProgress, Some(TaskStatus::Todo)),
            TaskStatus::InProgress
        );
        assert_eq!(
            IssueStatus::NotPlanned.to_task(TaskStatus::Todo, None),
            TaskStatus::Canceled
        );
    }
}
