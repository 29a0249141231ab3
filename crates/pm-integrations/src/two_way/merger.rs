//! Merging linked issues against GitHub: one dirty issue (re-read with its ETag),
//! or a page of listed issues (the reconcile and the two-way sync: no extra GET).
//!
//! For each: read GitHub's side, [`merge`], PATCH GitHub when pmhub's side wins a
//! field (paced like every content-creating call), then [`MergeStore::apply`]
//! everything else in one transaction fenced on the task's `updated_at`. When the
//! task changed meanwhile the write is refused (`Stale`) and the merge runs again
//! with the task re-read, GitHub's latest answer and a base that counts what the
//! PATCH already wrote as agreed — so an edit made during a merge is neither lost
//! nor reported as a conflict.

use crate::link::{issue_reference, marked_task};
use crate::two_way::merge::{Merge, MergeInput, Verdict, merge};
use crate::two_way::{
    Applied, ConflictPolicy, IssueFields, LinkChange, LinkState, LinkedIssue, MergeApply,
    MergeStore, NewConflict, NewSyncEvent, SyncDirectionOfChange, SyncEventKind,
};
use crate::webhooks::DirtyIssue;
use crate::{GithubApi, GithubIssue, IssueRead, Pacer, SyncCounts};
use pm_kernel::{Error, GithubError, ProjectId, Result, SyncRunId, TaskId};
use pm_projects::RepoFullName;
use pm_tasks::{TaskPatch, TaskSource};
use secrecy::SecretString;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How many times a merge is redone because the task changed while it ran
/// before it gives up (recorded as `failed`; the edit marked the issue dirty again).
const MAX_STALE_RETRIES: usize = 3;

/// The `failed` event's detail when the task kept changing during every attempt.
pub const TASK_KEPT_CHANGING: &str = "TASK_KEPT_CHANGING";

/// The `skipped` event's detail when GitHub shows the issue no more (404).
pub const ISSUE_NOT_VISIBLE: &str = "issue_not_visible";

/// What a merge works for: the project, the token, the policy, the run.
#[derive(Clone, Copy)]
pub struct MergeScope<'a> {
    /// The workspace's GitHub token.
    pub token: &'a SecretString,
    /// The project.
    pub project_id: ProjectId,
    /// The project's repository, `owner/name`: an issue transferred there is
    /// followed, one transferred elsewhere is marked.
    pub project_repo: &'a str,
    /// Who wins a conflict.
    pub policy: ConflictPolicy,
    /// The run the merges belong to (reconcile, sync), if any.
    pub run_id: Option<SyncRunId>,
}

/// What merging one linked issue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// Both sides were equal already (possibly a snapshot catching up).
    Unchanged,
    /// A delivery of pmhub's own change: equal to the snapshot on both sides.
    EchoIgnored,
    /// One side or both were written; `conflicts` fields had changed on both.
    Updated {
        /// Fields changed on both sides to different values.
        conflicts: u32,
    },
    /// The issue was deleted on GitHub: the link is marked.
    LinkDeleted,
    /// The issue moved to a repository the project does not link: the link is marked.
    LinkTransferred,
    /// Nothing to merge (no active link, or GitHub shows the issue no more).
    Skipped,
    /// The merge failed; a `failed` event says why.
    Failed,
}

impl Merged {
    /// Adds the result to a run's merge counts (`updated`, `unchanged`, `conflicts`).
    pub fn count(self, counts: &mut SyncCounts) {
        match self {
            Merged::Unchanged | Merged::EchoIgnored => counts.unchanged += 1,
            Merged::Updated { conflicts } => {
                counts.updated += 1;
                counts.conflicts += conflicts;
            }
            Merged::LinkDeleted | Merged::LinkTransferred | Merged::Skipped | Merged::Failed => {}
        }
    }
}

/// What merging a page of listed issues did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMerged {
    /// `updated`, `unchanged` and `conflicts` of the page (the rest stays zero).
    pub counts: SyncCounts,
    /// The ids of the page's issues that are linked in the project.
    pub linked: HashSet<i64>,
    /// The ids whose merge failed (a `failed` event was recorded for each).
    pub failed: HashSet<i64>,
}

