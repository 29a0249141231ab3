//! GitHub integration storage against a real PostgreSQL: sealed credentials, key
//! rotation, and idempotent, concurrent, resumable imports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_accounts::{AccountStore, Email, NewToken, TokenHash, WorkspaceName};
use pm_crypto::Keyring;
use pm_integrations::tokens::TokenSource;
use pm_integrations::{
    ConnectionService, CredentialStore, GithubApi, GithubIssue, GithubRepo, GithubUser,
    HookRegistration, IssueImporter, IssuePage, IssuePageRequest, IssuePatch, IssueRead,
    IssueState, NewHook, NewIssue, NewRepoOptions, SecretCipher, SyncStatus, SyncStore,
};
use pm_kernel::{Actor, GithubError, Limit, Role, WorkspaceId};
use pm_postgres::testing::TestDb;
use pm_postgres::{
    PgAccountStore, PgCredentialStore, PgProjectRepository, PgSyncStore, PgTaskStore,
};
use pm_projects::{
    Description, NewProject, Project, ProjectName, ProjectRepository, RepoFullName, Slug,
};
use pm_tasks::{TaskFilter, TaskStore};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const KEY_A: &str = "a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "b:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const TOKEN: &str = "ghp_SuperSecretToken1234567890abcd";

/// An in-memory GitHub: `repo` holds `issues`, served 100 per page; optionally
/// fails on one page, and can be "renamed".
struct ScriptedGithub {
    full_name: Mutex<String>,
    issues: Vec<(i64, i64)>,
    fail_on_page: Mutex<Option<usize>>,
    list_calls: AtomicUsize,
    /// The body of issue #1 (the others have none).
    first_body: Mutex<Option<String>>,
}

impl ScriptedGithub {
    fn new(full_name: &str, count: i64) -> Self {
        Self {
            full_name: Mutex::new(full_name.into()),
            issues: (1..=count).map(|n| (9_000_000 + n, n)).collect(),
            fail_on_page: Mutex::new(None),
            list_calls: AtomicUsize::new(0),
            first_body: Mutex::new(None),
        }
    }
}

