//! The reconcile (`github.reconcile`) and its periodic tick
//! (`github.reconcile_tick`): repairs what deliveries missed.
//!
//! Per project: list the issues updated since the watermark minus an overlap
//! (GitHub's timestamps have one-second resolution and a change can become
//! visible to the listing after a later one), least recently updated first, with
//! the ETag on the first page — an idle repository costs one `304` and writes
//! nothing. Otherwise every page is merged (linked issues) and imported (new
//! ones) like a sync, in a `reconcile` run, and the watermark moves to the latest
//! `updated_at` merged (never past an issue whose merge failed).

use crate::import::issue_import;
use crate::run::{PageGuard, page_extra};
use crate::tokens::TokenSource;
use crate::two_way::jobs::{add_merge_counts, payload_of};
use crate::two_way::merger::{MergeScope, TwoWayMerger};
use crate::two_way::{
    IssueFields, LinkState, LinkedIssue, MergePayload, MergeStore, RECONCILE_JOB,
    SyncSettingsStore, TwoWayProject, reconcile_key,
};
use crate::{
    GithubApi, GithubIssue, IssueImport, IssuePage, IssuePageRequest, SyncKind, SyncStatus,
    SyncStore,
};
use async_trait::async_trait;
use pm_jobs::{Job, JobContext, JobHandler, JobOutcome, JobQueue, NewJob, StopReason};
use pm_kernel::{ProjectId, Result, SyncRunId, Timestamp, WorkspaceId};
use pm_projects::RepoFullName;
use std::sync::Arc;
use std::time::Duration;

/// How far before the watermark a reconcile starts listing.
pub const RECONCILE_OVERLAP: Duration = Duration::from_secs(2 * 60);

/// The default of `github.reconcile_interval_secs`: how often the tick runs.
pub const DEFAULT_RECONCILE_INTERVAL_SECS: u64 = 900;

/// Listings a reconcile makes at most after its own, from the watermark it moved to
/// (see [`ReconcileJobHandler::reconcile`]).
pub const SETTLE_LISTINGS: usize = 3;

/// The `detail` of events written by a reconcile's merges.
pub const RECONCILE_CAUSE: &str = "reconcile";

/// The reconcile job of a project (one at a time per project: a tick while one is
/// queued or running joins it).
pub fn reconcile_job(project_id: ProjectId, workspace_id: WorkspaceId) -> NewJob {
    let payload = MergePayload {
        project_id: project_id.into_uuid(),
        workspace_id: workspace_id.into_uuid(),
    };
    NewJob::new(
        RECONCILE_JOB,
        serde_json::to_value(payload).unwrap_or_default(),
    )
    .concurrency_key(reconcile_key(project_id))
    .project(project_id)
    .workspace(workspace_id)
}

/// What one reconcile did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// The project does not sync both ways (or has no repository): nothing read.
    NotTwoWay,
    /// GitHub answered `304` to the first page: nothing changed, nothing written.
    NotModified,
    /// Pages were merged and imported in the run.
    Ran {
        /// The `reconcile` run.
        run_id: SyncRunId,
        /// Stopped at a safe point before the last page.
        stopped: bool,
    },
}

/// Runs `github.reconcile` jobs (register it under [`RECONCILE_JOB`]).
pub struct ReconcileJobHandler {
    merger: TwoWayMerger,
    store: Arc<dyn MergeStore>,
    runs: Arc<dyn SyncStore>,
    settings: Arc<dyn SyncSettingsStore>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
}

/// How far a reconcile got: where the watermark may move.
struct Progress {
    /// The watermark as read (it only moves forward).
    start: Option<Timestamp>,
    /// The latest `updated_at` merged, before the first failure.
    reached: Option<Timestamp>,
    /// An issue failed: the watermark stays before it, so the next reconcile
    /// reads it again.
    frozen: bool,
}

impl Progress {
    fn page(&mut self, page: &IssuePage, failed: &std::collections::HashSet<i64>) {
        for issue in &page.issues {
            if failed.contains(&issue.id) {
                self.frozen = true;
            }
            if self.frozen {
                continue;
            }
            if let Some(at) = issue.updated_at {
                self.reached = Some(self.reached.map_or(at, |r| r.max(at)));
            }
        }
    }

    /// The new watermark, if it moved forward.
    fn moved(&self) -> Option<Timestamp> {
        self.reached.filter(|r| self.start.is_none_or(|s| *r > s))
    }
}

impl ReconcileJobHandler {
    /// The handler over its ports.
    pub fn new(
        merger: TwoWayMerger,
        store: Arc<dyn MergeStore>,
        runs: Arc<dyn SyncStore>,
        settings: Arc<dyn SyncSettingsStore>,
        github: Arc<dyn GithubApi>,
        tokens: TokenSource,
    ) -> Self {
        Self {
            merger,
            store,
            runs,
            settings,
            github,
            tokens,
        }
    }

