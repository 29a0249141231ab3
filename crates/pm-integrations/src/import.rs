//! Importing a repository's issues as tasks ("sync"). Page by page: each page is
//! stored whole or not at all, so a failure midway leaves consistent data and the
//! next run finishes the job; the database's unique key on the dedup key makes
//! repeated and concurrent runs create no duplicates.

use crate::SyncRun;
use crate::tokens::TokenSource;
use crate::{
    GithubApi, GithubIssue, IssueImport, IssuePageRequest, IssueState, SyncCounts, SyncKind,
    SyncStatus, SyncStore,
};
use futures_util::future::join;
use pm_kernel::{Actor, Cursor, Error, GithubError, Limit, Page, Result, SyncRunId};
use pm_projects::{Project, ProjectRepository, RepoFullName, Slug, project_of};
use pm_tasks::{
    ExternalLink, Labels, NewTask, Priority, TaskDescription, TaskSource, TaskStatus, TaskTitle,
};
use std::sync::Arc;

/// What a finished import reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub run_id: SyncRunId,
    pub repo: RepoFullName,
    pub counts: SyncCounts,
}

#[derive(Clone)]
pub struct IssueImporter {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    runs: Arc<dyn SyncStore>,
}

impl IssueImporter {
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        github: Arc<dyn GithubApi>,
        tokens: TokenSource,
        runs: Arc<dyn SyncStore>,
    ) -> Self {
        Self {
            projects,
            github,
            tokens,
            runs,
        }
    }

    /// Imports every issue of `repo` (default: the project's linked repository)
    /// that is not yet linked to a task of the project.
    pub async fn run(
        &self,
        actor: &Actor,
        slug: &Slug,
        repo: Option<RepoFullName>,
    ) -> Result<ImportReport> {
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let repo = repo
            .or_else(|| project.github_repo.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "repo",
                    "the project has no GitHub repository: give `repo` or link one first",
                )
            })?;
        let token = self.tokens.token_for(actor.workspace_id).await?;
        let run_id = start_run(self.runs.as_ref(), &project, SyncKind::Import, &repo).await?;
        match self.import_pages(&project, run_id, &repo, &token).await {
            Ok(counts) => {
                self.runs
                    .finish_run(run_id, SyncStatus::Succeeded, None, None)
                    .await?;
                tracing::info!(
                    slug = %project.slug, repo = %repo, run_id = %run_id,
                    created = counts.created, skipped = counts.skipped,
                    pull_requests_ignored = counts.pull_requests_ignored,
                    "issue import finished"
                );
                Ok(ImportReport {
                    run_id,
                    repo,
                    counts,
                })
            }
            Err(err) => {
                tracing::warn!(
                    slug = %project.slug, repo = %repo, run_id = %run_id,
                    error_code = err.code(), detail = %err,
                    "issue import failed; pages already stored are kept"
                );
                // Record the failure; if even that fails, report the original error.
                let _ = self
                    .runs
                    .finish_run(
                        run_id,
                        SyncStatus::Failed,
                        None,
                        Some(err.code().to_string()),
                    )
                    .await;
                Err(err)
            }
        }
    }

    /// The project's runs (imports and pushes), newest first.
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
        Ok(Page::from_rows(rows, limit, |r| r.id.to_string()))
    }

    /// Reads and stores the pages in order. While one page is being stored, the
    /// next is already being fetched (its URL is known from the current page), so
    /// GitHub's latency and the database's overlap instead of adding up.
    async fn import_pages(
        &self,
        project: &Project,
        run_id: SyncRunId,
        repo: &RepoFullName,
        token: &secrecy::SecretString,
    ) -> Result<SyncCounts> {
        let host = self.github.host();
        let mut totals = SyncCounts::default();
        let first = IssuePageRequest::First { repo: repo.clone() };
        let mut page = self.github.list_issues(token, &first).await?;
        let mut pages = PageGuard::default();
        loop {
            let imports: Vec<IssueImport> = page
                .issues
                .iter()
                .map(|issue| issue_import(&host, repo, issue))
                .collect();
            let extra = SyncCounts {
                created: 0,
                skipped: 0,
                pull_requests_ignored: page.pull_requests_skipped,
                total_seen: page.issues.len() as u32 + page.pull_requests_skipped,
            };
            let store = self.runs.import_page(project.id, run_id, &imports, extra);
            let next = pages
                .next(page.next.take())?
                .map(|url| IssuePageRequest::Next { url });
            let (stored, fetched) = match &next {
                Some(request) => {
                    let (stored, fetched) =
                        join(store, self.github.list_issues(token, request)).await;
                    (stored, Some(fetched))
                }
                None => (store.await, None),
            };
            // A page that was stored counts even if fetching the next one failed.
            let stored = stored?;
            totals.created += stored.created;
            totals.skipped += stored.skipped;
            totals.pull_requests_ignored += extra.pull_requests_ignored;
            totals.total_seen += extra.total_seen;
            match fetched {
                Some(fetched) => page = fetched?,
                None => return Ok(totals),
            }
        }
    }
}

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