/// Errors that stop a whole job instead of one item: a rate limit (the job parks
/// until it lifts), a token GitHub refuses or none at all, and outages of GitHub
/// or the database (retried later with every mark kept). Anything else concerns
/// one issue: it is recorded as `failed` and the merge moves on.
pub fn stops_the_job(err: &Error) -> bool {
    matches!(
        err,
        Error::Github(
            GithubError::RateLimited { .. }
                | GithubError::Unauthorized
                | GithubError::Unavailable { .. }
        ) | Error::IntegrationNotConnected
            | Error::Unavailable(_)
    )
}

/// GitHub's side of one linked issue, as read.
struct Seen {
    fields: IssueFields,
    marker: Option<TaskId>,
    /// The ETag to store with the new snapshot.
    etag: Option<String>,
    repo: RepoFullName,
    number: i64,
    link: LinkChange,
}

/// Merges linked issues with GitHub.
#[derive(Clone)]
pub struct TwoWayMerger {
    github: Arc<dyn GithubApi>,
    store: Arc<dyn MergeStore>,
    pacer: Arc<dyn Pacer>,
}

impl TwoWayMerger {
    /// The merger over its ports; `pacer` spaces out the PATCHes.
    pub fn new(
        github: Arc<dyn GithubApi>,
        store: Arc<dyn MergeStore>,
        pacer: Arc<dyn Pacer>,
    ) -> Self {
        Self {
            github,
            store,
            pacer,
        }
    }

    /// Merges one issue a delivery or a task edit marked dirty: re-reads it from
    /// GitHub with the link's ETag, then merges. Errors only with what
    /// [`stops_the_job`]; anything else is recorded as `failed`.
    pub async fn merge_dirty(&self, scope: MergeScope<'_>, dirty: &DirtyIssue) -> Result<Merged> {
        let Some(linked) = self
            .store
            .linked_issue(scope.project_id, dirty.github_issue_id)
            .await?
        else {
            // The task was deleted (its link went with it): nothing to merge.
            return Ok(Merged::Skipped);
        };
        if linked.state != LinkState::Active {
            return Ok(Merged::Skipped);
        }
        let echo_possible = !dirty.reason.starts_with("task.");
        let outcome = self
            .read_and_merge(scope, &linked, &dirty.reason, echo_possible)
            .await;
        self.settle_item(scope, &linked, &dirty.reason, outcome)
            .await
    }

    /// Merges the issues of a listed page that are linked in the project (one
    /// read of the links for the page, no GET per issue). Errors only with what
    /// [`stops_the_job`]; anything else is recorded as `failed` for its issue.
    pub async fn merge_listed(
        &self,
        scope: MergeScope<'_>,
        issues: &[GithubIssue],
        cause: &str,
    ) -> Result<PageMerged> {
        let mut page = PageMerged::default();
        if issues.is_empty() {
            return Ok(page);
        }
        let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
        let mut linked: HashMap<i64, LinkedIssue> = self
            .store
            .linked_issues(scope.project_id, &ids)
            .await?
            .into_iter()
            .map(|l| (l.github_issue_id, l))
            .collect();
        for issue in issues {
            let Some(link) = linked.remove(&issue.id) else {
                continue;
            };
            page.linked.insert(issue.id);
            if link.state != LinkState::Active {
                continue;
            }
            let outcome = match Self::seen(scope, &link, issue, link.etag.clone()) {
                Ok(seen) => {
                    self.merge_seen(scope, link.clone(), seen, cause, false)
                        .await
                }
                Err(change) => self.relink(scope, &link, change, cause).await,
            };
            let merged = self.settle_item(scope, &link, cause, outcome).await?;
            if merged == Merged::Failed {
                page.failed.insert(issue.id);
            }
            merged.count(&mut page.counts);
        }
        Ok(page)
    }

