use super::*;
use crate::repos::hooks::{ManualReason, WebhookOutcome};
use crate::{MockCredentialStore, MockGithubApi, MockSecretCipher};
use mockall::predicate::*;
use pm_kernel::{ConflictReason, GithubError, Role, UserId, WorkspaceId};
use pm_projects::MockProjectRepository;
use secrecy::SecretString;

fn tokens(server: Option<&str>) -> TokenSource {
    let mut store = MockCredentialStore::new();
    store.expect_get().returning(|_| Ok(None));
    TokenSource::new(
        Arc::new(store),
        Arc::new(MockSecretCipher::new()),
        server.map(|s| SecretString::from(s.to_string())),
    )
}

fn project(ws: WorkspaceId) -> Project {
    pm_projects::testing::project(ws, "billing-abc123", "Billing", None)
}

fn repo(full_name: &str) -> GithubRepo {
    GithubRepo {
        id: 1,
        full_name: full_name.into(),
        private: true,
        html_url: format!("https://github.com/{full_name}"),
        default_branch: Some("main".into()),
    }
}

#[tokio::test]
async fn provisioning_creates_under_the_org_and_links_the_project() {
    let p = project(WorkspaceId::new());
    let pid = p.id;
    let mut github = MockGithubApi::new();
    github
        .expect_create_org_repo()
        .withf(|_, org, name, _| org == "auditmos-projects" && name == "billing-abc123")
        .times(1)
        .returning(|_, _, _, _| Ok(repo("auditmos-projects/billing-abc123-x1y2")));
    let mut projects = MockProjectRepository::new();
    projects
        .expect_set_github_repo_if_unset()
        .with(
            always(),
            eq(pid),
            eq(RepoFullName::parse("auditmos-projects/billing-abc123-x1y2").unwrap()),
        )
        .times(1)
        .returning(move |ws, _, _| Ok(Some(project(ws))));
    let provisioner = GithubRepoProvisioner::new(
        Arc::new(projects),
        Arc::new(github),
        tokens(Some("srv")),
        "auditmos-projects",
    );
    let name = provisioner.provision(&p).await.unwrap();
    assert_eq!(name.as_str(), "auditmos-projects/billing-abc123-x1y2");
}

#[tokio::test]
async fn provisioning_failure_links_nothing() {
    let p = project(WorkspaceId::new());
    let mut github = MockGithubApi::new();
    github.expect_create_org_repo().returning(|_, _, _, _| {
        Err(GithubError::RepoNameTaken {
            name: "billing-abc123".into(),
        })
    });
    let mut projects = MockProjectRepository::new();
    projects.expect_set_github_repo().never();
    let provisioner = GithubRepoProvisioner::new(
        Arc::new(projects),
        Arc::new(github),
        tokens(Some("srv")),
        "org",
    );
    let err = provisioner.provision(&p).await.unwrap_err();
    assert_eq!(err.code(), "GITHUB_REPO_NAME_TAKEN");
}

#[tokio::test]
async fn provisioning_without_a_token_calls_nothing() {
    let mut github = MockGithubApi::new();
    github.expect_create_org_repo().never();
    let provisioner = GithubRepoProvisioner::new(
        Arc::new(MockProjectRepository::new()),
        Arc::new(github),
        tokens(None),
        "org",
    );
    let err = provisioner
        .provision(&project(WorkspaceId::new()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IntegrationNotConnected));
}

#[tokio::test]
async fn linking_checks_github_and_is_for_admins() {
    let actor = Actor {
        user_id: UserId::new(),
        workspace_id: WorkspaceId::new(),
        role: Role::Admin,
    };
    let p = project(actor.workspace_id);
    let mut projects = MockProjectRepository::new();
    let found = p.clone();
    projects
        .expect_get()
        .returning(move |_, _| Ok(Some(found.clone())));
    projects.expect_set_github_repo().never();
    let mut github = MockGithubApi::new();
    github.expect_get_repo().returning(|_, _| {
        Err(GithubError::NotFound {
            message: "Not Found".into(),
        })
    });
    let service = RepoService::new(Arc::new(projects), Arc::new(github), tokens(Some("srv")));
    let repo_name = RepoFullName::parse("octo/secret").unwrap();
    let err = service.link(&actor, &p.slug, &repo_name).await.unwrap_err();
    assert_eq!(err.code(), "GITHUB_NOT_FOUND");

    let member = Actor {
        role: Role::Member,
        ..actor
    };
    let err = service
        .link(&member, &p.slug, &repo_name)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden));
}

#[tokio::test]
async fn a_repository_linked_meanwhile_is_not_overwritten() {
    let p = project(WorkspaceId::new());
    let mut github = MockGithubApi::new();
    github
        .expect_create_org_repo()
        .returning(|_, _, _, _| Ok(repo("org/billing-abc123")));
    let mut projects = MockProjectRepository::new();
    projects
        .expect_set_github_repo_if_unset()
        .returning(|_, _, _| Ok(None));
    projects.expect_set_github_repo().never();
    let provisioner = GithubRepoProvisioner::new(
        Arc::new(projects),
        Arc::new(github),
        tokens(Some("srv")),
        "org",
    );
    let err = provisioner.provision(&p).await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict { reason: ConflictReason::RepoAlreadyLinked, message } if message.contains("org/billing-abc123"))
    );
}

