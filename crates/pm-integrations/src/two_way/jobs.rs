//! The merge job (`github.merge`) and the two-way part of a manual sync.
//!
//! - [`MergeJobHandler`]: drains a project's dirty issues (marked by deliveries and
//!   task edits) through the [`TwoWayMerger`], clearing each mark with its
//!   generation (a mark made during the merge survives it), then — with
//!   `push_new_tasks` — starts a push of the project's unlinked tasks.
//! - [`TwoWaySync`]: what the import job (`POST …/github/sync`) does besides
//!   importing new issues in a two-way project: merges the page's linked issues.

use crate::jobs::SyncJobs;
use crate::tokens::TokenSource;
use crate::two_way::merger::{MergeScope, TwoWayMerger};
use crate::two_way::{MergePayload, MergeStore, SyncSettingsStore, TwoWayProject};
use crate::webhooks::DirtyIssues;
use crate::{GithubIssue, PushStore, SyncCounts, SyncKind};
use async_trait::async_trait;
use pm_jobs::{Job, JobContext, JobError, JobHandler, JobOutcome};
use pm_kernel::{ProjectId, Result, SyncRunId, WorkspaceId};
use pm_projects::{RepoFullName, Slug};
use secrecy::SecretString;
use std::sync::Arc;

/// How many dirty issues the merge job reads at a time.
pub const MERGE_BATCH: u32 = 100;

/// The `detail` of events written by a manual sync's merges.
pub const SYNC_CAUSE: &str = "sync";

/// Runs `github.merge` jobs (register it under [`crate::two_way::MERGE_JOB`]).
pub struct MergeJobHandler {
    merger: TwoWayMerger,
    store: Arc<dyn MergeStore>,
    dirty: Arc<dyn DirtyIssues>,
    settings: Arc<dyn SyncSettingsStore>,
    tokens: TokenSource,
    pushes: Option<(SyncJobs, Arc<dyn PushStore>)>,
}

impl MergeJobHandler {
    /// The handler over its ports.
    pub fn new(
        merger: TwoWayMerger,
        store: Arc<dyn MergeStore>,
        dirty: Arc<dyn DirtyIssues>,
        settings: Arc<dyn SyncSettingsStore>,
        tokens: TokenSource,
    ) -> Self {
        Self {
            merger,
            store,
            dirty,
            settings,
            tokens,
            pushes: None,
        }
    }

    /// Also pushes a project's new (unlinked) tasks after the merge when its
    /// settings ask for it (`push_new_tasks`), through the push job of `jobs`.
    pub fn with_push(mut self, jobs: SyncJobs, push_store: Arc<dyn PushStore>) -> Self {
        self.pushes = Some((jobs, push_store));
        self
    }