    /// Passes on what stops the job; records anything else as `failed`.
    async fn settle_item(
        &self,
        scope: MergeScope<'_>,
        linked: &LinkedIssue,
        cause: &str,
        outcome: Result<Merged>,
    ) -> Result<Merged> {
        match outcome {
            Ok(merged) => Ok(merged),
            Err(err) if stops_the_job(&err) => Err(err),
            Err(err) => {
                tracing::warn!(project_id = %scope.project_id, issue_number = linked.issue_number,
                    error_code = err.code(), detail = %err, cause, "merging a linked issue failed; moving on");
                let event = NewSyncEvent {
                    detail: Some(err.code().to_string()),
                    ..event(scope, linked, SyncEventKind::Failed, cause)
                };
                self.store.record_events(scope.project_id, &[event]).await?;
                Ok(Merged::Failed)
            }
        }
    }

    async fn read_and_merge(
        &self,
        scope: MergeScope<'_>,
        linked: &LinkedIssue,
        cause: &str,
        echo_possible: bool,
    ) -> Result<Merged> {
        let repo = RepoFullName::parse(&linked.repo_full_name)?;
        let read = self
            .github
            .get_issue(scope.token, &repo, linked.issue_number, linked.etag.clone())
            .await?;
        let read = match (read, &linked.snapshot) {
            (IssueRead::NotModified, Some(snapshot)) => {
                // Unchanged since the snapshot. A body PATCH keeps the marker a
                // pushed issue (a task created in pmhub) was created with.
                let seen = Seen {
                    fields: snapshot.clone(),
                    marker: (linked.task.source == TaskSource::Manual).then_some(linked.task.id),
                    etag: linked.etag.clone(),
                    repo,
                    number: linked.issue_number,
                    link: LinkChange::Keep,
                };
                return self
                    .merge_seen(scope, linked.clone(), seen, cause, echo_possible)
                    .await;
            }
            // An ETag without a snapshot to go with it: read it whole.
            (IssueRead::NotModified, None) => {
                self.github
                    .get_issue(scope.token, &repo, linked.issue_number, None)
                    .await?
            }
            (read, _) => read,
        };
        match read {
            IssueRead::Found { issue, etag } => match Self::seen(scope, linked, &issue, etag) {
                Ok(seen) => {
                    self.merge_seen(scope, linked.clone(), seen, cause, echo_possible)
                        .await
                }
                Err(change) => self.relink(scope, linked, change, cause).await,
            },
            IssueRead::Deleted => self.relink(scope, linked, LinkChange::Deleted, cause).await,
            IssueRead::Missing => {
                let skipped = NewSyncEvent {
                    detail: Some(ISSUE_NOT_VISIBLE.to_string()),
                    ..event(scope, linked, SyncEventKind::Skipped, cause)
                };
                self.store
                    .record_events(scope.project_id, &[skipped])
                    .await?;
                Ok(Merged::Skipped)
            }
            IssueRead::NotModified => Err(Error::internal(
                "GitHub answered 304 to a request without an ETag",
            )),
        }
    }

    /// GitHub's side from an issue as read or listed; `Err` with the link change
    /// when the issue moved out of what the project links.
    fn seen(
        scope: MergeScope<'_>,
        linked: &LinkedIssue,
        issue: &GithubIssue,
        etag: Option<String>,
    ) -> std::result::Result<Seen, LinkChange> {
        let now_in = issue
            .repo_full_name
            .clone()
            .unwrap_or_else(|| linked.repo_full_name.clone());
        let same_place = now_in.eq_ignore_ascii_case(&linked.repo_full_name)
            && issue.number == linked.issue_number;
        // The same issue under another repository name with its number unchanged is a
        // repository rename seen before (or without) its `repository.renamed` delivery:
        // a transfer gives the issue a number in the target's sequence.
        let renamed = issue.id == linked.github_issue_id && issue.number == linked.issue_number;
        let link = if same_place {
            LinkChange::Keep
        } else if renamed || now_in.eq_ignore_ascii_case(scope.project_repo) {
            let requested = RepoFullName::parse(&now_in).map_err(|_| LinkChange::Transferred)?;
            LinkChange::Moved {
                reference: issue_reference(&requested, issue),
                url: issue.html_url.clone(),
                issue_number: issue.number,
            }
        } else {
            return Err(LinkChange::Transferred);
        };
        let repo = RepoFullName::parse(&now_in).map_err(|_| LinkChange::Transferred)?;
        Ok(Seen {
            fields: IssueFields::of_issue(issue),
            marker: issue.body.as_deref().and_then(marked_task),
            etag,
            repo,
            number: issue.number,
            link,
        })
    }

