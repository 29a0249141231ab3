//! Pushing a project's unlinked tasks to its GitHub repository as issues.
//!
//! Safe to repeat, and safe across a crash: before each create the push records an
//! intent, and the issue body carries a hidden marker with the task id. A later
//! push that finds a pending intent looks for the marker in the repository and
//! links the issue it finds instead of creating a second one.

use crate::import::dedup_key;
use crate::tokens::TokenSource;
use crate::{
    GithubApi, GithubIssue, IssuePageRequest, NewIssue, Pacer, PushCandidate, PushStore,
    SyncCounts, SyncKind, SyncStatus, SyncStore,
};
use pm_kernel::{Actor, Error, GithubError, ProjectId, Result, SyncRunId, TaskId};
use pm_projects::{
    LeasePurpose, Project, ProjectLeases, ProjectRepository, RepoFullName, Slug, project_of,
};
use pm_tasks::{ExternalLink, Task};
use secrecy::SecretString;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How long a push's lease lasts without renewal. The push renews it before every
/// create, so only a push that stopped making progress (a crash) loses it.
const PUSH_LEASE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub run_id: SyncRunId,
    pub repo: RepoFullName,
    pub created: u32,
    /// Tasks already linked, including issues found again after a crash.
    pub skipped: u32,
}

#[derive(Clone)]
pub struct PushService {
    projects: Arc<dyn ProjectRepository>,
    github: Arc<dyn GithubApi>,
    tokens: TokenSource,
    runs: Arc<dyn SyncStore>,
    store: Arc<dyn PushStore>,
    pacer: Arc<dyn Pacer>,
    leases: Arc<dyn ProjectLeases>,
}

/// One push's hold on its project's push lease.
pub(crate) struct Lease<'a> {
    pub(crate) leases: &'a dyn ProjectLeases,
    pub(crate) project_id: ProjectId,
    pub(crate) holder: uuid::Uuid,
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

impl Lease<'_> {
    /// Takes the lease (or keeps it, when `holder` has it already).
    pub(crate) async fn acquire(&self) -> Result<bool> {
        self.leases
            .acquire(self.project_id, LeasePurpose::Push, self.holder, PUSH_LEASE)
            .await
    }

    pub(crate) async fn release(&self) {
        if let Err(err) = self
            .leases
            .release(self.project_id, LeasePurpose::Push, self.holder)
            .await
        {
            tracing::warn!(error = %err, "could not release the push lease; it expires by itself");
        }
    }

    /// Extends the lease; fails if another push took it (this one was too slow).
    async fn renew(&self) -> Result<()> {
        if self
            .leases
            .acquire(self.project_id, LeasePurpose::Push, self.holder, PUSH_LEASE)
            .await?
        {
            Ok(())
        } else {
            Err(Error::Conflict(
                "another push took over this project; this one stopped".into(),
            ))
        }
    }
}

/// The hidden marker a pushed issue's body ends with.
pub fn marker(task_id: TaskId) -> String {
    format!("<!-- pmhub:task:{task_id} -->")
}

/// GitHub refuses issue bodies over 65,536 characters.
const GITHUB_MAX_BODY_CHARS: usize = 65_536;

/// The task id in a pushed issue's marker, if the body has one.
pub fn marked_task(body: &str) -> Option<TaskId> {
    let start = body.rfind("<!-- pmhub:task:")? + "<!-- pmhub:task:".len();
    let rest = &body[start..];
    let id = rest.get(..rest.find(" -->")?)?;
    id.parse::<uuid::Uuid>().ok().map(TaskId::from_uuid)
}

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

/// GitHub answered, so the issue was certainly not created (unlike a time-out or
/// a 5xx, after which it may have been).
fn certainly_not_created(err: &GithubError) -> bool {
    !matches!(err, GithubError::Unavailable { .. })
}

impl PushService {
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

