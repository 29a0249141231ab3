//! The three-way merge of one linked issue (ADR 0024), pure: no I/O, no clock.
//!
//! Per field (title, body, status), with `b` the snapshot (both sides as last
//! synced), `t` the task and `g` GitHub:
//!
//! | case                  | result                                         |
//! |-----------------------|------------------------------------------------|
//! | `t == g`              | nothing on either side                         |
//! | `t == b != g`         | GitHub changed: `g` goes to the task           |
//! | `g == b != t`         | pmhub changed: `t` goes to GitHub              |
//! | `t != b, g != b, t != g` | conflict: the policy's side wins, recorded  |
//!
//! Labels merge as a set and never conflict: `(t ∩ g) ∪ (t − b) ∪ (g − b)`.
//! Without a snapshot (a link made before two-way sync) `b := t`, so GitHub's
//! differing values are taken.
//!
//! [`merge`] decides the target (what both sides should hold) and the writes that
//! get each side there; when GitHub is PATCHed, [`Merge::after_patch`] takes its
//! answer as the truth (GitHub normalises values and drops labels the token may
//! not set) and sends whatever differs from the target to the task too, so both
//! sides end equal and nothing loops.

use crate::IssuePatch;
use crate::link::marker;
use crate::two_way::{
    ConflictPolicy, IssueFields, NewConflict, NewSyncEvent, SyncDirectionOfChange, SyncEventKind,
    SyncField,
};
use pm_kernel::{SyncRunId, TaskId};
use pm_tasks::{Labels, Task, TaskDescription, TaskPatch, TaskStatus, TaskTitle};
use std::collections::BTreeSet;

/// GitHub refuses issue bodies over 65,536 characters.
const GITHUB_MAX_BODY_CHARS: usize = 65_536;

/// What one merge looks at.
#[derive(Debug, Clone, Copy)]
pub struct MergeInput<'a> {
    /// The snapshot: both sides as last synced (`None`: a link made before
    /// two-way sync; the task's fields stand in for it).
    pub base: Option<&'a IssueFields>,
    /// The task as stored now.
    pub task: &'a Task,
    /// The open status the task had before it was last closed.
    pub reopen_status: Option<TaskStatus>,
    /// GitHub's fields now.
    pub github: &'a IssueFields,
    /// The task named by the hidden marker in GitHub's current body, if it has one:
    /// a body PATCH keeps it.
    pub marker: Option<TaskId>,
    /// The issue's number (for the journal).
    pub issue_number: i64,
    /// Who wins a conflict.
    pub policy: ConflictPolicy,
    /// The run the merge belongs to, if any.
    pub run_id: Option<SyncRunId>,
    /// What caused the merge (`issues.closed`, `task.edited`, `reconcile`, `sync`).
    pub cause: &'a str,
}

/// Whether the two sides differed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both sides held the same values already (the snapshot may still be behind).
    Unchanged,
    /// At least one side is written.
    Changed,
}

/// What a merge decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    /// The task's changes (empty: none).
    pub task_patch: TaskPatch,
    /// GitHub's changes (empty: no request).
    pub issue_patch: IssuePatch,
    /// What both sides hold once the patches are applied: the snapshot to store.
    pub target: IssueFields,
    /// The journal entries (`updated` per field and side, `conflict`).
    pub events: Vec<NewSyncEvent>,
    /// The conflicts found.
    pub conflicts: Vec<NewConflict>,
    /// Unchanged or changed.
    pub verdict: Verdict,
    /// The task's fields as the merge read them.
    task_fields: IssueFields,
    /// The base the merge used (the snapshot, or the task's fields without one).
    base: IssueFields,
    /// The task's status as read, and its reopen status (for status writes).
    task_status: TaskStatus,
    reopen_status: Option<TaskStatus>,
    /// The task's labels in its own order.
    task_labels: Vec<String>,
    /// Who the events name.
    who: Who,
}

/// What every event and conflict of one merge names.
#[derive(Debug, Clone, PartialEq)]
struct Who {
    run_id: Option<SyncRunId>,
    task_id: TaskId,
    task_number: i64,
    issue_number: i64,
    cause: String,
}