    /// Drains the project's dirty issues; false when it stopped at a safe point.
    async fn drain(
        &self,
        project_id: ProjectId,
        workspace_id: WorkspaceId,
        ctx: &JobContext,
    ) -> Result<bool> {
        let settings = self.settings.get(project_id).await?;
        let project = match settings.is_two_way() {
            true => self.store.project(project_id).await?,
            false => None,
        };
        // An import_only project (or one without a repository) merges nothing:
        // its marks are cleared without a call to GitHub.
        let token = match &project {
            Some(_) => Some(self.tokens.token_for(workspace_id).await?),
            None => None,
        };
        loop {
            let batch = self.dirty.list(project_id, MERGE_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for dirty in &batch {
                if ctx.should_stop() {
                    return Ok(false);
                }
                if let (Some(project), Some(token)) = (&project, &token) {
                    let scope = MergeScope {
                        token,
                        project_id,
                        project_repo: &project.repo_full_name,
                        policy: settings.conflict_policy,
                        run_id: None,
                    };
                    // A rate limit or an outage stops here, keeping this and
                    // every later mark for the next attempt.
                    self.merger.merge_dirty(scope, dirty).await?;
                }
                self.dirty
                    .clear(project_id, dirty.github_issue_id, dirty.generation)
                    .await?;
            }
        }
        if let (Some(project), true) = (&project, settings.push_new_tasks) {
            self.push_new_tasks(project).await?;
        }
        Ok(true)
    }

    /// Starts (or joins) a push when the project has unlinked tasks.
    async fn push_new_tasks(&self, project: &TwoWayProject) -> Result<()> {
        let Some((jobs, push_store)) = &self.pushes else {
            return Ok(());
        };
        if push_store
            .backlog(project.project_id)
            .await?
            .unlinked
            .is_empty()
        {
            return Ok(());
        }
        let slug = Slug::parse(&project.slug)?;
        let (run, joined) = jobs
            .start_unattended(project.workspace_id, &slug, SyncKind::Push)
            .await?;
        tracing::info!(slug = %project.slug, run_id = %run.id, joined, "new tasks to push: push run started");
        Ok(())
    }
}

/// The project and workspace a merge or reconcile job names.
pub(crate) fn payload_of(job: &Job) -> std::result::Result<(ProjectId, WorkspaceId), JobOutcome> {
    let payload: MergePayload = serde_json::from_value(job.payload.clone()).map_err(|e| {
        JobOutcome::Fail(JobError::new(
            "BAD_PAYLOAD",
            format!("not a merge payload: {e}"),
        ))
    })?;
    Ok((
        ProjectId::from_uuid(payload.project_id),
        WorkspaceId::from_uuid(payload.workspace_id),
    ))
}

#[async_trait]
impl JobHandler for MergeJobHandler {
    async fn run(&self, job: &Job, ctx: &JobContext) -> JobOutcome {
        let (project_id, workspace_id) = match payload_of(job) {
            Ok(ids) => ids,
            Err(outcome) => return outcome,
        };
        match self.drain(project_id, workspace_id, ctx).await {
            Ok(true) => JobOutcome::Succeeded,
            Ok(false) => JobOutcome::Stopped,
            Err(err) => {
                tracing::warn!(project_id = %project_id, error_code = err.code(), detail = %err,
                    "merge job stopped; the issues still dirty are kept for the next attempt");
                JobOutcome::from_error(&err, pm_kernel::now())
            }
        }
    }
}

/// The two-way part of a manual sync: the page's linked issues are merged (counts
/// `updated`, `unchanged`, `conflicts`; `skipped` stays the number of linked
/// issues, which the page's store counts).
#[derive(Clone)]
pub struct TwoWaySync {
    merger: TwoWayMerger,
    settings: Arc<dyn SyncSettingsStore>,
    store: Arc<dyn MergeStore>,
}

/// How a sync merges, decided once per run.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    project_id: ProjectId,
    project_repo: String,
    policy: crate::two_way::ConflictPolicy,
}

impl TwoWaySync {
    /// Over the merger and the ports it reads the settings and project from.
    pub fn new(
        merger: TwoWayMerger,
        settings: Arc<dyn SyncSettingsStore>,
        store: Arc<dyn MergeStore>,
    ) -> Self {
        Self {
            merger,
            settings,
            store,
        }
    }

    /// `Some` when a sync of `repo` merges: the project syncs both ways and `repo`
    /// is its repository. `None` (an `import_only` project, or an import of
    /// another repository) keeps the seed's behaviour exactly.
    pub async fn plan(
        &self,
        project_id: ProjectId,
        repo: &RepoFullName,
    ) -> Result<Option<SyncPlan>> {
        let settings = self.settings.get(project_id).await?;
        if !settings.is_two_way() {
            return Ok(None);
        }
        Ok(self
            .store
            .project(project_id)
            .await?
            .filter(|p| p.repo_full_name.eq_ignore_ascii_case(repo.as_str()))
            .map(|p| SyncPlan {
                project_id,
                project_repo: p.repo_full_name,
                policy: settings.conflict_policy,
            }))
    }

    /// Merges the page's linked issues and adds what that did to the run.
    pub async fn merge_page(
        &self,
        plan: &SyncPlan,
        token: &SecretString,
        run_id: SyncRunId,
        issues: &[GithubIssue],
    ) -> Result<()> {
        let scope = MergeScope {
            token,
            project_id: plan.project_id,
            project_repo: &plan.project_repo,
            policy: plan.policy,
            run_id: Some(run_id),
        };
        let merged = self.merger.merge_listed(scope, issues, SYNC_CAUSE).await?;
        add_merge_counts(self.store.as_ref(), run_id, merged.counts).await
    }
}

/// Adds a page's merge counts to the run (no statement when there are none).
pub(crate) async fn add_merge_counts(
    store: &dyn MergeStore,
    run_id: SyncRunId,
    counts: SyncCounts,
) -> Result<()> {
    if counts == SyncCounts::default() {
        return Ok(());
    }
    store.add_counts(run_id, counts).await
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