#[async_trait]
impl GithubApi for ScriptedGithub {
    fn host(&self) -> String {
        "github.com".into()
    }
    async fn current_user(&self, token: &SecretString) -> Result<GithubUser, GithubError> {
        if token.expose_secret() == TOKEN {
            Ok(GithubUser {
                id: 1,
                login: "octocat".into(),
            })
        } else {
            Err(GithubError::Unauthorized)
        }
    }
    async fn list_repos(&self, _: &SecretString) -> Result<Vec<GithubRepo>, GithubError> {
        Ok(vec![])
    }
    async fn get_repo(
        &self,
        _: &SecretString,
        _: &RepoFullName,
    ) -> Result<GithubRepo, GithubError> {
        Err(GithubError::NotFound {
            message: "Not Found".into(),
        })
    }
    async fn get_issue(
        &self,
        _: &SecretString,
        _: &RepoFullName,
        _: i64,
        _: Option<String>,
    ) -> Result<IssueRead, GithubError> {
        Ok(IssueRead::Missing)
    }
    async fn update_issue(
        &self,
        _: &SecretString,
        _: &RepoFullName,
        _: i64,
        _: &IssuePatch,
    ) -> Result<GithubIssue, GithubError> {
        Err(GithubError::NotFound {
            message: "Not Found".into(),
        })
    }
    async fn create_hook(
        &self,
        _: &SecretString,
        _: &RepoFullName,
        _: &NewHook,
    ) -> Result<HookRegistration, GithubError> {
        Ok(HookRegistration::AlreadyExists)
    }
    async fn list_issues(
        &self,
        _: &SecretString,
        request: &IssuePageRequest,
    ) -> Result<IssuePage, GithubError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        let page = match request {
            IssuePageRequest::First { .. } | IssuePageRequest::UpdatedSince { .. } => 1,
            IssuePageRequest::Next { url } => url.rsplit('=').next().unwrap().parse().unwrap(),
        };
        if *self.fail_on_page.lock().unwrap() == Some(page) {
            return Err(GithubError::Unavailable {
                status: None,
                reason: "502 from GitHub".into(),
            });
        }
        let full_name = self.full_name.lock().unwrap().clone();
        let chunk: Vec<GithubIssue> = self
            .issues
            .iter()
            .skip((page - 1) * 100)
            .take(100)
            .map(|&(id, number)| GithubIssue {
                updated_at: None,
                repo_full_name: None,
                id,
                number,
                title: format!("Issue {number}"),
                body: if number == 1 {
                    self.first_body.lock().unwrap().clone()
                } else {
                    None
                },
                state: if number % 10 == 0 {
                    IssueState::Closed
                } else {
                    IssueState::Open
                },
                state_reason: (number % 20 == 0).then(|| "not_planned".to_string()),
                labels: vec!["bug".to_string(), "needs \"triage\", ünïcode".to_string()],
                html_url: format!("https://github.com/{full_name}/issues/{number}"),
            })
            .collect();
        let next = (page * 100 < self.issues.len()).then(|| {
            format!(
                "https://api.github.com/repositories/1/issues?page={}",
                page + 1
            )
        });
        Ok(IssuePage {
            not_modified: false,
            issues: chunk,
            pull_requests_skipped: 0,
            next,
        })
    }
    async fn create_issue(
        &self,
        _: &SecretString,
        _: &RepoFullName,
        _: &NewIssue,
    ) -> Result<GithubIssue, GithubError> {
        Err(GithubError::Unavailable {
            status: None,
            reason: "not scripted".into(),
        })
    }
    async fn create_org_repo(
        &self,
        _: &SecretString,
        _: &str,
        _: &str,
        _: &NewRepoOptions,
    ) -> Result<GithubRepo, GithubError> {
        Err(GithubError::Unavailable {
            status: None,
            reason: "not scripted".into(),
        })
    }
}

