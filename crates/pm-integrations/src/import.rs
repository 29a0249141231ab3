//! Importing a repository's issues as tasks ("sync"). Page by page: each page is
//! stored whole or not at all, so a failure midway leaves consistent data and the
//! next run finishes the job; the database's unique key on the dedup key makes
//! repeated and concurrent runs create no duplicates.

use crate::link::{issue_link, marked_task};
use crate::run::{PageGuard, Run, count_page, page_extra};
use crate::tokens::TokenSource;
use crate::two_way::TwoWaySync;
use crate::{
    GithubApi, GithubIssue, IssueImport, IssuePageRequest, SyncCounts, SyncKind, SyncStore,
};
use futures_util::future::join;
use pm_kernel::{Actor, Error, Result, SyncRunId};
use pm_projects::{ProjectRepository, RepoFullName, Slug, project_of};
use pm_tasks::{Labels, NewTask, Priority, TaskDescription, TaskSource, TaskStatus, TaskTitle};
use std::sync::Arc;

#[cfg(test)]
use crate::link::issue_reference;

/// What a finished import reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The run that recorded it.
    pub run_id: SyncRunId,
    /// The repository.
    pub repo: RepoFullName,
    /// What the run counted.
    pub counts: SyncCounts,
}

#[derive(Clone)]
/// Imports a repository's issues as a project's tasks.
pub struct IssueImporter {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    runs: Arc<dyn SyncStore>,
    two_way: Option<TwoWaySync>,
}

impl IssueImporter {
    /// Wires the service to its ports.
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
            two_way: None,
        }
    }

    /// Imports into a project that syncs both ways also merge the linked issues
    /// of each page (ADR 0024); without this, every import is `import_only`.
    pub fn with_two_way(mut self, two_way: TwoWaySync) -> Self {
        self.two_way = Some(two_way);
        self
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
        let run = Run::start(self.runs.as_ref(), &project, SyncKind::Import, &repo).await?;
        let run_id = run.id();
        let mut counts = SyncCounts::default();
        let outcome = self
            .import_pages(project.id, run_id, &repo, &token, &mut counts)
            .await;
        let counts = run.finish(counts, outcome).await?;
        Ok(ImportReport {
            run_id,
            repo,
            counts,
        })
    }

    /// Reads and stores the pages in order. While one page is being stored, the
    /// next is already being fetched (its URL is known from the current page), so
    /// GitHub's latency and the database's overlap instead of adding up.
    async fn import_pages(
        &self,
        project_id: pm_kernel::ProjectId,
        run_id: SyncRunId,
        repo: &RepoFullName,
        token: &secrecy::SecretString,
        totals: &mut SyncCounts,
    ) -> Result<()> {
        let host = self.github.host();
        let plan = match &self.two_way {
            Some(two_way) => two_way.plan(project_id, repo).await?,
            None => None,
        };
        let first = IssuePageRequest::First { repo: repo.clone() };
        let mut page = self.github.list_issues(token, &first).await?;
        let mut pages = PageGuard::default();
        loop {
            let imports: Vec<IssueImport> = page
                .issues
                .iter()
                .map(|issue| issue_import(&host, repo, issue))
                .collect();
            let extra = page_extra(&page);
            let issues = &page.issues;
            let store = async {
                if let (Some(two_way), Some(plan)) = (&self.two_way, &plan) {
                    two_way.merge_page(plan, token, run_id, issues).await?;
                }
                self.runs
                    .import_page(project_id, run_id, &imports, extra)
                    .await
            };
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
            count_page(totals, stored?, extra);
            match fetched {
                Some(fetched) => page = fetched?,
                None => return Ok(()),
            }
        }
    }
}

/// open → todo; closed → done, or canceled when closed as not planned.
pub fn task_status(issue: &GithubIssue) -> TaskStatus {
    // One mapping for the import and the merge, so an imported task never looks
    // changed to the merge that follows.
    crate::two_way::IssueStatus::of_issue(issue.state, issue.state_reason.as_deref())
        .to_task(TaskStatus::Todo, None)
}

/// The task an issue becomes, with its link and dedup key.
pub fn issue_import(host: &str, repo: &RepoFullName, issue: &GithubIssue) -> IssueImport {
    let (dedup_key, link) = issue_link(host, repo, issue);
    IssueImport {
        dedup_key,
        link,
        task: NewTask {
            title: TaskTitle::lenient(&issue.title),
            description: TaskDescription::lenient(crate::link::strip_marker(
                issue.body.as_deref().unwrap_or_default(),
            )),
            status: task_status(issue),
            priority: Priority::None,
            labels: Labels::lenient(issue.labels.iter().map(String::as_str)),
            source: TaskSource::Github,
        },
        pushed_for: issue.body.as_deref().and_then(marked_task),
        snapshot: crate::two_way::IssueFields::of_issue(issue),
    }
}

#[cfg(test)]
mod tests;
