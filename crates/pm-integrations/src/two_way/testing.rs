//! Fixtures for the two-way job tests.

use crate::tokens::TokenSource;
use crate::two_way::{
    ConflictPolicy, IssueFields, IssueStatus, LinkState, LinkedIssue, MergePayload,
    MockSyncSettingsStore, SyncDirection, SyncSettings, TwoWayProject,
};
use crate::{GithubIssue, MockCredentialStore, MockSecretCipher};
use pm_jobs::{Job, JobContext, JobId, JobStatus, Lease, LeaseState, MockJobQueue, StopSignal};
use pm_kernel::{ProjectId, TaskId, Timestamp, WorkspaceId};
use pm_tasks::{Labels, Priority, Task, TaskDescription, TaskSource, TaskStatus, TaskTitle};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const REPO: &str = "octo/hello";

pub(crate) fn fields(title: &str) -> IssueFields {
    IssueFields {
        title: title.into(),
        body: "Body".into(),
        status: IssueStatus::Open,
        labels: ["bug".to_string()].into_iter().collect(),
    }
}

pub(crate) fn task(project_id: ProjectId, f: &IssueFields) -> Task {
    let now = pm_kernel::now();
    Task {
        id: TaskId::new(),
        project_id,
        number: 3,
        title: TaskTitle::lenient(&f.title),
        description: TaskDescription::lenient(&f.body),
        status: match f.status {
            IssueStatus::Open => TaskStatus::Todo,
            IssueStatus::Completed => TaskStatus::Done,
            IssueStatus::NotPlanned => TaskStatus::Canceled,
        },
        priority: Priority::None,
        labels: Labels::lenient(f.labels.iter().map(String::as_str)),
        source: TaskSource::Github,
        external_links: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn linked(
    project_id: ProjectId,
    id: i64,
    t: &IssueFields,
    s: &IssueFields,
) -> LinkedIssue {
    LinkedIssue {
        task: task(project_id, t),
        reopen_status: None,
        link_id: uuid::Uuid::now_v7(),
        github_issue_id: id,
        repo_full_name: REPO.into(),
        issue_number: id,
        snapshot: Some(s.clone()),
        etag: Some("\"v1\"".into()),
        state: LinkState::Active,
    }
}

pub(crate) fn issue(id: i64, f: &IssueFields, updated_at: Timestamp) -> GithubIssue {
    let (state, reason) = f.status.to_issue();
    GithubIssue {
        id,
        number: id,
        title: f.title.clone(),
        body: Some(f.body.clone()),
        state,
        state_reason: reason.map(str::to_string),
        labels: f.labels.iter().cloned().collect(),
        html_url: format!("https://github.com/{REPO}/issues/{id}"),
        updated_at: Some(updated_at),
        repo_full_name: Some(REPO.into()),
    }
}

pub(crate) fn project(project_id: ProjectId, workspace_id: WorkspaceId) -> TwoWayProject {
    TwoWayProject {
        project_id,
        workspace_id,
        slug: "sync-abc123".into(),
        repo_full_name: REPO.into(),
    }
}

pub(crate) fn settings(
    direction: SyncDirection,
    push_new_tasks: bool,
) -> Arc<MockSyncSettingsStore> {
    let mut s = MockSyncSettingsStore::new();
    s.expect_get().returning(move |_| {
        Ok(SyncSettings {
            direction,
            conflict_policy: ConflictPolicy::PmhubWins,
            push_new_tasks,
        })
    });
    Arc::new(s)
}

/// A token source with the server-wide token (or none: `expect_open` never).
pub(crate) fn tokens(token: Option<&str>) -> TokenSource {
    let mut store = MockCredentialStore::new();
    store.expect_get().returning(|_| Ok(None));
    let mut cipher = MockSecretCipher::new();
    cipher.expect_open().never();
    TokenSource::new(
        Arc::new(store),
        Arc::new(cipher),
        token.map(|t| SecretString::from(t.to_string())),
    )
}

pub(crate) fn job(kind: &str, project_id: ProjectId, workspace_id: WorkspaceId) -> Job {
    let now = pm_kernel::now();
    Job {
        id: JobId::new(),
        kind: kind.into(),
        payload: serde_json::to_value(MergePayload {
            project_id: project_id.into_uuid(),
            workspace_id: workspace_id.into_uuid(),
        })
        .unwrap(),
        concurrency_key: None,
        workspace_id: Some(workspace_id),
        project_id: Some(project_id),
        status: JobStatus::Running,
        attempts: 1,
        max_attempts: 5,
        run_at: now,
        lease_until: None,
        worker: None,
        cancel_requested: false,
        last_error: None,
        progress: None,
        created_at: now,
        updated_at: now,
        started_at: Some(now),
        finished_at: None,
    }
}

/// A running job's context whose checkpoints succeed.
pub(crate) fn ctx() -> JobContext {
    let mut queue = MockJobQueue::new();
    queue
        .expect_checkpoint()
        .returning(|_, _, _| Ok(LeaseState::Held));
    let ttl = Duration::from_secs(60);
    JobContext::new(
        Arc::new(queue),
        Lease {
            job_id: JobId::new(),
            token: uuid::Uuid::now_v7(),
        },
        ttl,
        Arc::new(StopSignal::new(Instant::now(), ttl)),
    )
}
