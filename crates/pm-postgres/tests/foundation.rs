//! The foundation repositories against a real PostgreSQL, one database per test.

use diesel_async::RunQueryDsl;
use pm_accounts::{AccountStore, Email, NewToken, TokenHash, WorkspaceName};
use pm_kernel::{ConflictReason, Error, Limit, Role, WorkspaceId};
use pm_postgres::testing::TestDb;
use pm_postgres::{PgAccountStore, PgProjectRepository, PgSpecRepository, PgTaskStore};
use pm_projects::{
    Description, NewProject, Project, ProjectName, ProjectPatch, ProjectRepository, RepoFullName,
    Slug,
};
use pm_specs::{SpecContent, SpecRepository, SpecStatus};
use pm_tasks::{
    Labels, NewTask, Priority, TaskDescription, TaskFilter, TaskPatch, TaskSource, TaskStatus,
    TaskStore, TaskTitle,
};
use std::sync::Arc;

async fn workspace(db: &TestDb, name: &str) -> WorkspaceId {
    let store = PgAccountStore::new(db.db.clone());
    let (ws, _) = store
        .create_workspace(
            &WorkspaceName::new(name).unwrap(),
            &Email::new("admin@example.com").unwrap(),
            &token(TokenHash(rand_hash())),
        )
        .await
        .unwrap();
    ws.id
}

/// A token to store: its hash and a hint, no name, no expiry.
fn token(hash: TokenHash) -> NewToken {
    NewToken {
        hash,
        hint: "hint".into(),
        name: None,
        expires_at: None,
    }
}

fn rand_hash() -> [u8; 32] {
    *uuid::Uuid::now_v7()
        .as_bytes()
        .repeat(2)
        .first_chunk::<32>()
        .unwrap()
}

async fn project(db: &TestDb, ws: WorkspaceId, slug: &str) -> Project {
    PgProjectRepository::new(db.db.clone())
        .create(
            ws,
            &Slug::parse(slug).unwrap(),
            &NewProject {
                name: ProjectName::new("Billing").unwrap(),
                description: Description::new("Money in, money out").unwrap(),
            },
        )
        .await
        .unwrap()
}