/// Starts a run, first closing the project's runs left `running` by a process
/// that died, so the history never shows a run running forever.
pub(crate) async fn start_run(
    runs: &dyn SyncStore,
    project: &Project,
    kind: SyncKind,
    repo: &RepoFullName,
) -> Result<SyncRunId> {
    let cutoff = pm_kernel::now() - crate::STALE_RUN_AFTER;
    let stale = runs
        .fail_stale_runs(project.id, cutoff, crate::INTERRUPTED.to_string())
        .await?;
    if stale > 0 {
        tracing::warn!(slug = %project.slug, stale, "marked runs left running by a dead process as interrupted");
    }
    runs.start_run(project.id, kind, repo.as_str()).await
}

/// The key that identifies an issue forever: GitHub's immutable issue id, scoped
/// by host. Numbers change meaning across repositories; ids survive renames.
pub fn dedup_key(host: &str, issue_id: i64) -> String {
    format!("github:{host}:issue:{issue_id}")
}

/// `owner/repo#N`, taken from the issue's own URL (which follows renames), else
/// from the repository that was asked for.
pub fn issue_reference(requested: &RepoFullName, issue: &GithubIssue) -> String {
    let from_url = issue.html_url.split_once("://").and_then(|(_, rest)| {
        let mut parts = rest.split('/');
        let _host = parts.next()?;
        let owner = parts.next()?;
        let name = parts.next()?;
        (parts.next() == Some("issues")).then(|| format!("{owner}/{name}"))
    });
    format!(
        "{}#{}",
        from_url.unwrap_or_else(|| requested.to_string()),
        issue.number
    )
}

/// open → todo; closed → done, or canceled when closed as not planned.
pub fn task_status(issue: &GithubIssue) -> TaskStatus {
    match issue.state {
        IssueState::Open => TaskStatus::Todo,
        IssueState::Closed if issue.state_reason.as_deref() == Some("not_planned") => {
            TaskStatus::Canceled
        }
        IssueState::Closed => TaskStatus::Done,
    }
}

pub fn issue_import(host: &str, repo: &RepoFullName, issue: &GithubIssue) -> IssueImport {
    IssueImport {
        dedup_key: dedup_key(host, issue.id),
        link: ExternalLink {
            provider: "github".into(),
            reference: issue_reference(repo, issue),
            url: issue.html_url.clone(),
        },
        task: NewTask {
            title: TaskTitle::lenient(&issue.title),
            description: TaskDescription::lenient(issue.body.as_deref().unwrap_or_default()),
            status: task_status(issue),
            priority: Priority::None,
            labels: Labels::lenient(issue.labels.iter().map(String::as_str)),
            source: TaskSource::Github,
        },
        pushed_for: issue.body.as_deref().and_then(crate::push::marked_task),
    }
}

#[cfg(test)]
mod tests;