struct World {
    db: TestDb,
    actor: Actor,
    project: Project,
    cipher: Arc<Keyring>,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let (ws, admin) = PgAccountStore::new(db.db.clone())
        .create_workspace(
            &WorkspaceName::new("acme").unwrap(),
            &Email::new("a@acme.io").unwrap(),
            &NewToken {
                hash: TokenHash([5; 32]),
                hint: "hint".into(),
                name: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let project = PgProjectRepository::new(db.db.clone())
        .create(
            ws.id,
            &Slug::parse("sync-abcdef").unwrap(),
            &NewProject {
                name: ProjectName::new("Sync").unwrap(),
                description: Description::default(),
            },
        )
        .await
        .unwrap();
    World {
        actor: Actor {
            user_id: admin.id,
            workspace_id: ws.id,
            role: Role::Admin,
        },
        project,
        cipher: Arc::new(Keyring::from_config(KEY_A, None).unwrap()),
        db,
    }
}

impl World {
    fn connections(&self, github: Arc<dyn GithubApi>) -> ConnectionService {
        ConnectionService::new(
            github,
            Arc::new(PgCredentialStore::new(self.db.db.clone())),
            self.cipher.clone(),
        )
    }

    fn importer(&self, github: Arc<dyn GithubApi>) -> IssueImporter {
        let tokens = TokenSource::new(
            Arc::new(PgCredentialStore::new(self.db.db.clone())),
            self.cipher.clone(),
            Some(SecretString::from(TOKEN)),
        );
        IssueImporter::new(
            Arc::new(PgProjectRepository::new(self.db.db.clone())),
            github,
            tokens,
            Arc::new(PgSyncStore::new(self.db.db.clone())),
        )
    }

    async fn task_count(&self) -> usize {
        let mut n = 0;
        let mut after = None;
        loop {
            let page = PgTaskStore::new(self.db.db.clone())
                .list_in_project(
                    self.project.workspace_id,
                    &self.project.slug,
                    TaskFilter::default(),
                    after,
                    Limit::new(Some(200)).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
            let more = page.len() > 200;
            n += page.len().min(200);
            if !more {
                return n;
            }
            after = Some(page[199].number);
        }
    }

    async fn numbers(&self) -> Vec<i64> {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            number: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.db.url).await.unwrap();
        diesel::sql_query("SELECT number FROM tasks ORDER BY number")
            .load::<N>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.number)
            .collect()
    }
}

fn slug() -> Slug {
    Slug::parse("sync-abcdef").unwrap()
}

fn repo(name: &str) -> Option<RepoFullName> {
    Some(RepoFullName::parse(name).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_credentials_never_contain_the_token_and_are_bound_to_their_row() {
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/hello", 0));
    let info = w
        .connections(github)
        .connect(&w.actor, SecretString::from(TOKEN))
        .await
        .unwrap();
    assert_eq!(
        (info.account_login.as_str(), info.token_hint.as_str()),
        ("octocat", "abcd")
    );

    let store = PgCredentialStore::new(w.db.db.clone());
    let stored = store.get(w.actor.workspace_id).await.unwrap().unwrap();
    let raw = [
        stored.sealed.ciphertext.as_slice(),
        stored.sealed.nonce.as_slice(),
    ]
    .concat();
    assert!(!raw.windows(TOKEN.len()).any(|win| win == TOKEN.as_bytes()));
    assert!(!format!("{stored:?}").contains(TOKEN));

    // The right row decrypts.
    let ctx = pm_integrations::tokens::credential_context(&stored);
    assert_eq!(
        w.cipher.open(&stored.sealed, &ctx).unwrap().expose_secret(),
        TOKEN
    );

    // A flipped byte does not.
    let mut tampered = stored.sealed.clone();
    tampered.ciphertext[0] ^= 1;
    let err = w.cipher.open(&tampered, &ctx).unwrap_err();
    assert!(!err.to_string().contains(TOKEN));

    // The same ciphertext copied to another workspace's row does not.
    let mut moved = stored.clone();
    moved.id = uuid::Uuid::now_v7();
    moved.workspace_id = WorkspaceId::new();
    let moved_ctx = pm_integrations::tokens::credential_context(&moved);
    assert!(w.cipher.open(&moved.sealed, &moved_ctx).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_keeps_every_token_readable() {
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/hello", 0));
    w.connections(github.clone())
        .connect(&w.actor, SecretString::from(TOKEN))
        .await
        .unwrap();

    // New current key B, old key A kept for decryption.
    let rotated = Arc::new(Keyring::from_config(KEY_B, Some(KEY_A)).unwrap());
    let service = ConnectionService::new(
        github,
        Arc::new(PgCredentialStore::new(w.db.db.clone())),
        rotated.clone(),
    );
    let report = service.rotate_keys().await.unwrap();
    assert_eq!(report.resealed, 1);
    assert_eq!(service.rotate_keys().await.unwrap().already_current, 1);

    let stored = PgCredentialStore::new(w.db.db.clone())
        .get(w.actor.workspace_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sealed.key_id, "b");
    let ctx = pm_integrations::tokens::credential_context(&stored);
    // Key B alone reads it now: A can be retired.
    let only_b = Keyring::from_config(KEY_B, None).unwrap();
    assert_eq!(
        only_b.open(&stored.sealed, &ctx).unwrap().expose_secret(),
        TOKEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_is_idempotent_and_maps_states() {
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/hello", 250));
    let importer = w.importer(github.clone());
    let first = importer
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap();
    assert_eq!(
        (
            first.counts.created,
            first.counts.skipped,
            first.counts.total_seen
        ),
        (250, 0, 250)
    );
    assert_eq!(
        std::sync::atomic::AtomicUsize::load(&github.list_calls, Ordering::SeqCst),
        3
    );
    let again = importer
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap();
    assert_eq!((again.counts.created, again.counts.skipped), (0, 250));
    assert_eq!(w.numbers().await, (1..=250).collect::<Vec<_>>());

    let tasks = PgTaskStore::new(w.db.db.clone());
    let t10 = tasks.get(w.project.id, 10).await.unwrap().unwrap();
    assert_eq!(t10.status.as_str(), "done");
    let t20 = tasks.get(w.project.id, 20).await.unwrap().unwrap();
    assert_eq!(t20.status.as_str(), "canceled");
    assert_eq!(t20.external_links[0].reference, "octo/hello#20");
    assert_eq!(t20.source.as_str(), "github");
    assert_eq!(t20.labels.as_slice(), ["bug", "needs \"triage\", ünïcode"]);
    assert_eq!(t20.title.as_str(), "Issue 20");

    let runs = PgSyncStore::new(w.db.db.clone())
        .list_runs(w.project.id, None, Limit::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r.status == SyncStatus::Succeeded && r.finished_at.is_some())
    );
    assert_eq!(runs[0].counts.skipped, 250, "newest first");
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_concurrent_syncs_of_1000_issues_create_exactly_1000_tasks() {
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/big", 1000));
    let importer = w.importer(github);
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let importer = importer.clone();
            let actor = w.actor;
            tokio::spawn(async move { importer.run(&actor, &slug(), repo("octo/big")).await })
        })
        .collect();
    let mut created = 0;
    for run in runs {
        created += run.await.unwrap().unwrap().counts.created;
    }
    assert_eq!(created, 1000);
    assert_eq!(w.task_count().await, 1000);
    assert_eq!(w.numbers().await, (1..=1000).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_keeps_whole_pages_and_the_next_run_finishes_the_job() {
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/hello", 350));
    *github.fail_on_page.lock().unwrap() = Some(3);
    let importer = w.importer(github.clone());
    let err = importer
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "GITHUB_UNAVAILABLE");
    assert_eq!(w.task_count().await, 200, "pages 1 and 2 were stored whole");
    let runs = PgSyncStore::new(w.db.db.clone())
        .list_runs(w.project.id, None, Limit::default())
        .await
        .unwrap();
    assert_eq!(runs[0].status, SyncStatus::Failed);
    assert_eq!(runs[0].error_code.as_deref(), Some("GITHUB_UNAVAILABLE"));
    assert_eq!(runs[0].counts.created, 200);

    *github.fail_on_page.lock().unwrap() = None;
    let report = importer
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap();
    assert_eq!((report.counts.created, report.counts.skipped), (150, 200));
    assert_eq!(w.numbers().await, (1..=350).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_repository_creates_nothing_new_and_updates_references() {
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/old-name", 5));
    let importer = w.importer(github.clone());
    importer
        .run(&w.actor, &slug(), repo("octo/old-name"))
        .await
        .unwrap();
    *github.full_name.lock().unwrap() = "octo/new-name".into();
    let report = importer
        .run(&w.actor, &slug(), repo("octo/new-name"))
        .await
        .unwrap();
    assert_eq!((report.counts.created, report.counts.skipped), (0, 5));
    let task = PgTaskStore::new(w.db.db.clone())
        .get(w.project.id, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.external_links.len(), 1);
    assert_eq!(task.external_links[0].reference, "octo/new-name#3");
    assert_eq!(
        task.external_links[0].url,
        "https://github.com/octo/new-name/issues/3"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_page_uses_a_constant_number_of_statements() {
    // Guard against a per-issue query creeping in: a page of 100 and a page of 1
    // must cost the same number of statements.
    let w = world().await;
    let store = PgSyncStore::new(w.db.db.clone());
    let run = store
        .start_run(w.project.id, pm_integrations::SyncKind::Import, "octo/x")
        .await
        .unwrap();
    let repo_name = RepoFullName::parse("octo/x").unwrap();
    let issues = |range: std::ops::Range<i64>| -> Vec<_> {
        range
            .map(|n| {
                pm_integrations::import::issue_import(
                    "github.com",
                    &repo_name,
                    &GithubIssue {
                        updated_at: None,
                        repo_full_name: None,
                        id: n,
                        number: n,
                        title: "t".into(),
                        body: None,
                        state: IssueState::Open,
                        state_reason: None,
                        labels: vec![],
                        html_url: format!("https://github.com/octo/x/issues/{n}"),
                    },
                )
            })
            .collect()
    };
    let before = statements(&w.db).await;
    store
        .import_page(w.project.id, run, &issues(1..101), Default::default())
        .await
        .unwrap();
    let big = statements(&w.db).await - before;
    let before = statements(&w.db).await;
    store
        .import_page(w.project.id, run, &issues(101..102), Default::default())
        .await
        .unwrap();
    let small = statements(&w.db).await - before;
    assert_eq!(
        big, small,
        "statements per page must not grow with the page size"
    );
    assert!((5..=12).contains(&big), "{big} statements for one page");
}

async fn statements(db: &TestDb) -> u64 {
    db.db.statements_executed()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_stale_running_runs_are_marked_interrupted() {
    let w = world().await;
    let store = PgSyncStore::new(w.db.db.clone());
    let old = store
        .start_run(w.project.id, pm_integrations::SyncKind::Import, "octo/x")
        .await
        .unwrap();
    let fresh = store
        .start_run(w.project.id, pm_integrations::SyncKind::Import, "octo/x")
        .await
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&w.db.url).await.unwrap();
    diesel::sql_query(format!(
        "UPDATE sync_runs SET started_at = now() - interval '2 hours' WHERE id = '{old}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let cutoff = pm_kernel::now() - std::time::Duration::from_secs(3600);
    let n = store
        .fail_stale_runs(w.project.id, cutoff, "INTERRUPTED".into())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let old = store.get_run(old).await.unwrap().unwrap();
    assert_eq!(
        (old.status, old.error_code.as_deref()),
        (SyncStatus::Failed, Some("INTERRUPTED"))
    );
    assert!(old.finished_at.is_some());
    let fresh = store.get_run(fresh).await.unwrap().unwrap();
    assert_eq!(fresh.status, SyncStatus::Running);
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_are_exclusive_renewable_and_expire() {
    use pm_postgres::PgProjectLeases;
    use pm_projects::{LeasePurpose, ProjectLeases};
    use std::time::Duration;
    let w = world().await;
    let leases = PgProjectLeases::new(w.db.db.clone());
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let minute = Duration::from_secs(60);
    let pid = w.project.id;
    assert!(
        leases
            .acquire(pid, LeasePurpose::Push, a, minute)
            .await
            .unwrap()
    );
    assert!(
        !leases
            .acquire(pid, LeasePurpose::Push, b, minute)
            .await
            .unwrap()
    );
    assert!(
        leases
            .acquire(pid, LeasePurpose::Push, a, minute)
            .await
            .unwrap(),
        "renewal"
    );
    // Purposes are independent.
    assert!(
        leases
            .acquire(pid, LeasePurpose::Provision, b, minute)
            .await
            .unwrap()
    );
    // B cannot release A's lease.
    leases.release(pid, LeasePurpose::Push, b).await.unwrap();
    assert!(
        !leases
            .acquire(pid, LeasePurpose::Push, b, minute)
            .await
            .unwrap()
    );
    // An expired lease is anyone's: A takes it for no time at all.
    assert!(
        leases
            .acquire(pid, LeasePurpose::Push, a, Duration::ZERO)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(
        leases
            .acquire(pid, LeasePurpose::Push, b, minute)
            .await
            .unwrap()
    );
    // A's release no longer touches B's lease.
    leases.release(pid, LeasePurpose::Push, a).await.unwrap();
    assert!(
        !leases
            .acquire(pid, LeasePurpose::Push, a, minute)
            .await
            .unwrap()
    );
    leases.release(pid, LeasePurpose::Push, b).await.unwrap();
    assert!(
        leases
            .acquire(pid, LeasePurpose::Push, a, minute)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_is_linked_to_one_issue_at_most() {
    use pm_integrations::PushStore;
    use pm_postgres::PgPushStore;
    use pm_tasks::ExternalLink;
    let w = world().await;
    let github = Arc::new(ScriptedGithub::new("octo/hello", 1));
    w.importer(github)
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap();
    let task = PgTaskStore::new(w.db.db.clone())
        .get(w.project.id, 1)
        .await
        .unwrap()
        .unwrap();
    let link = |n: i64| ExternalLink {
        provider: "github".into(),
        reference: format!("octo/hello#{n}"),
        url: format!("https://github.com/octo/hello/issues/{n}"),
    };
    let linked = PgPushStore::new(w.db.db.clone())
        .link_pushed(
            w.project.id,
            task.id,
            "github:github.com:issue:424242".into(),
            link(99),
            pm_integrations::two_way::IssueFields::of_task(&task),
        )
        .await
        .unwrap();
    assert!(!linked, "the task already has its GitHub issue");
    let task = PgTaskStore::new(w.db.db.clone())
        .get(w.project.id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.external_links.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issue_pushed_for_a_task_is_linked_to_it_not_imported_again() {
    use pm_integrations::PushStore;
    use pm_postgres::PgPushStore;
    use pm_tasks::{Labels, NewTask, Priority, TaskDescription, TaskSource, TaskStatus, TaskTitle};
    let w = world().await;
    let tasks = PgTaskStore::new(w.db.db.clone());
    let manual = tasks
        .create(
            w.project.id,
            &NewTask {
                title: TaskTitle::new("Pushed before a crash").unwrap(),
                description: TaskDescription::default(),
                status: TaskStatus::Todo,
                priority: Priority::None,
                labels: Labels::default(),
                source: TaskSource::Manual,
            },
        )
        .await
        .unwrap();
    // The push recorded its intent and GitHub created the issue; the link was
    // never written.
    let runs = PgSyncStore::new(w.db.db.clone());
    let run = runs
        .start_run(w.project.id, pm_integrations::SyncKind::Push, "octo/hello")
        .await
        .unwrap();
    PgPushStore::new(w.db.db.clone())
        .record_intent(w.project.id, manual.id, run)
        .await
        .unwrap();
    let github = Arc::new(ScriptedGithub::new("octo/hello", 3));
    *github.first_body.lock().unwrap() = Some(pm_integrations::push::issue_body(&manual));

    let report = w
        .importer(github)
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap();
    assert_eq!((report.counts.created, report.counts.skipped), (2, 1));
    let linked = tasks
        .get(w.project.id, manual.number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.external_links.len(), 1);
    assert_eq!(linked.external_links[0].reference, "octo/hello#1");
    assert_eq!(
        w.numbers().await,
        vec![1, 2, 3],
        "no task was created for issue #1"
    );
    let backlog = PgPushStore::new(w.db.db.clone())
        .backlog(w.project.id)
        .await
        .unwrap();
    assert!(
        backlog.unlinked.is_empty(),
        "the intent is gone and nothing is left to push"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_marker_naming_another_projects_task_is_ignored() {
    let w = world().await;
    let foreign = pm_kernel::TaskId::new();
    let github = Arc::new(ScriptedGithub::new("octo/hello", 1));
    *github.first_body.lock().unwrap() = Some(format!("hi\n\n<!-- pmhub:task:{foreign} -->"));
    let report = w
        .importer(github)
        .run(&w.actor, &slug(), repo("octo/hello"))
        .await
        .unwrap();
    assert_eq!(report.counts.created, 1);
    assert_eq!(w.task_count().await, 1);
}