impl Who {
    fn event(&self, kind: SyncEventKind) -> NewSyncEvent {
        NewSyncEvent {
            run_id: self.run_id,
            task_id: Some(self.task_id),
            task_number: Some(self.task_number),
            issue_number: Some(self.issue_number),
            detail: Some(self.cause.clone()),
            ..NewSyncEvent::new(kind)
        }
    }

    fn updated(
        &self,
        field: SyncField,
        direction: SyncDirectionOfChange,
        from: &IssueFields,
        to: &IssueFields,
    ) -> NewSyncEvent {
        NewSyncEvent {
            direction: Some(direction),
            field: Some(field),
            from_value: Some(field.value_in(from)),
            to_value: Some(field.value_in(to)),
            ..self.event(SyncEventKind::Updated)
        }
    }
}

/// The three-way merge of one linked issue.
pub fn merge(input: MergeInput<'_>) -> Merge {
    let t = IssueFields::of_task(input.task);
    let g = input.github;
    let b = input.base.cloned().unwrap_or_else(|| t.clone());
    let who = Who {
        run_id: input.run_id,
        task_id: input.task.id,
        task_number: input.task.number,
        issue_number: input.issue_number,
        cause: input.cause.to_string(),
    };
    let mut target = t.clone();
    let mut events = Vec::new();
    let mut conflicts = Vec::new();
    for field in [SyncField::Title, SyncField::Body, SyncField::Status] {
        let (tv, gv, bv) = (field.value_in(&t), field.value_in(g), field.value_in(&b));
        if tv == gv {
            continue;
        }
        let github_wins = if tv == bv {
            events.push(who.updated(field, SyncDirectionOfChange::ToPmhub, &t, g));
            true
        } else if gv == bv {
            events.push(who.updated(field, SyncDirectionOfChange::ToGithub, g, &t));
            false
        } else {
            let github_wins = input.policy == ConflictPolicy::GithubWins;
            let (direction, from, to) = if github_wins {
                (SyncDirectionOfChange::ToPmhub, &t, g)
            } else {
                (SyncDirectionOfChange::ToGithub, g, &t)
            };
            events.push(NewSyncEvent {
                kind: SyncEventKind::Conflict,
                ..who.updated(field, direction, from, to)
            });
            conflicts.push(NewConflict {
                run_id: who.run_id,
                task_id: who.task_id,
                task_number: who.task_number,
                issue_number: who.issue_number,
                field,
                base_value: input.base.map(|base| field.value_in(base)),
                pmhub_value: tv,
                github_value: gv,
                policy: input.policy,
            });
            github_wins
        };
        if github_wins {
            copy_field(field, g, &mut target);
        }
    }
    target.labels = merge_labels(&t.labels, &g.labels, &b.labels);
    if target.labels != t.labels {
        events.push(who.updated(
            SyncField::Labels,
            SyncDirectionOfChange::ToPmhub,
            &t,
            &target,
        ));
    }
    if target.labels != g.labels {
        events.push(who.updated(
            SyncField::Labels,
            SyncDirectionOfChange::ToGithub,
            g,
            &target,
        ));
    }
    let verdict = if t == *g {
        Verdict::Unchanged
    } else {
        Verdict::Changed
    };
    let mut merged = Merge {
        task_patch: TaskPatch::default(),
        issue_patch: issue_patch(&target, g, input.marker),
        target,
        events,
        conflicts,
        verdict,
        task_fields: t,
        base: b,
        task_status: input.task.status,
        reopen_status: input.reopen_status,
        task_labels: input.task.labels.as_slice().to_vec(),
        who,
    };
    merged.task_patch = merged.task_patch_to(&merged.target);
    merged
}

/// `(t ∩ g) ∪ (t − b) ∪ (g − b)`: a label both sides have stays, one side's
/// addition is kept, one side's removal is applied.
pub fn merge_labels(
    t: &BTreeSet<String>,
    g: &BTreeSet<String>,
    b: &BTreeSet<String>,
) -> BTreeSet<String> {
    let both = t.intersection(g).cloned();
    let added_in_pmhub = t.difference(b).cloned();
    let added_on_github = g.difference(b).cloned();
    both.chain(added_in_pmhub).chain(added_on_github).collect()
}

