use super::*;
use crate::{MockRepoProvisioner, MockSpecRepository};
use mockall::predicate::*;
use pm_kernel::{ConflictReason, GithubError, ProjectId, Role, WorkspaceId};
use pm_projects::{MockProjectLeases, MockProjectRepository, RepoFullName};

fn actor(role: Role) -> Actor {
    pm_kernel::testing::actor(role)
}

fn project(workspace_id: WorkspaceId, repo: Option<&str>) -> Project {
    pm_projects::testing::project(workspace_id, "billing-abc123", "Billing", repo)
}

fn spec(project_id: ProjectId, status: SpecStatus) -> Spec {
    Spec {
        project_id,
        status,
        content: SpecContent::default(),
        updated_at: pm_kernel::now(),
    }
}

fn projects_returning(p: Project) -> MockProjectRepository {
    let mut projects = MockProjectRepository::new();
    projects
        .expect_get()
        .returning(move |_, _| Ok(Some(p.clone())));
    projects
}

fn service(
    projects: MockProjectRepository,
    specs: MockSpecRepository,
    provisioner: MockRepoProvisioner,
) -> SpecService {
    service_with_leases(projects, specs, provisioner, free_leases())
}

fn service_with_leases(
    projects: MockProjectRepository,
    specs: MockSpecRepository,
    provisioner: MockRepoProvisioner,
    leases: MockProjectLeases,
) -> SpecService {
    SpecService::new(
        Arc::new(projects),
        Arc::new(specs),
        Arc::new(provisioner),
        Arc::new(leases),
    )
}

/// Leases that are always free.
fn free_leases() -> MockProjectLeases {
    let mut leases = MockProjectLeases::new();
    leases.expect_acquire().returning(|_, _, _, _| Ok(true));
    leases.expect_release().returning(|_, _, _| Ok(()));
    leases
}

fn slug() -> Slug {
    Slug::parse("billing-abc123").unwrap()
}

#[tokio::test]
async fn approve_moves_interviewing_to_review_and_creates_the_repository() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Interviewing))));
    specs
        .expect_transition()
        .with(
            eq(pid),
            eq(SpecStatus::Interviewing),
            eq(SpecStatus::Review),
        )
        .times(1)
        .returning(move |_, _, _| Ok(Some(spec(pid, SpecStatus::Review))));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner
        .expect_provision()
        .withf(move |project| project.id == pid)
        .times(1)
        .returning(|_| Ok(RepoFullName::parse("auditmos-projects/billing-abc123").unwrap()));

    let approval = service(projects_returning(p), specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(approval.spec.status, SpecStatus::Review);
    assert_eq!(
        approval.repository,
        RepositoryOutcome::Created {
            full_name: "auditmos-projects/billing-abc123".into()
        }
    );
}

#[tokio::test]
async fn approve_makes_no_provisioning_call_when_a_repository_is_set() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, Some("octo/existing"));
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Interviewing))));
    specs
        .expect_transition()
        .returning(move |_, _, _| Ok(Some(spec(pid, SpecStatus::Review))));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner.expect_provision().never();

    let approval = service(projects_returning(p), specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(
        approval.repository,
        RepositoryOutcome::AlreadySet {
            full_name: "octo/existing".into()
        }
    );
}

#[tokio::test]
async fn approve_stands_when_provisioning_fails() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Interviewing))));
    specs
        .expect_transition()
        .times(1)
        .returning(move |_, _, _| Ok(Some(spec(pid, SpecStatus::Review))));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner
        .expect_provision()
        .returning(|_| Err(Error::Github(GithubError::Unauthorized)));

    let approval = service(projects_returning(p), specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(approval.spec.status, SpecStatus::Review);
    assert_eq!(
        approval.repository,
        RepositoryOutcome::Failed {
            error_code: "GITHUB_UNAUTHORIZED".into()
        }
    );
}

#[tokio::test]
async fn approve_is_idempotent_in_review_and_retries_provisioning() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Review))));
    specs.expect_transition().never();
    let mut provisioner = MockRepoProvisioner::new();
    provisioner
        .expect_provision()
        .times(1)
        .returning(|_| Ok(RepoFullName::parse("org/billing-abc123").unwrap()));

    let approval = service(projects_returning(p), specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(approval.spec.status, SpecStatus::Review);
    assert!(matches!(
        approval.repository,
        RepositoryOutcome::Created { .. }
    ));
}

#[tokio::test]
async fn approving_a_draft_is_a_conflict_and_provisions_nothing() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Draft))));
    specs.expect_transition().returning(|_, _, _| Ok(None));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner.expect_provision().never();

    let err = service(projects_returning(p), specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { reason: ConflictReason::SpecStatus, message } if message.contains("draft"))
    );
}

#[tokio::test]
async fn members_cannot_approve() {
    let mut projects = MockProjectRepository::new();
    projects.expect_get().never();
    let err = service(
        projects,
        MockSpecRepository::new(),
        MockRepoProvisioner::new(),
    )
    .approve(&actor(Role::Member), &slug())
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden));
}

#[tokio::test]
async fn submit_only_from_draft() {
    let actor = actor(Role::Member);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_transition()
        .with(eq(pid), eq(SpecStatus::Draft), eq(SpecStatus::Interviewing))
        .returning(|_, _, _| Ok(None));
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Review))));
    let err = service(projects_returning(p), specs, MockRepoProvisioner::new())
        .submit(&actor, &slug())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { reason: ConflictReason::SpecStatus, message } if message.contains("review"))
    );
}