    pub async fn run(&self, actor: &Actor, slug: &Slug) -> Result<PushReport> {
        let project = project_of(self.projects.as_ref(), actor, slug).await?;
        let repo = project.github_repo.clone().ok_or_else(|| {
            Error::invalid(
                "github_repo",
                "the project has no GitHub repository: link one or approve its spec first",
            )
        })?;
        let token = self.tokens.token_for(actor.workspace_id).await?;
        let lease = Lease {
            leases: self.leases.as_ref(),
            project_id: project.id,
            holder: uuid::Uuid::now_v7(),
        };
        if !self
            .leases
            .acquire(project.id, LeasePurpose::Push, lease.holder, PUSH_LEASE)
            .await?
        {
            return Err(Error::Conflict(
                "a push is already running for this project".into(),
            ));
        }
        let result = self.push(&project, &repo, &token, &lease).await;
        if let Err(err) = self
            .leases
            .release(project.id, LeasePurpose::Push, lease.holder)
            .await
        {
            tracing::warn!(slug = %project.slug, error = %err, "could not release the push lease; it expires by itself");
        }
        result
    }

    async fn push(
        &self,
        project: &Project,
        repo: &RepoFullName,
        token: &SecretString,
        lease: &Lease<'_>,
    ) -> Result<PushReport> {
        let run_id =
            crate::import::start_run(self.runs.as_ref(), project, SyncKind::Push, repo).await?;
        let mut counts = SyncCounts::default();
        let outcome = self
            .push_backlog(project, repo, token, run_id, lease, &mut counts, &GoOn)
            .await
            .map(|_| ());
        let (status, code) = match &outcome {
            Ok(()) => (SyncStatus::Succeeded, None),
            Err(err) => (SyncStatus::Failed, Some(err.code().to_string())),
        };
        let finished = self
            .runs
            .finish_run(run_id, status, Some(counts), code)
            .await;
        match outcome {
            Ok(()) => {
                finished?;
                tracing::info!(slug = %project.slug, repo = %repo, run_id = %run_id,
                    created = counts.created, skipped = counts.skipped, "push finished");
                Ok(PushReport {
                    run_id,
                    repo: repo.clone(),
                    created: counts.created,
                    skipped: counts.skipped,
                })
            }
            Err(err) => {
                tracing::warn!(slug = %project.slug, repo = %repo, run_id = %run_id,
                    created = counts.created, error_code = err.code(), detail = %err,
                    "push stopped; what was created is linked and recorded");
                Err(err)
            }
        }
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
        lease: &Lease<'_>,
        counts: &mut SyncCounts,
        hook: &dyn PushHook,
    ) -> Result<bool> {
        let backlog = self.store.backlog(project.id).await?;
        counts.skipped = backlog.linked.saturating_sub(counts.created);
        counts.total_seen = backlog.linked + backlog.unlinked.len() as u32;
        let reconciled = self
            .reconcile(project, repo, token, &backlog.unlinked)
            .await?;
        counts.skipped += reconciled.len() as u32;
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
            lease.renew().await?;
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
            let (key, link) = link_for(&host, repo, &issue);
            if self
                .store
                .link_pushed(project.id, task.id, key, link)
                .await?
            {
                counts.created += 1;
            }
            hook.progress(*counts, (todo.len() - done - 1) as u32)
                .await?;
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
        let mut pages = crate::import::PageGuard::default();
        while !wanted.is_empty() {
            let page = self.github.list_issues(token, &request).await?;
            for issue in &page.issues {
                let Some(body) = issue.body.as_deref() else {
                    continue;
                };
                let found = wanted.keys().find(|m| body.contains(m.as_str())).cloned();
                if let Some(found) = found.and_then(|m| wanted.remove(&m)) {
                    let (key, link) = link_for(&host, repo, issue);
                    if self.store.link_pushed(project.id, found, key, link).await? {
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

fn link_for(host: &str, repo: &RepoFullName, issue: &GithubIssue) -> (String, ExternalLink) {
    (
        dedup_key(host, issue.id),
        ExternalLink {
            provider: "github".into(),
            reference: crate::import::issue_reference(repo, issue),
            url: issue.html_url.clone(),
        },
    )
}

#[cfg(test)]
mod tests;
