//! Pushing a project's unlinked tasks to its GitHub repository as issues.
//!
//! Safe to repeat, and safe across a crash: before each create the push records an
//! intent, and the issue body carries a hidden marker with the task id. A later
//! push that finds a pending intent looks for the marker in the repository and
//! links the issue it finds instead of creating a second one.

use crate::link::{issue_link, marker};
use crate::run::{PageGuard, Run};
use crate::tokens::TokenSource;
use crate::two_way::IssueFields;
use crate::{
    GithubApi, IssuePageRequest, NewIssue, Pacer, PushCandidate, PushStore, SyncCounts, SyncKind,
    SyncStore,
};
use pm_kernel::{Actor, ConflictReason, Error, GithubError, Result, SyncRunId, TaskId};
use pm_projects::{
    LeaseGuard, LeasePurpose, Project, ProjectLeases, ProjectRepository, RepoFullName, Slug,
    project_of,
};
use pm_tasks::Task;
use secrecy::SecretString;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How long a push's lease lasts without renewal. The push renews it before every
/// create, so only a push that stopped making progress (a crash) loses it.
pub(crate) const PUSH_LEASE: Duration = Duration::from_secs(5 * 60);

/// What a finished push reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The run that recorded the push.
    pub run_id: SyncRunId,
    /// The repository pushed to.
    pub repo: RepoFullName,
    /// Issues created.
    pub created: u32,
    /// Tasks already linked, including issues found again after a crash.
    pub skipped: u32,
}

#[derive(Clone)]
/// Pushes a project's unlinked tasks to its GitHub repository as issues.
pub struct PushService {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    runs: Arc<dyn SyncStore>,
    store: Arc<dyn PushStore>,
    pacer: Arc<dyn Pacer>,
    leases: Arc<dyn ProjectLeases>,
}

/// Asked before each create: the job path stops there at a safe point and shows
/// its progress; the direct path goes on.
#[async_trait::async_trait]
pub(crate) trait PushHook: Send + Sync {
    /// Before each create; false stops the push there (nothing more is created).
    async fn go_on(&self) -> bool;
    /// After each task is linked: the counts so far and the tasks still to push.
    async fn progress(&self, counts: SyncCounts, remaining: u32) -> Result<()>;
}

struct GoOn;

#[async_trait::async_trait]
impl PushHook for GoOn {
    async fn go_on(&self) -> bool {
        true
    }
    async fn progress(&self, _: SyncCounts, _: u32) -> Result<()> {
        Ok(())
    }
}

/// Extends the push's lease; fails if another push took it (this one was too slow).
async fn renew(lease: &LeaseGuard<'_>) -> Result<()> {
    if lease.renew().await? {
        Ok(())
    } else {
        Err(Error::conflict(
            ConflictReason::LeaseLost,
            "another push took over this project; this one stopped",
        ))
    }
}

/// GitHub refuses issue bodies over 65,536 characters.
const GITHUB_MAX_BODY_CHARS: usize = 65_536;

/// The issue body: the task's description, then the marker — the description cut
/// so that the whole stays within GitHub's limit (the marker must survive).
pub fn issue_body(task: &Task) -> String {
    let room = GITHUB_MAX_BODY_CHARS - marker(task.id).chars().count() - 2;
    let description: String = task.description.as_str().chars().take(room).collect();
    let description = description.trim_end();
    if description.is_empty() {
        marker(task.id)
    } else {
        format!("{description}\n\n{}", marker(task.id))
    }
}

/// A number of tasks as a run counter.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// GitHub answered, so the issue was certainly not created (unlike a time-out or
/// a 5xx, after which it may have been).
fn certainly_not_created(err: &GithubError) -> bool {
    !matches!(err, GithubError::Unavailable { .. })
}

