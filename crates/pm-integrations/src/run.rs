//! The vocabulary of "a sync run", shared by the import and the push: starting a
//! run (after closing the ones a dead process left `running`), following issue
//! pages safely, counting a page, and finishing and logging the run.

use crate::{IssuePage, PageImported, SyncCounts, SyncKind, SyncStatus, SyncStore};
use pm_kernel::{GithubError, Result, SyncRunId};
use pm_projects::{Project, RepoFullName};

/// More issue pages than any repository has (a million issues): past this, or
/// when a `next` link points back at the page it came from, GitHub's links are
/// broken and following them would never end.
const MAX_ISSUE_PAGES: usize = 10_000;

/// Follows `next` links with those two guards.
#[derive(Default)]
pub(crate) struct PageGuard {
    pages: usize,
    last: Option<String>,
}

impl PageGuard {
    /// Counts the page just read and checks its `next` link, if any.
    pub(crate) fn next(&mut self, next: Option<String>) -> Result<Option<String>> {
        self.pages += 1;
        let Some(url) = next else {
            return Ok(None);
        };
        if self.pages >= MAX_ISSUE_PAGES || self.last.as_deref() == Some(url.as_str()) {
            return Err(GithubError::Unavailable {
                status: None,
                reason:
                    "GitHub's issue pages do not end (a next link repeats or there are too many)"
                        .into(),
            }
            .into());
        }
        self.last = Some(url.clone());
        Ok(Some(url))
    }
}

/// A count that fits the run's counters (a page holds at most 100 items).
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What a page adds to its run besides what storing it decides: the pull
/// requests it left out and everything it showed.
pub(crate) fn page_extra(page: &IssuePage) -> SyncCounts {
    SyncCounts {
        pull_requests_ignored: page.pull_requests_skipped,
        total_seen: count(page.issues.len()).saturating_add(page.pull_requests_skipped),
        ..SyncCounts::default()
    }
}

/// Adds a stored page to a run's totals.
pub(crate) fn count_page(totals: &mut SyncCounts, stored: PageImported, extra: SyncCounts) {
    totals.created += stored.created;
    totals.skipped += stored.skipped;
    totals.pull_requests_ignored += extra.pull_requests_ignored;
    totals.total_seen += extra.total_seen;
}

/// A run being recorded: an import or a push of one project against one
/// repository.
pub(crate) struct Run<'a> {
    runs: &'a dyn SyncStore,
    project: &'a Project,
    repo: &'a RepoFullName,
    kind: SyncKind,
    id: SyncRunId,
}

impl<'a> Run<'a> {
    /// Starts a run, first closing the project's runs left `running` by a process
    /// that died, so the history never shows a run running forever.
    pub(crate) async fn start(
        runs: &'a dyn SyncStore,
        project: &'a Project,
        kind: SyncKind,
        repo: &'a RepoFullName,
    ) -> Result<Run<'a>> {
        let cutoff = pm_kernel::now() - crate::STALE_RUN_AFTER;
        let stale = runs
            .fail_stale_runs(project.id, cutoff, crate::INTERRUPTED.to_string())
            .await?;
        if stale > 0 {
            tracing::warn!(slug = %project.slug, stale, "marked runs left running by a dead process as interrupted");
        }
        let id = runs.start_run(project.id, kind, repo.as_str()).await?;
        Ok(Run {
            runs,
            project,
            repo,
            kind,
            id,
        })
    }

    /// The run's id.
    pub(crate) const fn id(&self) -> SyncRunId {
        self.id
    }

    /// Records how the run ended and logs it. `counts` are the run's totals: a
    /// push stores them now; an import's pages already added theirs, each in its
    /// own transaction, so they are only logged. On success a failure to record
    /// is the error; on failure the run's own error is, whether or not recording
    /// it worked.
    pub(crate) async fn finish(
        self,
        counts: SyncCounts,
        outcome: Result<()>,
    ) -> Result<SyncCounts> {
        let (status, code) = match &outcome {
            Ok(()) => (SyncStatus::Succeeded, None),
            Err(err) => (SyncStatus::Failed, Some(err.code().to_string())),
        };
        let stored_counts = (self.kind == SyncKind::Push).then_some(counts);
        let finished = self
            .runs
            .finish_run(self.id, status, stored_counts, code)
            .await;
        self.log(counts, &outcome);
        outcome?;
        finished?;
        Ok(counts)
    }

    fn log(&self, counts: SyncCounts, outcome: &Result<()>) {
        let (slug, repo, run_id) = (&self.project.slug, self.repo, self.id);
        match (self.kind, outcome) {
            (SyncKind::Import, Ok(())) => tracing::info!(
                slug = %slug, repo = %repo, run_id = %run_id,
                created = counts.created, skipped = counts.skipped,
                pull_requests_ignored = counts.pull_requests_ignored,
                "issue import finished"
            ),
            (SyncKind::Import, Err(err)) => tracing::warn!(
                slug = %slug, repo = %repo, run_id = %run_id,
                created = counts.created, error_code = err.code(), detail = %err,
                "issue import failed; pages already stored are kept"
            ),
            (SyncKind::Push, Ok(())) => tracing::info!(
                slug = %slug, repo = %repo, run_id = %run_id,
                created = counts.created, skipped = counts.skipped,
                "push finished"
            ),
            (SyncKind::Push, Err(err)) => tracing::warn!(
                slug = %slug, repo = %repo, run_id = %run_id,
                created = counts.created, error_code = err.code(), detail = %err,
                "push stopped; what was created is linked and recorded"
            ),

            (SyncKind::Reconcile, Ok(())) => tracing::info!(
                slug = %slug, repo = %repo, run_id = %run_id,
                created = counts.created, updated = counts.updated,
                unchanged = counts.unchanged, conflicts = counts.conflicts,
                "reconcile finished"
            ),
            (SyncKind::Reconcile, Err(err)) => tracing::warn!(
                slug = %slug, repo = %repo, run_id = %run_id,
                error_code = err.code(), detail = %err,
                "reconcile failed; what was merged is kept"
            ),
        }
    }
}