fn new_task(title: &str) -> NewTask {
    NewTask {
        title: TaskTitle::new(title).unwrap(),
        description: TaskDescription::default(),
        status: TaskStatus::Todo,
        priority: Priority::None,
        labels: Labels::default(),
        source: TaskSource::Manual,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_names_are_unique_and_tokens_resolve_to_their_user() {
    let db = TestDb::new().await;
    let store = PgAccountStore::new(db.db.clone());
    let name = WorkspaceName::new("acme").unwrap();
    let hash = TokenHash([1; 32]);
    let (ws, admin) = store
        .create_workspace(&name, &Email::new("a@acme.io").unwrap(), &token(hash))
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);

    let again = store
        .create_workspace(
            &name,
            &Email::new("b@acme.io").unwrap(),
            &token(TokenHash([2; 32])),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        Error::Conflict {
            reason: ConflictReason::WorkspaceNameTaken,
            ..
        }
    ));

    let found = store
        .find_by_token(&hash, pm_kernel::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.user.id, found.workspace.id), (admin.id, ws.id));
    assert!(
        store
            .find_by_token(&TokenHash([9; 32]), pm_kernel::now())
            .await
            .unwrap()
            .is_none()
    );

    let member = store
        .create_user(
            ws.id,
            &Email::new("m@acme.io").unwrap(),
            Role::Member,
            &token(TokenHash([3; 32])),
        )
        .await
        .unwrap();
    assert_eq!(member.role, Role::Member);
    let dup = store
        .create_user(
            ws.id,
            &Email::new("m@acme.io").unwrap(),
            Role::Admin,
            &token(TokenHash([4; 32])),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        dup,
        Error::Conflict {
            reason: ConflictReason::EmailTaken,
            ..
        }
    ));
    // The failed insert wrote nothing: its token does not authenticate.
    assert!(
        store
            .find_by_token(&TokenHash([4; 32]), pm_kernel::now())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_are_scoped_to_their_workspace() {
    let db = TestDb::new().await;
    let ws_a = workspace(&db, "a").await;
    let ws_b = workspace(&db, "b").await;
    let repo = PgProjectRepository::new(db.db.clone());
    let p = project(&db, ws_a, "billing-aaaaaa").await;

    assert_eq!(repo.get(ws_a, &p.slug).await.unwrap().unwrap().id, p.id);
    assert!(repo.get(ws_b, &p.slug).await.unwrap().is_none());
    let patch = ProjectPatch {
        name: Some(ProjectName::new("Hijack").unwrap()),
        description: None,
    };
    assert!(repo.update(ws_b, &p.slug, &patch).await.unwrap().is_none());
    assert!(!repo.delete(ws_b, &p.slug).await.unwrap());
    assert_eq!(
        repo.get(ws_a, &p.slug)
            .await
            .unwrap()
            .unwrap()
            .name
            .as_str(),
        "Billing"
    );

    let updated = repo.update(ws_a, &p.slug, &patch).await.unwrap().unwrap();
    assert_eq!(updated.name.as_str(), "Hijack");
    assert_eq!(updated.description.as_str(), "Money in, money out");
    assert!(updated.updated_at >= p.updated_at);

    let repo_name = RepoFullName::parse("octo/hello").unwrap();
    let linked = repo
        .set_github_repo(ws_a, p.id, Some(repo_name.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.github_repo, Some(repo_name));
    assert!(
        repo.set_github_repo(ws_b, p.id, None)
            .await
            .unwrap()
            .is_none()
    );

    assert!(repo.delete(ws_a, &p.slug).await.unwrap());
    assert!(repo.get(ws_a, &p.slug).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn slugs_are_globally_unique() {
    let db = TestDb::new().await;
    let ws_a = workspace(&db, "a").await;
    let ws_b = workspace(&db, "b").await;
    project(&db, ws_a, "same-slug-1").await;
    let err = PgProjectRepository::new(db.db.clone())
        .create(
            ws_b,
            &Slug::parse("same-slug-1").unwrap(),
            &NewProject {
                name: ProjectName::new("Other").unwrap(),
                description: Description::default(),
            },
        )
        .await
        .unwrap_err();
    // A unique violation on the slug index is a slug clash: the reason the
    // project service retries on with a fresh slug.
    assert!(matches!(
        err,
        Error::Conflict {
            reason: ConflictReason::SlugTaken,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn project_listing_pages_in_creation_order() {
    let db = TestDb::new().await;
    let ws = workspace(&db, "a").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(project(&db, ws, &format!("p-{i}-abcdef")).await.id);
    }
    let repo = PgProjectRepository::new(db.db.clone());
    let limit = Limit::new(Some(2)).unwrap();
    let first = repo.list(ws, None, limit).await.unwrap();
    assert_eq!(first.len(), 3, "limit + 1 rows tell that more exist");
    let after = first[1].id;
    let rest = repo
        .list(ws, Some(after), Limit::new(Some(10)).unwrap())
        .await
        .unwrap();
    let ids: Vec<_> = first[..2].iter().chain(rest.iter()).map(|p| p.id).collect();
    assert_eq!(ids, created);
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_is_created_in_draft_and_transitions_compare_and_set() {
    let db = TestDb::new().await;
    let ws = workspace(&db, "a").await;
    let p = project(&db, ws, "spec-test-abcdef").await;
    let specs = PgSpecRepository::new(db.db.clone());
    let spec = specs.get(p.id).await.unwrap().unwrap();
    assert_eq!(spec.status, SpecStatus::Draft);

    let content = SpecContent::new("# Goals\n\n  indented").unwrap();
    let edited = specs
        .update_content(p.id, SpecStatus::Draft, &content)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.content, content);
    assert!(
        specs
            .update_content(
                p.id,
                SpecStatus::Interviewing,
                &SpecContent::new("x").unwrap()
            )
            .await
            .unwrap()
            .is_none(),
        "an edit expecting another status writes nothing"
    );

    assert!(
        specs
            .transition(p.id, SpecStatus::Interviewing, SpecStatus::Review)
            .await
            .unwrap()
            .is_none(),
        "a draft cannot move from interviewing"
    );
    let submitted = specs
        .transition(p.id, SpecStatus::Draft, SpecStatus::Interviewing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(submitted.status, SpecStatus::Interviewing);
    assert_eq!(submitted.content, content);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_creates_get_numbers_one_to_fifty() {
    let db = TestDb::new().await;
    let ws = workspace(&db, "a").await;
    let p = project(&db, ws, "race-abcdef").await;
    let store = Arc::new(PgTaskStore::new(db.db.clone()));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create(p.id, &new_task(&format!("t{i}"))).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap().unwrap().number);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_filter_page_update_and_delete() {
    let db = TestDb::new().await;
    let ws = workspace(&db, "a").await;
    let p = project(&db, ws, "tasks-abcdef").await;
    let store = PgTaskStore::new(db.db.clone());
    for i in 1..=5 {
        let mut t = new_task(&format!("task {i}"));
        if i % 2 == 0 {
            t.status = TaskStatus::Done;
        }
        t.labels = Labels::new(&["bug".into(), "ui".into()]).unwrap();
        store.create(p.id, &t).await.unwrap();
    }
    let done = store
        .list_in_project(
            ws,
            &p.slug,
            TaskFilter {
                status: Some(TaskStatus::Done),
                source: None,
            },
            None,
            Limit::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.iter().map(|t| t.number).collect::<Vec<_>>(), [2, 4]);
    let github = store
        .list_in_project(
            ws,
            &p.slug,
            TaskFilter {
                status: None,
                source: Some(TaskSource::Github),
            },
            None,
            Limit::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(github.is_empty());
    let page2 = store
        .list_in_project(
            ws,
            &p.slug,
            TaskFilter::default(),
            Some(3),
            Limit::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page2.iter().map(|t| t.number).collect::<Vec<_>>(), [4, 5]);

    let patch = TaskPatch {
        priority: Some(Priority::Urgent),
        labels: Some(Labels::new(&["api".into()]).unwrap()),
        ..TaskPatch::default()
    };
    let updated = store.update(p.id, 1, &patch).await.unwrap().unwrap();
    assert_eq!(updated.priority, Priority::Urgent);
    assert_eq!(updated.labels.as_slice(), ["api"]);
    assert_eq!(updated.title.as_str(), "task 1");
    assert!(store.update(p.id, 99, &patch).await.unwrap().is_none());

    assert!(store.delete(p.id, 1).await.unwrap());
    assert!(!store.delete(p.id, 1).await.unwrap());
    assert!(store.get(p.id, 1).await.unwrap().is_none());
    // Numbers are never reused after a delete.
    assert_eq!(
        store.create(p.id, &new_task("six")).await.unwrap().number,
        6
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_project_removes_its_spec_and_tasks() {
    let db = TestDb::new().await;
    let ws = workspace(&db, "a").await;
    let p = project(&db, ws, "gone-abcdef").await;
    PgTaskStore::new(db.db.clone())
        .create(p.id, &new_task("x"))
        .await
        .unwrap();
    assert!(
        PgProjectRepository::new(db.db.clone())
            .delete(ws, &p.slug)
            .await
            .unwrap()
    );
    let mut conn: diesel_async::AsyncPgConnection =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&db.url)
            .await
            .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Count = diesel::sql_query(
        "SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM specs) AS n",
    )
    .get_result::<Count>(&mut conn)
    .await
    .unwrap();
    assert_eq!(left.n, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_task_list_resolves_its_project_and_links_in_one_statement() {
    let db = TestDb::new().await;
    let ws = workspace(&db, "a").await;
    let other_ws = workspace(&db, "b").await;
    let p = project(&db, ws, "listed-abcdef").await;
    let empty = project(&db, ws, "empty-abcdef").await;
    let store = PgTaskStore::new(db.db.clone());
    for i in 1..=3 {
        store
            .create(p.id, &new_task(&format!("task {i}")))
            .await
            .unwrap();
    }
    // Task 2 gets two links, created out of id order; task 3 none.
    let mut conn: diesel_async::AsyncPgConnection =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&db.url)
            .await
            .unwrap();
    diesel::sql_query(
        "INSERT INTO external_links (id, task_id, project_id, provider, dedup_key, reference, url, created_at)
         SELECT v.id, t.id, t.project_id, v.provider, v.key, v.reference, v.url, v.at
           FROM tasks t, (VALUES
             ('ffffffff-0000-0000-0000-000000000000'::uuid, 'github', 'k1', 'octo/a#1', 'https://x/1', now() - interval '1 hour'),
             ('00000000-0000-0000-0000-000000000001'::uuid, 'gitlab', 'k2', 'grp/a#7', 'https://y/7', now())
           ) AS v(id, provider, key, reference, url, at)
          WHERE t.project_id = $1 AND t.number = 2",
    )
    .bind::<diesel::sql_types::Uuid, _>(p.id.into_uuid())
    .execute(&mut conn)
    .await
    .unwrap();

    let list = |ws, slug: &Slug, after| {
        let store = store.clone();
        let slug = slug.clone();
        async move {
            store
                .list_in_project(ws, &slug, TaskFilter::default(), after, Limit::default())
                .await
                .unwrap()
        }
    };
    let before = db.db.statements_executed();
    let tasks = list(ws, &p.slug, None).await.expect("the project exists");
    assert_eq!(db.db.statements_executed() - before, 1, "one statement");
    assert_eq!(
        tasks.iter().map(|t| t.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(tasks.iter().all(|t| t.project_id == p.id));
    assert_eq!(tasks[1].title.as_str(), "task 2");
    let links: Vec<_> = tasks[1]
        .external_links
        .iter()
        .map(|l| (l.provider.as_str(), l.reference.as_str(), l.url.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            ("github", "octo/a#1", "https://x/1"),
            ("gitlab", "grp/a#7", "https://y/7")
        ],
        "in creation order, each link's fields together"
    );
    assert!(tasks[0].external_links.is_empty() && tasks[2].external_links.is_empty());
    // The same task, field for field, as the single-task read gives.
    assert_eq!(store.get(p.id, 2).await.unwrap().unwrap(), tasks[1]);

    // A project with no (matching) task is an empty page, not a missing project.
    assert_eq!(list(ws, &empty.slug, None).await, Some(vec![]));
    assert_eq!(list(ws, &p.slug, Some(3)).await, Some(vec![]));
    // Another workspace's project, and no project at all, are `None`.
    assert_eq!(list(other_ws, &p.slug, None).await, None);
    assert_eq!(
        list(ws, &Slug::parse("nothing-abcdef").unwrap(), None).await,
        None
    );
}
