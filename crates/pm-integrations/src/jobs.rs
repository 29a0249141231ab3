//! Imports and pushes as durable jobs (ADR 0018).
//!
//! The sync run (`SyncRun`) stays the user-visible record: it carries its job's id,
//! its counts and its progress. The job (`pm_jobs::Job`) carries what a worker
//! needs: the lease, the attempts, when it may run again. `POST …/sync` checks what
//! needs no long work (input, token, the repository), then records the run and its
//! job in one transaction; a worker runs it ([`RunJobHandler`]), checkpointing as
//! it goes. A run's status is the job's while the run is not finished, so a run
//! whose process died shows `queued` as soon as its lease ran out.

use crate::import::issue_import;
use crate::push::PushHook;
use crate::run::PageGuard;
use crate::tokens::TokenSource;
use crate::two_way::jobs::TwoWaySync;
use crate::{
    GithubApi, IssueImport, IssuePageRequest, PushService, SyncCounts, SyncKind, SyncRun,
    SyncStatus, SyncStore,
};
use futures_util::future::join;
use pm_jobs::{
    CancelOutcome, Job, JobContext, JobError, JobHandler, JobId, JobOutcome, JobQueue, JobStatus,
    NewJob, StopReason,
};
use pm_kernel::{Actor, Cursor, Error, Limit, Page, ProjectId, Result, SyncRunId, WorkspaceId};
use pm_projects::{ProjectRepository, RepoFullName, Slug, project_of};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How often an import copies its position into its job's `progress`.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The job kind of an import.
pub const IMPORT_JOB: &str = "github.import";
/// The job kind of a push.
pub const PUSH_JOB: &str = "github.push";

/// What a run's job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPayload {
    /// The sync run the job carries out.
    pub run_id: uuid::Uuid,
    /// The workspace whose GitHub token the run uses.
    pub workspace_id: uuid::Uuid,
    /// The run's project.
    pub project_id: uuid::Uuid,
    /// Slugs never change, so the worker finds the project by it.
    pub slug: String,
}

/// The job kind that carries runs of `kind`.
pub const fn job_kind(kind: SyncKind) -> &'static str {
    match kind {
        SyncKind::Import => IMPORT_JOB,
        SyncKind::Push => PUSH_JOB,
        SyncKind::Reconcile => crate::two_way::RECONCILE_JOB,
    }
}

/// One active run per project and kind, across every process.
pub fn concurrency_key(kind: SyncKind, project_id: ProjectId) -> String {
    let kind = match kind {
        SyncKind::Import => "import",
        SyncKind::Push => "push",
        SyncKind::Reconcile => "reconcile",
    };
    format!("github:{kind}:project:{project_id}")
}

/// The run as it should be shown now: while the run is not finished, its job
/// decides the status (a run whose worker died shows `queued` once the lease ran
/// out, a parked one `waiting` with `resumes_at`).
pub fn observe(mut run: SyncRun, job: Option<&Job>) -> SyncRun {
    let Some(job) = job else {
        return run;
    };
    run.attempts = job.attempts;
    if run.status.is_finished() {
        return run;
    }
    run.status = match job.status {
        JobStatus::Queued => SyncStatus::Queued,
        JobStatus::Running => SyncStatus::Running,
        JobStatus::Waiting => SyncStatus::Waiting,
        JobStatus::Succeeded => SyncStatus::Succeeded,
        JobStatus::Failed => SyncStatus::Failed,
        JobStatus::Canceled => SyncStatus::Canceled,
    };
    run.resumes_at = (run.status == SyncStatus::Waiting).then_some(job.run_at);
    if job.status.is_finished() {
        run.finished_at = run.finished_at.or(job.finished_at);
        if job.status == JobStatus::Failed {
            run.error_code = job.last_error.as_ref().map(|e| e.code.clone());
        }
    }
    run
}

/// Starting, showing and canceling background runs, and running them.
#[derive(Clone)]
pub struct SyncJobs {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    runs: Arc<dyn SyncStore>,
    queue: Arc<dyn JobQueue>,
    pusher: PushService,
    leases: Arc<dyn pm_projects::ProjectLeases>,
    two_way: Option<TwoWaySync>,
}