    /// Marks the link deleted or transferred (the task is kept), with its event.
    async fn relink(
        &self,
        scope: MergeScope<'_>,
        linked: &LinkedIssue,
        change: LinkChange,
        cause: &str,
    ) -> Result<Merged> {
        let (kind, merged) = match change {
            LinkChange::Deleted => (SyncEventKind::LinkDeleted, Merged::LinkDeleted),
            _ => (SyncEventKind::LinkTransferred, Merged::LinkTransferred),
        };
        let mut linked = linked.clone();
        for _ in 0..=MAX_STALE_RETRIES {
            let apply = MergeApply {
                project_id: scope.project_id,
                link_id: linked.link_id,
                task_id: linked.task.id,
                expected_updated_at: linked.task.updated_at,
                task_patch: TaskPatch::default(),
                snapshot: None,
                etag: linked.etag.clone(),
                link: change.clone(),
                events: vec![event(scope, &linked, kind, cause)],
                conflicts: Vec::new(),
            };
            match self.store.apply(&apply).await? {
                Applied::Done => return Ok(merged),
                Applied::Stale => match self.reread(scope, &linked).await? {
                    Some(again) => linked = again,
                    None => return Ok(Merged::Skipped),
                },
            }
        }
        self.kept_changing(scope, &linked, Vec::new(), cause).await
    }

    /// Gives up on a task that changed during every attempt: records `failed`
    /// (with what earlier attempts wrote to GitHub). Its edits marked the issue
    /// dirty again, so the next merge picks it up.
    async fn kept_changing(
        &self,
        scope: MergeScope<'_>,
        linked: &LinkedIssue,
        mut events: Vec<NewSyncEvent>,
        cause: &str,
    ) -> Result<Merged> {
        tracing::warn!(project_id = %scope.project_id, issue_number = linked.issue_number,
            "the task kept changing during its merge; giving up for now");
        events.push(NewSyncEvent {
            detail: Some(TASK_KEPT_CHANGING.to_string()),
            ..event(scope, linked, SyncEventKind::Failed, cause)
        });
        self.store.record_events(scope.project_id, &events).await?;
        Ok(Merged::Failed)
    }

    async fn reread(
        &self,
        scope: MergeScope<'_>,
        linked: &LinkedIssue,
    ) -> Result<Option<LinkedIssue>> {
        Ok(self
            .store
            .linked_issue(scope.project_id, linked.github_issue_id)
            .await?
            .filter(|l| l.state == LinkState::Active))
    }