impl PushService {
    /// Wires the service to its ports.
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        github: Arc<dyn GithubApi>,
        tokens: TokenSource,
        runs: Arc<dyn SyncStore>,
        store: Arc<dyn PushStore>,
        pacer: Arc<dyn Pacer>,
        leases: Arc<dyn ProjectLeases>,
    ) -> Self {
        Self {
            projects,
            github,
            tokens,
            runs,
            store,
            pacer,
            leases,
        }
    }

    /// Pushes every unlinked task of the project, holding the project's push lease; 409 (`LeaseHeld`) when another push runs.
    pub async fn run(&self, actor: &Actor, slug: &Slug) -> Result<PushReport> {
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let repo = project.github_repo.clone().ok_or_else(|| {
            Error::invalid(
                "github_repo",
                "the project has no GitHub repository: link one or approve its spec first",
            )
        })?;
        let token = self.tokens.token_for(actor.workspace_id).await?;
        let Some(lease) = LeaseGuard::acquire(
            self.leases.as_ref(),
            project.id,
            LeasePurpose::Push,
            PUSH_LEASE,
        )
        .await?
        else {
            return Err(Error::conflict(
                ConflictReason::LeaseHeld,
                "a push is already running for this project",
            ));
        };
        let result = self.push(&project, &repo, &token, &lease).await;
        if let Err(err) = lease.release().await {
            tracing::warn!(slug = %project.slug, error = %err, "could not release the push lease; it expires by itself");
        }
        result
    }

    async fn push(
        &self,
        project: &Project,
        repo: &RepoFullName,
        token: &SecretString,
        lease: &LeaseGuard<'_>,
    ) -> Result<PushReport> {
        let run = Run::start(self.runs.as_ref(), project, SyncKind::Push, repo).await?;
        let run_id = run.id();
        let mut counts = SyncCounts::default();
        let outcome = self
            .push_backlog(project, repo, token, run_id, lease, &mut counts, &GoOn)
            .await
            .map(|_| ());
        let counts = run.finish(counts, outcome).await?;
        Ok(PushReport {
            run_id,
            repo: repo.clone(),
            created: counts.created,
            skipped: counts.skipped,
        })
    }

    /// Pushes the backlog. `counts.created` may come in non-zero (issues an
    /// earlier attempt of the same run created): those count as created, not
    /// skipped. False when `hook` stopped it before a create.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn push_backlog(
        &self,
        project: &Project,
        repo: &RepoFullName,
        token: &SecretString,
        run_id: SyncRunId,
        lease: &LeaseGuard<'_>,
        counts: &mut SyncCounts,
        hook: &dyn PushHook,
    ) -> Result<bool> {
        let backlog = self.store.backlog(project.id).await?;
        counts.skipped = backlog.linked.saturating_sub(counts.created);
        counts.total_seen = backlog.linked + count(backlog.unlinked.len());
        let reconciled = self
            .reconcile(project, repo, token, &backlog.unlinked)
            .await?;
        counts.skipped += count(reconciled.len());
        let host = self.github.host();
        let todo: Vec<&PushCandidate> = backlog
            .unlinked
            .iter()
            .filter(|c| !reconciled.contains(&c.task.id))
            .collect();
        for (done, candidate) in todo.iter().enumerate() {
            let task = &candidate.task;
            if !hook.go_on().await {
                return Ok(false);
            }
            self.pacer.before_create().await;
            // Still ours? Checked right before each create, so two pushes can
            // never both create an issue for the same task.
            renew(lease).await?;
            self.store
                .record_intent(project.id, task.id, run_id)
                .await?;
            let request = NewIssue {
                title: task.title.as_str().to_string(),
                body: issue_body(task),
                labels: task.labels.as_slice().to_vec(),
            };
            let issue = match self.github.create_issue(token, repo, &request).await {
                Ok(issue) => issue,
                Err(err) => {
                    if certainly_not_created(&err) {
                        self.store.clear_intent(task.id).await?;
                    }
                    return Err(err.into());
                }
            };
            let (key, link) = issue_link(&host, repo, &issue);
            let snapshot = IssueFields::of_issue(&issue);
            if self
                .store
                .link_pushed(project.id, task.id, key, link, snapshot)
                .await?
            {
                counts.created += 1;
            }
            hook.progress(*counts, count(todo.len() - done - 1)).await?;
        }
        Ok(true)
    }

    /// Finds the issues of tasks whose earlier push never confirmed, by their
    /// marker, and links them. Intents whose issue does not exist are cleared so
    /// the task is pushed normally. Returns the tasks linked here.
    async fn reconcile(
        &self,
        project: &Project,
        repo: &RepoFullName,
        token: &SecretString,
        unlinked: &[PushCandidate],
    ) -> Result<HashSet<TaskId>> {
        let mut wanted: HashMap<String, TaskId> = unlinked
            .iter()
            .filter(|c| c.intent_pending)
            .map(|c| (marker(c.task.id), c.task.id))
            .collect();
        let mut linked = HashSet::new();
        if wanted.is_empty() {
            return Ok(linked);
        }
        let host = self.github.host();
        let mut request = IssuePageRequest::First { repo: repo.clone() };
        let mut pages = PageGuard::default();
        while !wanted.is_empty() {
            let page = self.github.list_issues(token, &request).await?;
            for issue in &page.issues {
                let Some(body) = issue.body.as_deref() else {
                    continue;
                };
                let found = wanted.keys().find(|m| body.contains(m.as_str())).cloned();
                if let Some(found) = found.and_then(|m| wanted.remove(&m)) {
                    let (key, link) = issue_link(&host, repo, issue);
                    let snapshot = IssueFields::of_issue(issue);
                    if self
                        .store
                        .link_pushed(project.id, found, key, link, snapshot)
                        .await?
                    {
                        tracing::info!(slug = %project.slug, task_id = %found, issue = issue.number,
                            "found the issue of an unconfirmed push; linked it instead of creating another");
                    } else {
                        // The issue is linked to another task already (an import
                        // got to it first): do not create a second issue for this one.
                        tracing::warn!(slug = %project.slug, task_id = %found, issue = issue.number,
                            "the issue of an unconfirmed push is linked to another task; not pushing this task again");
                    }
                    linked.insert(found);
                }
            }
            match pages.next(page.next)? {
                Some(url) => request = IssuePageRequest::Next { url },
                None => break,
            }
        }
        for task_id in wanted.into_values() {
            self.store.clear_intent(task_id).await?;
        }
        Ok(linked)
    }
}

#[cfg(test)]
mod tests;