impl SyncJobs {
    /// The service over its ports; `queue` is where runs' jobs go.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        github: Arc<dyn GithubApi>,
        tokens: TokenSource,
        runs: Arc<dyn SyncStore>,
        queue: Arc<dyn JobQueue>,
        pusher: PushService,
        leases: Arc<dyn pm_projects::ProjectLeases>,
    ) -> Self {
        Self {
            projects,
            github,
            tokens,
            runs,
            queue,
            pusher,
            leases,
            two_way: None,
        }
    }

    /// Imports of a project that syncs both ways also merge the linked issues of
    /// each page (ADR 0024); without this, every import behaves as `import_only`.
    pub fn with_two_way(mut self, two_way: TwoWaySync) -> Self {
        self.two_way = Some(two_way);
        self
    }

    /// Checks what needs no long work (the project, the repository to use, the
    /// token, that GitHub shows the repository to it), then queues the run; while
    /// a run of the same kind is active for the project, returns that one instead.
    pub async fn start(
        &self,
        actor: &Actor,
        slug: &Slug,
        kind: SyncKind,
        repo: Option<RepoFullName>,
    ) -> Result<(SyncRun, bool)> {
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let repo = run_repo(&project, kind, repo)?;
        let token = self.tokens.token_for(actor.workspace_id).await?;
        self.github.get_repo(&token, &repo).await?;
        self.enqueue(&project, kind, repo).await
    }

    /// Queues a run nobody asked for through the API (the merge job pushes new
    /// tasks of a project with `push_new_tasks`): no caller's role to check, and
    /// no GitHub call — the run's job reports a token or repository problem
    /// itself. Joins an active run of the same kind like [`SyncJobs::start`].
    pub async fn start_unattended(
        &self,
        workspace_id: WorkspaceId,
        slug: &Slug,
        kind: SyncKind,
    ) -> Result<(SyncRun, bool)> {
        let project = self
            .projects
            .get(workspace_id, slug)
            .await?
            .ok_or(Error::NotFound("project"))?;
        let repo = run_repo(&project, kind, None)?;
        self.enqueue(&project, kind, repo).await
    }

    /// Records the run and its job in one transaction (or joins the active one).
    async fn enqueue(
        &self,
        project: &pm_projects::Project,
        kind: SyncKind,
        repo: RepoFullName,
    ) -> Result<(SyncRun, bool)> {
        let workspace_id = project.workspace_id;
        let run_id = SyncRunId::new();
        let payload = RunPayload {
            run_id: run_id.into_uuid(),
            workspace_id: workspace_id.into_uuid(),
            project_id: project.id.into_uuid(),
            slug: project.slug.to_string(),
        };
        let job = NewJob::new(
            job_kind(kind),
            serde_json::to_value(&payload).map_err(Error::internal)?,
        )
        .concurrency_key(concurrency_key(kind, project.id))
        .workspace(workspace_id)
        .project(project.id);
        job.validate()?;
        let started = self
            .runs
            .enqueue_run(run_id, project.id, kind, repo.as_str(), job)
            .await?;
        if started.joined {
            tracing::info!(slug = %project.slug, run_id = %started.run.id, "a run of this kind is active for the project; joined it");
        } else {
            tracing::info!(slug = %project.slug, run_id = %run_id, kind = ?kind, "run queued");
        }
        let run = self.observed(started.run).await?;
        Ok((run, started.joined))
    }

    /// The run with its job's live state, if it belongs to the project (another
    /// project's or workspace's run is `NotFound`).
    pub async fn get(&self, actor: &Actor, slug: &Slug, run_id: SyncRunId) -> Result<SyncRun> {
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let run = self
            .runs
            .get_run(run_id)
            .await?
            .filter(|r| r.project_id == project.id)
            .ok_or(Error::NotFound("sync run"))?;
        self.observed(run).await
    }

    /// Cancels a queued or waiting run at once, or asks a running one to stop at its
    /// next page or create. True when it is canceled already; false when asked.
    /// A finished run is `Conflict` (a canceled one is returned as it is).
    pub async fn cancel(
        &self,
        actor: &Actor,
        slug: &Slug,
        run_id: SyncRunId,
    ) -> Result<(SyncRun, bool)> {
        let run = self.get(actor, slug, run_id).await?;
        if run.status == SyncStatus::Canceled {
            return Ok((run, true));
        }
        let (Some(job_id), false) = (run.job_id, run.status.is_finished()) else {
            return Err(Error::conflict(
                pm_kernel::ConflictReason::RunFinished,
                format!(
                    "the run has finished ({}); there is nothing to cancel",
                    run.status.as_str()
                ),
            ));
        };
        let done = match self.queue.cancel(JobId::from_uuid(job_id)).await? {
            CancelOutcome::Canceled => {
                self.runs
                    .finish_run(run.id, SyncStatus::Canceled, None, None)
                    .await?;
                true
            }
            CancelOutcome::Requested => false,
            CancelOutcome::AlreadyFinished => true,
        };
        Ok((self.get(actor, slug, run_id).await?, done))
    }

    /// The project's runs, newest first, active ones with their jobs' state.
    pub async fn history(
        &self,
        actor: &Actor,
        slug: &Slug,
        cursor: Option<&Cursor>,
        limit: Limit,
    ) -> Result<Page<SyncRun>> {
        let before = cursor
            .map(|c| c.parse_key::<uuid::Uuid>().map(SyncRunId::from_uuid))
            .transpose()?;
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let rows = self.runs.list_runs(project.id, before, limit).await?;
        let mut observed = Vec::with_capacity(rows.len());
        for run in rows {
            observed.push(if run.status.is_finished() {
                run
            } else {
                self.observed(run).await?
            });
        }
        Ok(Page::from_rows(observed, limit, |r| r.id.to_string()))
    }

    async fn observed(&self, run: SyncRun) -> Result<SyncRun> {
        let job = match run.job_id {
            Some(id) => self.queue.get(JobId::from_uuid(id)).await?,
            None => None,
        };
        Ok(observe(run, job.as_ref()))
    }

    /// The handler that runs jobs of `kind` (register it under [`job_kind`]).
    pub fn handler(&self, kind: SyncKind) -> RunJobHandler {
        RunJobHandler {
            jobs: self.clone(),
            kind,
        }
    }

    // ---- what a worker does ----

    async fn run_job(&self, kind: SyncKind, job: &Job, ctx: &JobContext) -> JobOutcome {
        let payload: RunPayload = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => {
                return JobOutcome::Fail(JobError::new(
                    "BAD_PAYLOAD",
                    format!("not a run's payload: {e}"),
                ));
            }
        };
        let run_id = SyncRunId::from_uuid(payload.run_id);
        let run = match self.runs.get_run(run_id).await {
            Ok(Some(run)) => run,
            Ok(None) => return JobOutcome::Fail(JobError::new("NOT_FOUND", "the run is gone")),
            Err(e) => return JobOutcome::from_error(&e, pm_kernel::now()),
        };
        if run.status.is_finished() {
            return JobOutcome::Succeeded;
        }
        if ctx.should_stop() {
            return self.stopped(ctx, run_id, None).await;
        }
        let worked = async {
            self.runs
                .set_run_state(run_id, SyncStatus::Running, None, None)
                .await?;
            let workspace_id = WorkspaceId::from_uuid(payload.workspace_id);
            let token = self.tokens.token_for(workspace_id).await?;
            let repo = RepoFullName::parse(&run.repo)?;
            match kind {
                SyncKind::Import => self.import(ctx, &run, &repo, &token).await,
                SyncKind::Push => {
                    self.push(ctx, job, &payload, &run, &repo, &token, workspace_id)
                        .await
                }
                SyncKind::Reconcile => Err(Error::invalid(
                    "kind",
                    "a reconcile runs as its own job (github.reconcile)",
                )),
            }
        }
        .await;
        match worked {
            Ok(Done::Finished(counts)) => {
                match self
                    .runs
                    .finish_run(run_id, SyncStatus::Succeeded, counts, None)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(run_id = %run_id, "{} finished", what(kind));
                        JobOutcome::Succeeded
                    }
                    Err(e) => JobOutcome::from_error(&e, pm_kernel::now()),
                }
            }
            Ok(Done::Stopped(counts)) => self.stopped(ctx, run_id, counts).await,
            Err(err) => self.failed(ctx, kind, job, run_id, err).await,
        }
    }

    /// Records why the attempt ended with an error and tells the queue what next:
    /// a rate limit parks the run (`waiting` until GitHub's reset, the attempt given
    /// back), a transient error is retried, anything else fails the run.
    async fn failed(
        &self,
        ctx: &JobContext,
        kind: SyncKind,
        job: &Job,
        run_id: SyncRunId,
        err: Error,
    ) -> JobOutcome {
        if ctx.stop_reason() == Some(StopReason::LeaseLost) {
            // Another worker may hold the run now: write nothing.
            return JobOutcome::Stopped;
        }
        let outcome = JobOutcome::from_error(&err, pm_kernel::now());
        let code = Some(err.code().to_string());
        tracing::warn!(run_id = %run_id, error_code = err.code(), detail = %err,
            "{} attempt ended with an error; what was stored is kept", what(kind));
        let recorded = match &outcome {
            JobOutcome::Park { until, .. } => {
                self.runs
                    .set_run_state(run_id, SyncStatus::Waiting, Some(*until), code)
                    .await
            }
            JobOutcome::Retry { .. } if job.attempts < job.max_attempts => {
                self.runs
                    .set_run_state(run_id, SyncStatus::Queued, None, code)
                    .await
            }
            _ => {
                self.runs
                    .finish_run(run_id, SyncStatus::Failed, None, code)
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(run_id = %run_id, error = %e, "could not record the run's state");
        }
        outcome
    }

    /// The handler stopped at a safe point: a cancel ends the run, a shutdown
    /// hands it back to the queue, a lost lease writes nothing.
    async fn stopped(
        &self,
        ctx: &JobContext,
        run_id: SyncRunId,
        counts: Option<SyncCounts>,
    ) -> JobOutcome {
        let recorded = match ctx.stop_reason() {
            Some(StopReason::Canceled) => {
                self.runs
                    .finish_run(run_id, SyncStatus::Canceled, counts, None)
                    .await
            }
            Some(StopReason::Shutdown) => {
                self.runs
                    .set_run_state(run_id, SyncStatus::Queued, None, None)
                    .await
            }
            Some(StopReason::LeaseLost) | None => Ok(()),
        };
        if let Err(e) = recorded {
            tracing::warn!(run_id = %run_id, error = %e, "could not record the run's state");
        }
        JobOutcome::Stopped
    }

    /// Reads and stores the pages from where the run stopped (its `next_page`),
    /// fetching the next page while the current one is stored. Each page is stored
    /// with the link to the next in one transaction, then the job is checkpointed.
    async fn import(
        &self,
        ctx: &JobContext,
        run: &SyncRun,
        repo: &RepoFullName,
        token: &secrecy::SecretString,
    ) -> Result<Done> {
        let request = match (run.progress.pages, &run.progress.next_page) {
            (0, _) => IssuePageRequest::First { repo: repo.clone() },
            (_, Some(url)) => IssuePageRequest::Next { url: url.clone() },
            // The last page was stored before the process stopped.
            (_, None) => return Ok(Done::Finished(None)),
        };
        if run.progress.pages > 0 {
            tracing::info!(run_id = %run.id, pages = run.progress.pages, "import resumes at its checkpoint");
        }
        let host = self.github.host();
        let plan = match &self.two_way {
            Some(two_way) => two_way.plan(run.project_id, repo).await?,
            None => None,
        };
        let mut pages_stored = run.progress.pages;
        let mut guard = PageGuard::default();
        let mut last_checkpoint = std::time::Instant::now();
        let mut page = self.github.list_issues(token, &request).await?;
        loop {
            let imports: Vec<IssueImport> = page
                .issues
                .iter()
                .map(|issue| issue_import(&host, repo, issue))
                .collect();
            let extra = SyncCounts {
                pull_requests_ignored: page.pull_requests_skipped,
                // A page holds at most 100 items (GitHub's per_page maximum).
                total_seen: u32::try_from(page.issues.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(page.pull_requests_skipped),
                ..SyncCounts::default()
            };
            let next = guard.next(page.next.take())?;
            let issues = &page.issues;
            let store = async {
                // Two-way: the linked issues are merged before the page (and the
                // run's position) is stored, so a crash redoes them, harmlessly.
                if let (Some(two_way), Some(plan)) = (&self.two_way, &plan) {
                    two_way.merge_page(plan, token, run.id, issues).await?;
                }
                self.runs
                    .store_page(run.project_id, run.id, &imports, extra, next.clone())
                    .await
            };
            let (stored, fetched) = match &next {
                Some(url) => {
                    let request = IssuePageRequest::Next { url: url.clone() };
                    let (stored, fetched) =
                        join(store, self.github.list_issues(token, &request)).await;
                    (stored, Some(fetched))
                }
                None => (store.await, None),
            };
            stored?;
            pages_stored += 1;
            // The run's `next_page`, stored with the page, is the checkpoint that counts;
            // the job's copy (and the lease renewal it brings, besides the heartbeat's) is
            // written at most once a second, so it costs the import no round trip a page.
            if last_checkpoint.elapsed() >= CHECKPOINT_EVERY || fetched.is_none() {
                ctx.checkpoint(serde_json::json!({ "pages": pages_stored, "next_page": next }))
                    .await?;
                last_checkpoint = std::time::Instant::now();
            }
            if ctx.should_stop() {
                return Ok(Done::Stopped(None));
            }
            match fetched {
                Some(fetched) => page = fetched?,
                None => return Ok(Done::Finished(None)),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn push(
        &self,
        ctx: &JobContext,
        job: &Job,
        payload: &RunPayload,
        run: &SyncRun,
        repo: &RepoFullName,
        token: &secrecy::SecretString,
        workspace_id: WorkspaceId,
    ) -> Result<Done> {
        let slug = Slug::parse(&payload.slug)?;
        let project = self
            .projects
            .get(workspace_id, &slug)
            .await?
            .filter(|p| p.id.into_uuid() == payload.project_id)
            .ok_or(Error::NotFound("project"))?;
        // The job's id holds the push lease, so the same run taken up again after
        // a crash gets it back at once; a direct push (or another process's
        // stale holder) keeps it away.
        let Some(lease) = pm_projects::LeaseGuard::acquire_as(
            self.leases.as_ref(),
            project.id,
            pm_projects::LeasePurpose::Push,
            job.id.into_uuid(),
            crate::push::PUSH_LEASE,
        )
        .await?
        else {
            return Err(Error::Unavailable(
                "another push holds this project's push lease".into(),
            ));
        };
        let mut counts = SyncCounts {
            created: run.counts.created,
            ..SyncCounts::default()
        };
        let hook = JobHook {
            ctx,
            runs: self.runs.as_ref(),
            run_id: run.id,
        };
        let result = self
            .pusher
            .push_backlog(&project, repo, token, run.id, &lease, &mut counts, &hook)
            .await;
        if let Err(err) = lease.release().await {
            tracing::warn!(error = %err, "could not release the push lease; it expires by itself");
        }
        match result? {
            true => Ok(Done::Finished(Some(counts))),
            false => Ok(Done::Stopped(Some(counts))),
        }
    }
}

/// The repository a run of `kind` works on: an import's may be given, a push's
/// is the project's. Reconciles are not started through [`SyncJobs`] (their job
/// records its run when GitHub has something to show).
pub(crate) fn run_repo(
    project: &pm_projects::Project,
    kind: SyncKind,
    repo: Option<RepoFullName>,
) -> Result<RepoFullName> {
    match kind {
        SyncKind::Import => repo.or_else(|| project.github_repo.clone()).ok_or_else(|| {
            Error::invalid(
                "repo",
                "the project has no GitHub repository: give `repo` or link one first",
            )
        }),
        SyncKind::Push => project.github_repo.clone().ok_or_else(|| {
            Error::invalid(
                "github_repo",
                "the project has no GitHub repository: link one or approve its spec first",
            )
        }),
        SyncKind::Reconcile => Err(Error::invalid(
            "kind",
            "a reconcile is started by its periodic job, not as a run",
        )),
    }
}

fn what(kind: SyncKind) -> &'static str {
    match kind {
        SyncKind::Import => "issue import",
        SyncKind::Push => "push",
        SyncKind::Reconcile => "reconcile",
    }
}

/// How an attempt's work ended without error.
enum Done {
    /// All done; the push's final counts (an import's are on the run already).
    Finished(Option<SyncCounts>),
    /// Stopped at a safe point (shutdown, cancel, lost lease).
    Stopped(Option<SyncCounts>),
}

/// A push's safe points: stop before a create when asked; after each link,
/// checkpoint the job (renewing its lease) and show the counts on the run.
struct JobHook<'a> {
    ctx: &'a JobContext,
    runs: &'a dyn SyncStore,
    run_id: SyncRunId,
}

#[async_trait::async_trait]
impl PushHook for JobHook<'_> {
    async fn go_on(&self) -> bool {
        !self.ctx.should_stop()
    }

    async fn progress(&self, counts: SyncCounts, remaining: u32) -> Result<()> {
        self.ctx
            .checkpoint(serde_json::json!({ "created": counts.created, "remaining": remaining }))
            .await?;
        self.runs
            .set_push_progress(self.run_id, counts, remaining)
            .await
    }
}

/// Runs imports or pushes queued by [`SyncJobs::start`].
pub struct RunJobHandler {
    jobs: SyncJobs,
    kind: SyncKind,
}

#[async_trait::async_trait]
impl JobHandler for RunJobHandler {
    async fn run(&self, job: &Job, ctx: &JobContext) -> JobOutcome {
        self.jobs.run_job(self.kind, job, ctx).await
    }
}