    /// The merge with GitHub's side known, its PATCH and its write, redone when
    /// the task changed meanwhile.
    async fn merge_seen(
        &self,
        scope: MergeScope<'_>,
        mut linked: LinkedIssue,
        mut seen: Seen,
        cause: &str,
        echo_possible: bool,
    ) -> Result<Merged> {
        let stored_snapshot = linked.snapshot.clone();
        let stored_etag = linked.etag.clone();
        let mut base = linked.snapshot.clone();
        // What earlier attempts wrote to GitHub (it stays written): their events
        // and conflicts are recorded with the write that finally lands.
        let mut carried_events: Vec<NewSyncEvent> = Vec::new();
        let mut carried_conflicts: Vec<NewConflict> = Vec::new();
        let mut patched = false;
        for _ in 0..=MAX_STALE_RETRIES {
            let mut m = merge(MergeInput {
                base: base.as_ref(),
                task: &linked.task,
                reopen_status: linked.reopen_status,
                github: &seen.fields,
                marker: seen.marker,
                issue_number: seen.number,
                policy: scope.policy,
                run_id: scope.run_id,
                cause,
            });
            let sent = std::mem::take(&mut m.issue_patch);
            if !sent.is_empty() {
                self.pacer.before_create().await;
                let response = self
                    .github
                    .update_issue(scope.token, &seen.repo, seen.number, &sent)
                    .await?;
                let fields = IssueFields::of_issue(&response);
                m.after_patch(&fields);
                seen.fields = fields;
                seen.marker = response.body.as_deref().and_then(marked_task);
                // The ETag read before the PATCH names an older version.
                seen.etag = None;
                patched = true;
            }
            let changed = patched
                || m.verdict == Verdict::Changed
                || !carried_events.is_empty()
                || !m.task_patch.is_empty();
            let echo = echo_possible && !changed && stored_snapshot.as_ref() == Some(&seen.fields);
            let snapshot_moves =
                stored_snapshot.as_ref() != Some(&m.target) || seen.etag != stored_etag;
            let mut events = carried_events.clone();
            events.extend(m.events.iter().cloned());
            if echo {
                events.push(event(scope, &linked, SyncEventKind::EchoIgnored, cause));
            }
            let mut conflicts = carried_conflicts.clone();
            conflicts.extend(m.conflicts.iter().cloned());
            if events.is_empty()
                && m.task_patch.is_empty()
                && !snapshot_moves
                && seen.link == LinkChange::Keep
            {
                // Equal everywhere, snapshot included: nothing is written.
                return Ok(Merged::Unchanged);
            }
            let found = u32::try_from(conflicts.len()).unwrap_or(u32::MAX);
            let apply = MergeApply {
                project_id: scope.project_id,
                link_id: linked.link_id,
                task_id: linked.task.id,
                expected_updated_at: linked.task.updated_at,
                task_patch: m.task_patch.clone(),
                snapshot: snapshot_moves.then(|| m.target.clone()),
                etag: seen.etag.clone(),
                link: seen.link.clone(),
                events,
                conflicts,
            };
            match self.store.apply(&apply).await? {
                Applied::Done => {
                    return Ok(if echo {
                        Merged::EchoIgnored
                    } else if changed {
                        Merged::Updated { conflicts: found }
                    } else {
                        Merged::Unchanged
                    });
                }
                Applied::Stale => {
                    base = Some(if sent.is_empty() {
                        m.base().clone()
                    } else {
                        carry_github_writes(&m, &mut carried_events, &mut carried_conflicts);
                        m.base_after_stale(&sent)
                    });
                    tracing::debug!(project_id = %scope.project_id, issue_number = seen.number,
                        "the task changed during its merge; merging again");
                    match self.reread(scope, &linked).await? {
                        Some(again) => linked = again,
                        None => return Ok(Merged::Skipped),
                    }
                }
            }
        }
        self.kept_changing(scope, &linked, carried_events, cause)
            .await
    }
}

/// Keeps the events and conflicts of what a refused attempt wrote to GitHub (a
/// PATCH cannot be taken back): `to_github` updates and the conflicts pmhub won.
fn carry_github_writes(
    m: &Merge,
    events: &mut Vec<NewSyncEvent>,
    conflicts: &mut Vec<NewConflict>,
) {
    events.extend(
        m.events
            .iter()
            .filter(|e| e.direction == Some(SyncDirectionOfChange::ToGithub))
            .cloned(),
    );
    conflicts.extend(
        m.conflicts
            .iter()
            .filter(|c| c.policy == ConflictPolicy::PmhubWins)
            .cloned(),
    );
}

/// An event of `kind` about the linked issue.
fn event(
    scope: MergeScope<'_>,
    linked: &LinkedIssue,
    kind: SyncEventKind,
    cause: &str,
) -> NewSyncEvent {
    NewSyncEvent {
        run_id: scope.run_id,
        task_id: Some(linked.task.id),
        task_number: Some(linked.task.number),
        issue_number: Some(linked.issue_number),
        detail: Some(cause.to_string()),
        ..NewSyncEvent::new(kind)
    }
}

#[cfg(test)]
#[path = "merger_tests.rs"]
mod tests;