impl Merge {
    /// Takes GitHub's answer to the PATCH as what GitHub holds: it becomes the
    /// target (the snapshot), and every field where it differs from what was sent
    /// is written to the task too (journaled `to_pmhub`), so both sides end equal.
    pub fn after_patch(&mut self, response: &IssueFields) {
        for field in SyncField::ALL {
            if field.value_in(response) != field.value_in(&self.target) {
                self.events.push(self.who.updated(
                    field,
                    SyncDirectionOfChange::ToPmhub,
                    &self.target,
                    response,
                ));
            }
        }
        self.target = response.clone();
        self.task_patch = self.task_patch_to(response);
        self.issue_patch = IssuePatch::default();
        self.verdict = Verdict::Changed;
    }

    /// The base for merging again when the task changed while this merge ran
    /// (its write was refused as stale) after GitHub was PATCHed: for the fields
    /// sent, both sides agreed on the task's values as read (GitHub has them now;
    /// the task had them); for the others the base stays what it was, since the
    /// task never got GitHub's values.
    pub fn base_after_stale(&self, sent: &IssuePatch) -> IssueFields {
        let mut base = self.base.clone();
        let t = &self.task_fields;
        if sent.title.is_some() {
            base.title.clone_from(&t.title);
        }
        if sent.body.is_some() {
            base.body.clone_from(&t.body);
        }
        if sent.state.is_some() || sent.state_reason.is_some() {
            base.status = t.status;
        }
        if sent.labels.is_some() {
            base.labels.clone_from(&t.labels);
        }
        base
    }

    /// The base this merge used (the snapshot, or the task's fields without one).
    pub fn base(&self) -> &IssueFields {
        &self.base
    }

    /// The task's fields as the merge read them.
    pub fn task_fields(&self) -> &IssueFields {
        &self.task_fields
    }

    /// The task's changes that make it hold `to`.
    fn task_patch_to(&self, to: &IssueFields) -> TaskPatch {
        let t = &self.task_fields;
        TaskPatch {
            title: (to.title != t.title).then(|| TaskTitle::lenient(&to.title)),
            description: (to.body != t.body).then(|| TaskDescription::lenient(&to.body)),
            status: (to.status != t.status)
                .then(|| to.status.to_task(self.task_status, self.reopen_status)),
            priority: None,
            labels: (to.labels != t.labels).then(|| task_labels(&self.task_labels, &to.labels)),
        }
    }
}

fn copy_field(field: SyncField, from: &IssueFields, to: &mut IssueFields) {
    match field {
        SyncField::Title => to.title.clone_from(&from.title),
        SyncField::Body => to.body.clone_from(&from.body),
        SyncField::Status => to.status = from.status,
        SyncField::Labels => to.labels.clone_from(&from.labels),
    }
}

/// The task's new labels: the kept ones in the task's order, then the new ones.
fn task_labels(current: &[String], to: &BTreeSet<String>) -> Labels {
    let kept = current.iter().filter(|l| to.contains(*l));
    let added = to.iter().filter(|l| !current.contains(*l));
    Labels::lenient(kept.chain(added).map(String::as_str))
}

/// The PATCH that makes GitHub hold `target` (only the fields that differ).
fn issue_patch(target: &IssueFields, g: &IssueFields, kept_marker: Option<TaskId>) -> IssuePatch {
    let (state, state_reason) = if target.status == g.status {
        (None, None)
    } else {
        let (state, reason) = target.status.to_issue();
        (Some(state), reason.map(str::to_string))
    };
    IssuePatch {
        title: (target.title != g.title).then(|| target.title.clone()),
        body: (target.body != g.body).then(|| body_with_marker(&target.body, kept_marker)),
        state,
        state_reason,
        labels: (target.labels != g.labels).then(|| target.labels.iter().cloned().collect()),
    }
}

/// The issue body for `description`, ending with the marker of `task` when the
/// issue had one, cut so that the whole stays within GitHub's limit.
pub fn body_with_marker(description: &str, task: Option<TaskId>) -> String {
    let Some(task) = task else {
        return description.chars().take(GITHUB_MAX_BODY_CHARS).collect();
    };
    let marker = marker(task);
    let room = GITHUB_MAX_BODY_CHARS - marker.chars().count() - 2;
    let description: String = description.chars().take(room).collect();
    let description = description.trim_end();
    if description.is_empty() {
        marker
    } else {
        format!("{description}\n\n{marker}")
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