#[tokio::test]
async fn approved_spec_cannot_be_edited() {
    let actor = actor(Role::Member);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Review))));
    specs.expect_update_content().never();
    let err = service(projects_returning(p), specs, MockRepoProvisioner::new())
        .edit(&actor, &slug(), SpecContent::new("# new").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
}

#[tokio::test]
async fn unknown_project_is_not_found() {
    let mut projects = MockProjectRepository::new();
    projects.expect_get().returning(|_, _| Ok(None));
    let err = service(
        projects,
        MockSpecRepository::new(),
        MockRepoProvisioner::new(),
    )
    .get(&actor(Role::Member), &slug())
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotFound("project")));
}

/// Captures what the code under test logs on this thread.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The one event an approval logs when creating the repository fails with `err`.
async fn failure_event(err: Error) -> serde_json::Value {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Interviewing))));
    specs
        .expect_transition()
        .returning(move |_, _, _| Ok(Some(spec(pid, SpecStatus::Review))));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner
        .expect_provision()
        .times(1)
        .return_once(move |_| Err(err));

    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let approval = service(projects_returning(p), specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert!(matches!(
        approval.repository,
        RepositoryOutcome::Failed { .. }
    ));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let mut events: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["fields"]["github_error"].is_string())
        .collect();
    assert_eq!(events.len(), 1, "one event with github_error in {logs}");
    events.remove(0)
}

#[tokio::test]
async fn a_failed_repository_creation_is_logged_as_a_structured_event_without_secrets() {
    let event = failure_event(Error::Github(GithubError::Forbidden {
        message: "Resource not accessible by personal access token".into(),
    }))
    .await;
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["fields"]["slug"], "billing-abc123");
    // GitHub's HTTP status, not the spec's.
    assert_eq!(event["fields"]["status"], 403);
    assert_eq!(event["fields"]["spec_status"], "review");
    assert_eq!(event["fields"]["github_error"], "GITHUB_FORBIDDEN");
}

#[tokio::test]
async fn the_failure_event_carries_githubs_http_status_or_none() {
    let cases = [
        (Error::Github(GithubError::Unauthorized), Some(401)),
        (
            Error::Github(GithubError::RepoNameTaken {
                name: "billing-abc123".into(),
            }),
            Some(422),
        ),
        (
            Error::Github(GithubError::Rejected {
                status: Some(422),
                message: "Validation Failed".into(),
            }),
            Some(422),
        ),
        (
            Error::Github(GithubError::Unavailable {
                status: Some(502),
                reason: "GitHub answered 502 Bad Gateway".into(),
            }),
            Some(502),
        ),
        // No answer from GitHub at all: no status.
        (
            Error::Github(GithubError::Unavailable {
                status: None,
                reason: "GitHub did not answer in time".into(),
            }),
            None,
        ),
        (Error::IntegrationNotConnected, None),
    ];
    for (err, expected) in cases {
        let code = err.code();
        let event = failure_event(err).await;
        assert_eq!(event["fields"]["github_error"], code);
        match expected {
            Some(status) => assert_eq!(event["fields"]["status"], status, "{event}"),
            None => assert!(event["fields"].get("status").is_none(), "{event}"),
        }
    }
}

#[tokio::test]
async fn a_second_approval_while_the_repository_is_being_created_creates_nothing() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, None);
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Review))));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner.expect_provision().never();
    let mut leases = MockProjectLeases::new();
    leases.expect_acquire().returning(|_, _, _, _| Ok(false));
    leases.expect_release().never();
    let approval = service_with_leases(projects_returning(p), specs, provisioner, leases)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(approval.spec.status, SpecStatus::Review);
    assert_eq!(
        approval.repository,
        RepositoryOutcome::Failed {
            error_code: "CONFLICT".into()
        }
    );
}

#[tokio::test]
async fn a_repository_linked_while_waiting_for_the_lease_is_kept() {
    let actor = actor(Role::Admin);
    let before = project(actor.workspace_id, None);
    let pid = before.id;
    let mut after = before.clone();
    after.github_repo = Some(RepoFullName::parse("octo/linked-meanwhile").unwrap());
    let mut projects = MockProjectRepository::new();
    let mut seq = mockall::Sequence::new();
    projects
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(Some(before.clone())));
    projects
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(Some(after.clone())));
    let mut specs = MockSpecRepository::new();
    specs
        .expect_get()
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Review))));
    let mut provisioner = MockRepoProvisioner::new();
    provisioner.expect_provision().never();
    let approval = service(projects, specs, provisioner)
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(
        approval.repository,
        RepositoryOutcome::AlreadySet {
            full_name: "octo/linked-meanwhile".into()
        }
    );
}

#[tokio::test]
async fn an_approval_that_loses_the_race_to_another_is_idempotent() {
    let actor = actor(Role::Admin);
    let p = project(actor.workspace_id, Some("octo/repo"));
    let pid = p.id;
    let mut specs = MockSpecRepository::new();
    let mut seq = mockall::Sequence::new();
    specs
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Interviewing))));
    specs
        .expect_transition()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(None));
    specs
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(spec(pid, SpecStatus::Review))));
    let approval = service(projects_returning(p), specs, MockRepoProvisioner::new())
        .approve(&actor, &slug())
        .await
        .unwrap();
    assert_eq!(approval.spec.status, SpecStatus::Review);
}