    /// Reconciles one project.
    pub async fn reconcile(
        &self,
        project_id: ProjectId,
        workspace_id: WorkspaceId,
        ctx: &JobContext,
    ) -> Result<Reconciled> {
        let settings = self.settings.get(project_id).await?;
        if !settings.is_two_way() {
            return Ok(Reconciled::NotTwoWay);
        }
        let Some(project) = self.store.project(project_id).await? else {
            return Ok(Reconciled::NotTwoWay);
        };
        let repo = RepoFullName::parse(&project.repo_full_name)?;
        let token = self.tokens.token_for(workspace_id).await?;
        let watermark = self.store.reconcile_watermark(project_id).await?;
        // Never reconciled: everything, in the same order (updated, oldest first).
        let since = watermark.map_or(Timestamp::UNIX_EPOCH, |w| w - RECONCILE_OVERLAP);
        let first = IssuePageRequest::UpdatedSince {
            repo: repo.clone(),
            since,
        };
        let page = self.github.list_issues(&token, &first).await?;
        if page.not_modified || self.idle(project_id, &page, watermark).await? {
            return Ok(Reconciled::NotModified);
        }
        let run_id = self
            .runs
            .start_run(project_id, SyncKind::Reconcile, repo.as_str())
            .await?;
        let mut progress = Progress {
            start: watermark,
            reached: None,
            frozen: false,
        };
        let scope = MergeScope {
            token: &token,
            project_id,
            project_repo: &project.repo_full_name,
            policy: settings.conflict_policy,
            run_id: Some(run_id),
        };
        let mut outcome = self
            .pages(scope, run_id, &repo, page, &mut progress, ctx)
            .await;
        // Settle: the next reconcile lists `since` the new watermark minus the overlap,
        // a request nobody made yet (GitHub would answer it 200 and charge it). List it
        // now, in this run: what changed while this reconcile ran is merged, and its
        // ETag is cached, so an idle repository's next reconcile is one `304` that
        // writes nothing. Again while the watermark keeps moving, a few times at most.
        let mut listed_from = watermark;
        for _ in 0..SETTLE_LISTINGS {
            let Some(moved) = progress.moved().filter(|m| Some(*m) != listed_from) else {
                break;
            };
            if progress.frozen || !matches!(outcome, Ok(false)) || ctx.should_stop() {
                break;
            }
            listed_from = Some(moved);
            let request = IssuePageRequest::UpdatedSince {
                repo: repo.clone(),
                since: moved - RECONCILE_OVERLAP,
            };
            outcome = match self.github.list_issues(&token, &request).await {
                Ok(page) if page.not_modified => break,
                Ok(page) => {
                    self.pages(scope, run_id, &repo, page, &mut progress, ctx)
                        .await
                }
                Err(err) => Err(err.into()),
            };
        }
        if ctx.stop_reason() == Some(StopReason::LeaseLost) {
            // Another runner may have the job: write nothing more.
            return outcome.map(|stopped| Reconciled::Ran { run_id, stopped });
        }
        // What was merged stays merged, also when a later page failed.
        if let Some(watermark) = progress.moved() {
            self.store
                .set_reconcile_watermark(project_id, &project.repo_full_name, watermark)
                .await?;
        }
        self.finish(&project, run_id, &outcome, ctx).await?;
        outcome.map(|stopped| Reconciled::Ran { run_id, stopped })
    }

    /// A first page that leaves nothing to do although GitHub answered it `200` (the
    /// ETag cache is per process: after a restart or an eviction an idle repository's
    /// page comes back whole): the only page, nothing in it newer than the watermark,
    /// and every issue linked, active, where its link says, and equal on both sides
    /// to its snapshot. Then the reconcile writes nothing, as after a `304` (and the
    /// page's ETag is now cached for the next one).
    async fn idle(
        &self,
        project_id: ProjectId,
        page: &IssuePage,
        watermark: Option<Timestamp>,
    ) -> Result<bool> {
        let Some(watermark) = watermark else {
            return Ok(false);
        };
        let newer = |issue: &GithubIssue| issue.updated_at.is_none_or(|u| u > watermark);
        if page.next.is_some() || page.issues.iter().any(newer) {
            return Ok(false);
        }
        if page.issues.is_empty() {
            return Ok(true);
        }
        let ids: Vec<i64> = page.issues.iter().map(|i| i.id).collect();
        let linked = self.store.linked_issues(project_id, &ids).await?;
        Ok(page.issues.iter().all(|issue| {
            linked
                .iter()
                .find(|l| l.github_issue_id == issue.id)
                .is_some_and(|l| in_step(l, issue))
        }))
    }