fn hooks() -> HookConfig {
    HookConfig::new(
        Some("https://pm.example.com".into()),
        Some(SecretString::from("hook-secret".to_string())),
    )
}

fn admin() -> Actor {
    Actor {
        user_id: UserId::new(),
        workspace_id: WorkspaceId::new(),
        role: Role::Admin,
    }
}

/// Projects that hold `p` and accept linking it.
fn linkable(p: &Project) -> MockProjectRepository {
    let mut projects = MockProjectRepository::new();
    let found = p.clone();
    projects
        .expect_get()
        .returning(move |_, _| Ok(Some(found.clone())));
    let linked = p.clone();
    projects
        .expect_set_github_repo()
        .times(1)
        .returning(move |_, _, repo| {
            let mut p = linked.clone();
            p.github_repo = repo;
            Ok(Some(p))
        });
    projects
}

#[tokio::test]
async fn linking_registers_the_webhook_of_githubs_spelling_of_the_name() {
    let actor = admin();
    let p = project(actor.workspace_id);
    let mut github = MockGithubApi::new();
    github
        .expect_get_repo()
        .returning(|_, _| Ok(repo("Octo/Hello")));
    github
        .expect_create_hook()
        .withf(|_, r, hook| {
            r.as_str() == "Octo/Hello"
                && hook.url == "https://pm.example.com/api/v1/webhooks/github"
        })
        .times(1)
        .returning(|_, _, _| Ok(crate::HookRegistration::Created { id: 11 }));
    let service = RepoService::new(
        Arc::new(linkable(&p)),
        Arc::new(github),
        tokens(Some("srv")),
    )
    .with_hooks(hooks());
    let linked = service
        .link(&actor, &p.slug, &RepoFullName::parse("octo/hello").unwrap())
        .await
        .unwrap();
    assert_eq!(
        linked.project.github_repo.map(|r| r.to_string()).as_deref(),
        Some("Octo/Hello")
    );
    assert!(matches!(
        linked.webhook,
        WebhookOutcome::Registered { id: 11, .. }
    ));
}

#[tokio::test]
async fn a_refused_webhook_keeps_the_link() {
    let actor = admin();
    let p = project(actor.workspace_id);
    let mut github = MockGithubApi::new();
    github
        .expect_get_repo()
        .returning(|_, _| Ok(repo("octo/hello")));
    github.expect_create_hook().times(1).returning(|_, _, _| {
        Err(GithubError::NotFound {
            message: "Not Found".into(),
        })
    });
    let service = RepoService::new(
        Arc::new(linkable(&p)),
        Arc::new(github),
        tokens(Some("srv")),
    )
    .with_hooks(hooks());
    let linked = service
        .link(&actor, &p.slug, &RepoFullName::parse("octo/hello").unwrap())
        .await
        .unwrap();
    assert!(linked.project.github_repo.is_some());
    assert!(matches!(
        linked.webhook,
        WebhookOutcome::Failed {
            error_code: "GITHUB_NOT_FOUND",
            status: Some(404),
            ..
        }
    ));
}

#[tokio::test]
async fn without_hook_settings_linking_calls_no_hooks_api_and_says_how() {
    let actor = admin();
    let p = project(actor.workspace_id);
    let mut github = MockGithubApi::new();
    github
        .expect_get_repo()
        .returning(|_, _| Ok(repo("octo/hello")));
    github.expect_create_hook().never();
    let service = RepoService::new(
        Arc::new(linkable(&p)),
        Arc::new(github),
        tokens(Some("srv")),
    );
    let linked = service
        .link(&actor, &p.slug, &RepoFullName::parse("octo/hello").unwrap())
        .await
        .unwrap();
    assert!(matches!(
        linked.webhook,
        WebhookOutcome::Manual {
            reason: ManualReason::NoPublicUrl,
            ..
        }
    ));
    assert!(linked.webhook.message().contains("octo/hello"));
}

#[tokio::test]
async fn the_repository_created_on_approval_gets_its_webhook_and_a_failure_keeps_it() {
    for result in [
        Ok(crate::HookRegistration::Created { id: 3 }),
        Err(GithubError::Forbidden {
            message: "Must have admin rights to Repository.".into(),
        }),
    ] {
        let p = project(WorkspaceId::new());
        let mut github = MockGithubApi::new();
        github
            .expect_create_org_repo()
            .returning(|_, _, _, _| Ok(repo("org/billing-abc123")));
        github
            .expect_create_hook()
            .withf(|_, r, hook| {
                r.as_str() == "org/billing-abc123" && hook.events == ["issues", "repository"]
            })
            .times(1)
            .returning(move |_, _, _| result.clone());
        let mut projects = MockProjectRepository::new();
        projects
            .expect_set_github_repo_if_unset()
            .returning(move |ws, _, _| Ok(Some(project(ws))));
        let provisioner = GithubRepoProvisioner::new(
            Arc::new(projects),
            Arc::new(github),
            tokens(Some("srv")),
            "org",
        )
        .with_hooks(hooks());
        let name = provisioner.provision(&p).await.unwrap();
        assert_eq!(name.as_str(), "org/billing-abc123");
    }
}