    /// Merges and imports page after page; true when it stopped at a safe point.
    async fn pages(
        &self,
        scope: MergeScope<'_>,
        run_id: SyncRunId,
        repo: &RepoFullName,
        mut page: IssuePage,
        progress: &mut Progress,
        ctx: &JobContext,
    ) -> Result<bool> {
        let host = self.github.host();
        let mut guard = PageGuard::default();
        loop {
            let merged = self
                .merger
                .merge_listed(scope, &page.issues, RECONCILE_CAUSE)
                .await?;
            // New issues become tasks exactly as an import stores them; linked
            // ones are skipped there (and counted `skipped`).
            let imports: Vec<IssueImport> = page
                .issues
                .iter()
                .map(|issue| issue_import(&host, repo, issue))
                .collect();
            self.runs
                .import_page(scope.project_id, run_id, &imports, page_extra(&page))
                .await?;
            add_merge_counts(self.store.as_ref(), run_id, merged.counts).await?;
            progress.page(&page, &merged.failed);
            let Some(url) = guard.next(page.next.take())? else {
                return Ok(false);
            };
            if ctx.should_stop() {
                return Ok(true);
            }
            page = self
                .github
                .list_issues(scope.token, &IssuePageRequest::Next { url })
                .await?;
        }
    }

    async fn finish(
        &self,
        project: &TwoWayProject,
        run_id: SyncRunId,
        outcome: &Result<bool>,
        ctx: &JobContext,
    ) -> Result<()> {
        let (status, code) = match outcome {
            Ok(false) => (SyncStatus::Succeeded, None),
            Ok(true) if ctx.stop_reason() == Some(StopReason::Canceled) => {
                (SyncStatus::Canceled, None)
            }
            Ok(true) => (SyncStatus::Failed, Some(crate::INTERRUPTED.to_string())),
            Err(err) => (SyncStatus::Failed, Some(err.code().to_string())),
        };
        match outcome {
            Ok(_) => {
                tracing::info!(slug = %project.slug, run_id = %run_id, status = status.as_str(), "reconcile finished")
            }
            Err(err) => {
                tracing::warn!(slug = %project.slug, run_id = %run_id, error_code = err.code(),
                detail = %err, "reconcile failed; what was merged is kept")
            }
        }
        self.runs.finish_run(run_id, status, None, code).await
    }
}

#[async_trait]
impl JobHandler for ReconcileJobHandler {
    async fn run(&self, job: &Job, ctx: &JobContext) -> JobOutcome {
        let (project_id, workspace_id) = match payload_of(job) {
            Ok(ids) => ids,
            Err(outcome) => return outcome,
        };
        match self.reconcile(project_id, workspace_id, ctx).await {
            Ok(Reconciled::Ran { stopped: true, .. }) => JobOutcome::Stopped,
            Ok(_) => JobOutcome::Succeeded,
            Err(err) => JobOutcome::from_error(&err, pm_kernel::now()),
        }
    }
}

/// Runs the periodic `github.reconcile_tick`: one reconcile job per project that
/// syncs both ways (a project whose reconcile is still queued or running joins it).
pub struct ReconcileTickHandler {
    store: Arc<dyn MergeStore>,
    queue: Arc<dyn JobQueue>,
}

impl ReconcileTickHandler {
    /// Over the store that lists the projects and the queue the jobs go to.
    pub fn new(store: Arc<dyn MergeStore>, queue: Arc<dyn JobQueue>) -> Self {
        Self { store, queue }
    }

    /// Enqueues the reconciles; returns how many projects there were.
    pub async fn tick(&self) -> Result<usize> {
        let projects = self.store.two_way_projects().await?;
        for project in &projects {
            let job = reconcile_job(project.project_id, project.workspace_id);
            job.validate()?;
            self.queue.enqueue(job).await?;
        }
        Ok(projects.len())
    }
}

#[async_trait]
impl JobHandler for ReconcileTickHandler {
    async fn run(&self, _job: &Job, _ctx: &JobContext) -> JobOutcome {
        match self.tick().await {
            Ok(n) => {
                tracing::debug!(projects = n, "reconciles enqueued");
                JobOutcome::Succeeded
            }
            Err(err) => JobOutcome::from_error(&err, pm_kernel::now()),
        }
    }
}

/// The link is active, names the issue where GitHub has it, and the task, the
/// issue and the snapshot hold the same fields: a merge would do nothing.
fn in_step(linked: &LinkedIssue, issue: &GithubIssue) -> bool {
    let same_place = linked.issue_number == issue.number
        && issue
            .repo_full_name
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case(&linked.repo_full_name));
    linked.state == LinkState::Active
        && same_place
        && linked.snapshot.as_ref().is_some_and(|snapshot| {
            *snapshot == IssueFields::of_issue(issue)
                && *snapshot == IssueFields::of_task(&linked.task)
        })
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
