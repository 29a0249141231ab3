//! Two-way sync storage against a real PostgreSQL: the merge's atomic, fenced
//! apply, the journal and the conflicts, the outboxes (task edits, creates,
//! deletes, delivery settlement) and `jobs.rerun`, `reopen_status`, snapshots at
//! link time and the reconcile watermark. Each test has its own database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

use diesel::sql_types::{BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_accounts::{AccountStore, Email, NewToken, TokenHash, WorkspaceName};
use pm_integrations::import::issue_import;
use pm_integrations::two_way::{
    Applied, ConflictPolicy, IssueFields, IssueStatus, LinkChange, LinkState, MERGE_JOB,
    MergeApply, MergeStore, NewConflict, NewSyncEvent, SyncDirectionOfChange, SyncEventKind,
    SyncField, merge_job,
};
use pm_integrations::webhooks::{DeliveryOutcome, DeliverySettlement, DirtyMark, NewDelivery};
use pm_integrations::{
    DeliveryStore, GithubIssue, IssueState, PushStore, SyncCounts, SyncKind, SyncStore,
};
use pm_jobs::{JobQueue, JobStatus, NewJob, Settlement};
use pm_kernel::{ProjectId, WorkspaceId};
use pm_postgres::testing::TestDb;
use pm_postgres::{
    PgAccountStore, PgJobQueue, PgMergeStore, PgProjectRepository, PgPushStore, PgSyncStore,
    PgTaskStore, PgWebhookStore,
};
use pm_projects::RepoFullName;
use pm_projects::{Description, NewProject, Project, ProjectName, ProjectRepository, Slug};
use pm_tasks::{
    Labels, NewTask, Priority, TaskDescription, TaskPatch, TaskSource, TaskStatus, TaskStore,
    TaskTitle,
};
use serde_json::{Value, json};
use std::time::Duration;

const REPO: &str = "octo/hello";

struct World {
    db: TestDb,
    ws: WorkspaceId,
    /// Linked to [`REPO`], no settings row: two-way by default.
    project: Project,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let (ws, _) = PgAccountStore::new(db.db.clone())
        .create_workspace(
            &WorkspaceName::new("acme").unwrap(),
            &Email::new("a@acme.io").unwrap(),
            &NewToken {
                hash: TokenHash([7; 32]),
                hint: "hint".into(),
                name: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let project = project(&db, ws.id, "alpha-abcdef", Some(REPO)).await;
    World {
        db,
        ws: ws.id,
        project,
    }
}

async fn project(db: &TestDb, ws: WorkspaceId, slug: &str, repo: Option<&str>) -> Project {
    let project = PgProjectRepository::new(db.db.clone())
        .create(
            ws,
            &Slug::parse(slug).unwrap(),
            &NewProject {
                name: ProjectName::new("Sync").unwrap(),
                description: Description::default(),
            },
        )
        .await
        .unwrap();
    if let Some(repo) = repo {
        sql(
            db,
            &format!(
                "UPDATE projects SET github_repo = '{repo}' WHERE id = '{}'",
                project.id
            ),
        )
        .await;
    }
    project
}

async fn conn(db: &TestDb) -> AsyncPgConnection {
    AsyncPgConnection::establish(&db.url).await.unwrap()
}

async fn sql(db: &TestDb, statement: &str) {
    diesel::sql_query(statement)
        .execute(&mut conn(db).await)
        .await
        .unwrap();
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(db: &TestDb, query: &str) -> i64 {
    diesel::sql_query(query)
        .get_result::<N>(&mut conn(db).await)
        .await
        .unwrap()
        .n
}

fn issue(id: i64, number: i64, title: &str) -> GithubIssue {
    GithubIssue {
        id,
        number,
        title: title.into(),
        body: Some(format!("Body of {number}")),
        state: IssueState::Open,
        state_reason: None,
        labels: vec!["bug".into()],
        html_url: format!("https://github.com/{REPO}/issues/{number}"),
        updated_at: None,
        repo_full_name: None,
    }
}

/// Imports `issues` into the project (one page of a run), as the import does.
async fn import(w: &World, issues: &[GithubIssue]) {
    import_as(w, REPO, issues).await;
}

async fn import_as(w: &World, repo: &str, issues: &[GithubIssue]) {
    let store = PgSyncStore::new(w.db.db.clone());
    let run = store
        .start_run(w.project.id, SyncKind::Import, repo)
        .await
        .unwrap();
    let repo = RepoFullName::parse(repo).unwrap();
    let imports: Vec<_> = issues
        .iter()
        .map(|i| issue_import("github.com", &repo, i))
        .collect();
    store
        .import_page(w.project.id, run, &imports, SyncCounts::default())
        .await
        .unwrap();
}

fn tasks(w: &World) -> PgTaskStore {
    PgTaskStore::new(w.db.db.clone())
}

fn merges(w: &World) -> PgMergeStore {
    PgMergeStore::new(w.db.db.clone())
}

fn retitle(title: &str) -> TaskPatch {
    TaskPatch {
        title: Some(TaskTitle::new(title).unwrap()),
        ..TaskPatch::default()
    }
}

fn status(status: TaskStatus) -> TaskPatch {
    TaskPatch {
        status: Some(status),
        ..TaskPatch::default()
    }
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

#[derive(diesel::QueryableByName, Debug)]
struct Mark {
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = BigInt)]
    generation: i64,
    #[diesel(sql_type = BigInt)]
    issue_number: i64,
    #[diesel(sql_type = Text)]
    repo_full_name: String,
}

async fn marks(db: &TestDb, project: ProjectId) -> Vec<Mark> {
    diesel::sql_query(format!(
        "SELECT reason, generation, issue_number, repo_full_name FROM github_dirty_issues
          WHERE project_id = '{project}' ORDER BY github_issue_id"
    ))
    .load(&mut conn(db).await)
    .await
    .unwrap()
}

#[derive(diesel::QueryableByName, Debug)]
struct JobRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    concurrency_key: Option<String>,
    #[diesel(sql_type = Jsonb)]
    payload: Value,
    #[diesel(sql_type = Bool)]
    rerun: bool,
    #[diesel(sql_type = Int4)]
    attempts: i32,
}

async fn merge_jobs(db: &TestDb) -> Vec<JobRow> {
    diesel::sql_query(format!(
        "SELECT status, concurrency_key, payload, rerun, attempts FROM jobs
          WHERE kind = '{MERGE_JOB}' ORDER BY id"
    ))
    .load(&mut conn(db).await)
    .await
    .unwrap()
}

#[derive(diesel::QueryableByName, Debug)]
struct EventRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    task_number: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    issue_number: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    field: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    from_value: Option<Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    to_value: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    detail: Option<String>,
}

async fn events(db: &TestDb) -> Vec<EventRow> {
    diesel::sql_query(
        "SELECT id, kind, task_number, issue_number, field, from_value, to_value, detail
           FROM github_sync_events ORDER BY id",
    )
    .load(&mut conn(db).await)
    .await
    .unwrap()
}

async fn reopen_status(db: &TestDb, project: ProjectId, number: i64) -> Option<String> {
    #[derive(diesel::QueryableByName)]
    struct R {
        #[diesel(sql_type = Nullable<Text>)]
        reopen_status: Option<String>,
    }
    diesel::sql_query(format!(
        "SELECT reopen_status FROM tasks WHERE project_id = '{project}' AND number = {number}"
    ))
    .get_result::<R>(&mut conn(db).await)
    .await
    .unwrap()
    .reopen_status
}

// ---------------------------------------------------------------- snapshots

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_issue_gets_its_snapshot_and_a_refreshed_link_keeps_it() {
    let w = world().await;
    let mut first = issue(9001, 1, "  First  ");
    first.labels = vec!["b".into(), "a".into()];
    first.state = IssueState::Closed;
    first.state_reason = Some("not_planned".into());
    import(&w, &[first.clone()]).await;

    let linked = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.snapshot, Some(IssueFields::of_issue(&first)));
    assert_eq!(
        linked.snapshot.as_ref().unwrap().status,
        IssueStatus::NotPlanned
    );
    assert_eq!(linked.github_issue_id, 9001);
    assert_eq!(linked.issue_number, 1);
    assert_eq!(linked.repo_full_name, REPO);
    assert_eq!(linked.state, LinkState::Active);
    assert_eq!(linked.task.number, 1);
    assert_eq!(linked.task.external_links.len(), 1);
    assert!(
        merges(&w)
            .linked_issue(w.project.id, 1234)
            .await
            .unwrap()
            .is_none()
    );

    // The repository is renamed and the issue retitled: the link follows the
    // rename, its snapshot stays what was last synced.
    let mut renamed = first.clone();
    renamed.title = "Retitled".into();
    renamed.html_url = "https://github.com/octo/renamed/issues/1".into();
    import_as(&w, "octo/renamed", &[renamed]).await;
    let linked = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.repo_full_name, "octo/renamed");
    assert_eq!(linked.snapshot, Some(IssueFields::of_issue(&first)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_issue_is_linked_with_its_snapshot() {
    let w = world().await;
    let task = tasks(&w)
        .create(w.project.id, &new_task("Pushed"))
        .await
        .unwrap();
    let pushed = issue(7777, 12, "Pushed");
    let (key, link) = pm_integrations::link::issue_link(
        "github.com",
        &RepoFullName::parse(REPO).unwrap(),
        &pushed,
    );
    let linked = PgPushStore::new(w.db.db.clone())
        .link_pushed(
            w.project.id,
            task.id,
            key,
            link,
            IssueFields::of_issue(&pushed),
        )
        .await
        .unwrap();
    assert!(linked);
    let linked = merges(&w)
        .linked_issue(w.project.id, 7777)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.task.id, task.id);
    assert_eq!(linked.issue_number, 12);
    assert_eq!(linked.snapshot, Some(IssueFields::of_issue(&pushed)));
}

#[tokio::test(flavor = "multi_thread")]
async fn linked_issues_reads_a_page_in_one_statement() {
    let w = world().await;
    import(&w, &[issue(1, 1, "a"), issue(2, 2, "b"), issue(3, 3, "c")]).await;
    let before = w.db.db.statements_executed();
    let found = merges(&w)
        .linked_issues(w.project.id, &[3, 1, 99])
        .await
        .unwrap();
    assert_eq!(w.db.db.statements_executed() - before, 1);
    let ids: Vec<i64> = found.iter().map(|l| l.github_issue_id).collect();
    assert_eq!(ids, [1, 3]);
    // Another project's links are not found.
    let other = project(&w.db, w.ws, "beta-abcdef", Some(REPO)).await;
    assert!(
        merges(&w)
            .linked_issues(other.id, &[1, 2, 3])
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------- apply

fn merge_of(w: &World, linked: &pm_integrations::two_way::LinkedIssue) -> MergeApply {
    MergeApply {
        project_id: w.project.id,
        link_id: linked.link_id,
        task_id: linked.task.id,
        expected_updated_at: linked.task.updated_at,
        task_patch: TaskPatch::default(),
        snapshot: None,
        etag: None,
        link: LinkChange::Keep,
        events: vec![],
        conflicts: vec![],
    }
}

fn updated_event(linked: &pm_integrations::two_way::LinkedIssue) -> NewSyncEvent {
    NewSyncEvent {
        task_id: Some(linked.task.id),
        task_number: Some(linked.task.number),
        issue_number: Some(linked.issue_number),
        direction: Some(SyncDirectionOfChange::ToPmhub),
        field: Some(SyncField::Status),
        from_value: Some(json!("open")),
        to_value: Some(json!("completed")),
        detail: Some("issues.closed".into()),
        ..NewSyncEvent::new(SyncEventKind::Updated)
    }
}

fn conflict_of(linked: &pm_integrations::two_way::LinkedIssue) -> NewConflict {
    NewConflict {
        run_id: None,
        task_id: linked.task.id,
        task_number: linked.task.number,
        issue_number: linked.issue_number,
        field: SyncField::Title,
        base_value: Some(json!("base")),
        pmhub_value: json!("ours"),
        github_value: json!("theirs"),
        policy: ConflictPolicy::PmhubWins,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_writes_task_link_journal_and_conflicts_together() {
    let w = world().await;
    import(&w, &[issue(9001, 1, "Ship it")]).await;
    tasks(&w)
        .update(w.project.id, 1, &status(TaskStatus::InProgress))
        .await
        .unwrap();
    let clear_marks = "DELETE FROM github_dirty_issues";
    sql(&w.db, clear_marks).await;
    sql(&w.db, "DELETE FROM jobs").await;
    let linked = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    let mut closed = issue(9001, 1, "Ship it");
    closed.state = IssueState::Closed;
    let snapshot = IssueFields::of_issue(&closed);

    let mut apply = merge_of(&w, &linked);
    apply.task_patch = status(TaskStatus::Done);
    apply.snapshot = Some(snapshot.clone());
    apply.etag = Some("W/\"abc\"".into());
    apply.events = vec![
        updated_event(&linked),
        NewSyncEvent::new(SyncEventKind::Conflict),
    ];
    apply.conflicts = vec![conflict_of(&linked)];
    let before = w.db.db.statements_executed();
    assert_eq!(merges(&w).apply(&apply).await.unwrap(), Applied::Done);
    // BEGIN, task, link, events, conflicts, COMMIT: constant, whatever the lists' lengths.
    assert_eq!(w.db.db.statements_executed() - before, 6);

    let after = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.task.status, TaskStatus::Done);
    assert_eq!(
        after.reopen_status,
        Some(TaskStatus::InProgress),
        "closing keeps the open status"
    );
    assert_eq!(after.snapshot, Some(snapshot));
    assert_eq!(after.etag.as_deref(), Some("W/\"abc\""));
    assert!(after.task.updated_at > linked.task.updated_at);
    let stored = events(&w.db).await;
    assert_eq!(stored.len(), 2);
    assert!(
        stored.iter().all(|e| e.id.get_version_num() == 7),
        "UUIDv7 ids"
    );
    assert_eq!(stored[0].kind, "updated");
    assert_eq!(stored[0].field.as_deref(), Some("status"));
    assert_eq!(stored[0].from_value, Some(json!("open")));
    assert_eq!(stored[0].to_value, Some(json!("completed")));
    assert_eq!(stored[0].detail.as_deref(), Some("issues.closed"));
    assert_eq!(stored[1].kind, "conflict");
    assert_eq!(
        count(
            &w.db,
            "SELECT count(*) AS n FROM github_conflicts
              WHERE field = 'title' AND pmhub_value = '\"ours\"' AND github_value = '\"theirs\"'
                AND base_value = '\"base\"' AND policy = 'pmhub_wins' AND task_number = 1
                AND issue_number = 1 AND acknowledged_at IS NULL"
        )
        .await,
        1
    );
    // GitHub's change to the task is no edit of pmhub's: nothing marked, nothing enqueued.
    assert!(marks(&w.db, w.project.id).await.is_empty());
    assert!(merge_jobs(&w.db).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_apply_writes_nothing() {
    let w = world().await;
    import(&w, &[issue(9001, 1, "Ship it")]).await;
    let linked = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    // A user edits the task after the merge read it.
    tasks(&w)
        .update(w.project.id, 1, &retitle("User's title"))
        .await
        .unwrap();

    let mut apply = merge_of(&w, &linked);
    apply.task_patch = retitle("GitHub's title");
    apply.snapshot = Some(IssueFields::of_issue(&issue(9001, 1, "GitHub's title")));
    apply.etag = Some("\"e\"".into());
    apply.link = LinkChange::Deleted;
    apply.events = vec![updated_event(&linked)];
    apply.conflicts = vec![conflict_of(&linked)];
    assert_eq!(merges(&w).apply(&apply).await.unwrap(), Applied::Stale);
    // An empty patch is fenced too.
    apply.task_patch = TaskPatch::default();
    assert_eq!(merges(&w).apply(&apply).await.unwrap(), Applied::Stale);

    let after = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.task.title.as_str(), "User's title");
    assert_eq!(after.snapshot, linked.snapshot);
    assert_eq!(after.etag, None);
    assert_eq!(after.state, LinkState::Active);
    assert!(events(&w.db).await.is_empty());
    assert_eq!(
        count(&w.db, "SELECT count(*) AS n FROM github_conflicts").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_whose_link_went_rolls_the_task_back() {
    let w = world().await;
    import(&w, &[issue(9001, 1, "Ship it")]).await;
    let linked = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    let mut apply = merge_of(&w, &linked);
    apply.link_id = uuid::Uuid::now_v7(); // no such link
    apply.task_patch = retitle("GitHub's title");
    apply.events = vec![updated_event(&linked)];
    assert_eq!(merges(&w).apply(&apply).await.unwrap(), Applied::Stale);
    let after = merges(&w)
        .linked_issue(w.project.id, 9001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.task, linked.task,
        "the task update was rolled back with the rest"
    );
    assert!(events(&w.db).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_marks_deleted_and_follows_moved_links() {
    let w = world().await;
    import(&w, &[issue(1, 1, "a"), issue(2, 2, "b")]).await;
    let first = merges(&w)
        .linked_issue(w.project.id, 1)
        .await
        .unwrap()
        .unwrap();
    let mut apply = merge_of(&w, &first);
    apply.link = LinkChange::Deleted;
    apply.events = vec![NewSyncEvent::new(SyncEventKind::LinkDeleted)];
    assert_eq!(merges(&w).apply(&apply).await.unwrap(), Applied::Done);
    let first = merges(&w)
        .linked_issue(w.project.id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.state, LinkState::Deleted);
    assert_eq!(
        first.snapshot,
        Some(IssueFields::of_issue(&issue(1, 1, "a"))),
        "kept"
    );

    let second = merges(&w)
        .linked_issue(w.project.id, 2)
        .await
        .unwrap()
        .unwrap();
    let mut apply = merge_of(&w, &second);
    apply.link = LinkChange::Moved {
        reference: "octo/other#40".into(),
        url: "https://github.com/octo/other/issues/40".into(),
        issue_number: 40,
    };
    assert_eq!(merges(&w).apply(&apply).await.unwrap(), Applied::Done);
    let second = merges(&w)
        .linked_issue(w.project.id, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.repo_full_name, "octo/other");
    assert_eq!(second.issue_number, 40);
    assert_eq!(
        second.task.external_links[0].url,
        "https://github.com/octo/other/issues/40"
    );
    assert_eq!(second.state, LinkState::Active);
}

#[tokio::test(flavor = "multi_thread")]
async fn journal_entries_and_run_counts_are_recorded() {
    let w = world().await;
    let runs = PgSyncStore::new(w.db.db.clone());
    let run = runs
        .start_run(w.project.id, SyncKind::Import, REPO)
        .await
        .unwrap();
    let skipped = NewSyncEvent {
        run_id: Some(run),
        detail: Some("import_only".into()),
        ..NewSyncEvent::new(SyncEventKind::Skipped)
    };
    merges(&w)
        .record_events(w.project.id, &[skipped.clone(), skipped])
        .await
        .unwrap();
    assert_eq!(
        count(&w.db, &format!("SELECT count(*) AS n FROM github_sync_events WHERE run_id = '{run}' AND kind = 'skipped'")).await,
        2
    );
    let counts = SyncCounts {
        created: 1,
        skipped: 5,
        updated: 2,
        unchanged: 3,
        conflicts: 1,
        pull_requests_ignored: 4,
        total_seen: 10,
    };
    merges(&w).add_counts(run, counts).await.unwrap();
    merges(&w).add_counts(run, counts).await.unwrap();
    let stored = runs.get_run(run).await.unwrap().unwrap();
    assert_eq!(
        stored.counts,
        SyncCounts {
            created: 2,
            skipped: 10,
            updated: 4,
            unchanged: 6,
            conflicts: 2,
            pull_requests_ignored: 8,
            total_seen: 20,
        }
    );
}

// ---------------------------------------------------------------- outboxes

#[tokio::test(flavor = "multi_thread")]
async fn a_task_edit_marks_its_issue_and_enqueues_the_merge_once() {
    let w = world().await;
    import(&w, &[issue(9001, 1, "Ship it")]).await;

    let before = w.db.db.statements_executed();
    let task = tasks(&w)
        .update(w.project.id, 1, &retitle("Ship it now"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.db.db.statements_executed() - before, 1, "one statement");
    assert_eq!(task.title.as_str(), "Ship it now");
    assert_eq!(
        task.external_links.len(),
        1,
        "the task comes back with its links"
    );
    let m = marks(&w.db, w.project.id).await;
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0].reason.as_str(), m[0].generation, m[0].issue_number),
        ("task.edited", 1, 1)
    );
    assert_eq!(m[0].repo_full_name, REPO);
    let jobs = merge_jobs(&w.db).await;
    assert_eq!(jobs.len(), 1);
    let expected = merge_job(w.project.id, w.ws);
    assert_eq!(jobs[0].payload, expected.payload);
    assert_eq!(jobs[0].concurrency_key, expected.concurrency_key);
    assert_eq!(jobs[0].status, "queued");

    // A second edit bumps the mark and joins the queued job (no rerun: it has not run).
    tasks(&w)
        .update(w.project.id, 1, &status(TaskStatus::Done))
        .await
        .unwrap();
    assert_eq!(marks(&w.db, w.project.id).await[0].generation, 2);
    let jobs = merge_jobs(&w.db).await;
    assert_eq!(jobs.len(), 1);
    assert!(!jobs[0].rerun);

    // Changes to nothing synced mark nothing: priority, todo ↔ in_progress,
    // labels in another order, the same title again.
    sql(&w.db, "UPDATE tasks SET status = 'todo', labels = '{a,b}'").await;
    for patch in [
        TaskPatch {
            priority: Some(Priority::High),
            ..TaskPatch::default()
        },
        status(TaskStatus::InProgress),
        TaskPatch {
            labels: Some(Labels::lenient(["b", "a"])),
            ..TaskPatch::default()
        },
        retitle("Ship it now"),
    ] {
        tasks(&w)
            .update(w.project.id, 1, &patch)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(marks(&w.db, w.project.id).await[0].generation, 2);
    // Labels that change do.
    tasks(&w)
        .update(
            w.project.id,
            1,
            &TaskPatch {
                labels: Some(Labels::lenient(["a"])),
                ..TaskPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(marks(&w.db, w.project.id).await[0].generation, 3);
    assert_eq!(merge_jobs(&w.db).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_edits_of_linked_tasks_count_every_mark_and_share_one_job() {
    let w = world().await;
    import(&w, &[issue(1, 1, "a"), issue(2, 2, "b")]).await;
    let edits = (0..20).map(|i| {
        let store = tasks(&w);
        let project = w.project.id;
        async move {
            store
                .update(project, 1 + i % 2, &retitle(&format!("edit {i}")))
                .await
                .unwrap()
                .unwrap()
        }
    });
    futures_util::future::join_all(edits).await;
    let m = marks(&w.db, w.project.id).await;
    assert_eq!(m.iter().map(|m| m.generation).collect::<Vec<_>>(), [10, 10]);
    assert_eq!(merge_jobs(&w.db).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_of_unlinked_tasks_or_in_import_only_projects_mark_nothing() {
    let w = world().await;
    tasks(&w)
        .create(w.project.id, &new_task("Unlinked"))
        .await
        .unwrap();
    let before = w.db.db.statements_executed();
    tasks(&w)
        .update(w.project.id, 1, &retitle("Still unlinked"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.db.db.statements_executed() - before, 1, "one statement");

    import(&w, &[issue(9001, 2, "Linked")]).await;
    // Import-only: linked, but nothing is written to GitHub.
    sql(
        &w.db,
        &format!(
            "INSERT INTO github_sync_settings (project_id, direction) VALUES ('{}', 'import_only')",
            w.project.id
        ),
    )
    .await;
    tasks(&w)
        .update(w.project.id, 2, &retitle("Edited"))
        .await
        .unwrap()
        .unwrap();
    // A deleted link is not merged either.
    sql(
        &w.db,
        "UPDATE github_sync_settings SET direction = 'two_way'",
    )
    .await;
    sql(&w.db, "UPDATE external_links SET link_state = 'deleted'").await;
    tasks(&w)
        .update(w.project.id, 2, &retitle("Edited again"))
        .await
        .unwrap()
        .unwrap();
    assert!(marks(&w.db, w.project.id).await.is_empty());
    assert!(merge_jobs(&w.db).await.is_empty());
    // A missing task is None and writes nothing.
    assert!(
        tasks(&w)
            .update(w.project.id, 99, &retitle("x"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_a_task_remembers_its_open_status() {
    let w = world().await;
    tasks(&w)
        .create(w.project.id, &new_task("One"))
        .await
        .unwrap();
    let p = w.project.id;
    tasks(&w)
        .update(p, 1, &status(TaskStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(reopen_status(&w.db, p, 1).await, None);
    tasks(&w)
        .update(p, 1, &status(TaskStatus::Done))
        .await
        .unwrap();
    assert_eq!(
        reopen_status(&w.db, p, 1).await.as_deref(),
        Some("in_progress")
    );
    // done → canceled is no open status: kept.
    tasks(&w)
        .update(p, 1, &status(TaskStatus::Canceled))
        .await
        .unwrap();
    assert_eq!(
        reopen_status(&w.db, p, 1).await.as_deref(),
        Some("in_progress")
    );
    tasks(&w)
        .update(p, 1, &status(TaskStatus::Todo))
        .await
        .unwrap();
    tasks(&w).update(p, 1, &retitle("Renamed")).await.unwrap();
    assert_eq!(
        reopen_status(&w.db, p, 1).await.as_deref(),
        Some("in_progress")
    );
    tasks(&w)
        .update(p, 1, &status(TaskStatus::Canceled))
        .await
        .unwrap();
    assert_eq!(reopen_status(&w.db, p, 1).await.as_deref(), Some("todo"));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_linked_task_records_link_removed() {
    let w = world().await;
    tasks(&w)
        .create(w.project.id, &new_task("Unlinked"))
        .await
        .unwrap();
    import(&w, &[issue(9001, 17, "Linked")]).await;
    let before = w.db.db.statements_executed();
    assert!(tasks(&w).delete(w.project.id, 2).await.unwrap());
    assert_eq!(w.db.db.statements_executed() - before, 1, "one statement");
    assert!(tasks(&w).delete(w.project.id, 1).await.unwrap());
    assert!(!tasks(&w).delete(w.project.id, 1).await.unwrap());
    let stored = events(&w.db).await;
    assert_eq!(stored.len(), 1, "only the linked task's delete is recorded");
    assert_eq!(stored[0].kind, "link_removed");
    assert_eq!(
        (stored[0].task_number, stored[0].issue_number),
        (Some(2), Some(17))
    );
    assert_eq!(
        count(&w.db, "SELECT count(*) AS n FROM external_links").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_task_enqueues_the_merge_only_when_new_tasks_are_pushed() {
    let w = world().await;
    tasks(&w)
        .create(w.project.id, &new_task("Default settings"))
        .await
        .unwrap();
    assert!(merge_jobs(&w.db).await.is_empty());
    sql(
        &w.db,
        &format!(
            "INSERT INTO github_sync_settings (project_id, direction, push_new_tasks)
             VALUES ('{}', 'import_only', true)",
            w.project.id
        ),
    )
    .await;
    tasks(&w)
        .create(w.project.id, &new_task("Import only"))
        .await
        .unwrap();
    assert!(merge_jobs(&w.db).await.is_empty());
    sql(
        &w.db,
        "UPDATE github_sync_settings SET direction = 'two_way'",
    )
    .await;
    let task = tasks(&w)
        .create(w.project.id, &new_task("Pushed"))
        .await
        .unwrap();
    assert_eq!(task.number, 3);
    tasks(&w)
        .create(w.project.id, &new_task("Pushed too"))
        .await
        .unwrap();
    let jobs = merge_jobs(&w.db).await;
    assert_eq!(jobs.len(), 1, "the second create joins the queued job");
    assert_eq!(jobs[0].payload, merge_job(w.project.id, w.ws).payload);
}

#[tokio::test(flavor = "multi_thread")]
async fn settlement_marks_and_enqueues_only_two_way_projects() {
    let w = world().await;
    let other = project(&w.db, w.ws, "beta-abcdef", Some(REPO)).await;
    sql(
        &w.db,
        &format!(
            "INSERT INTO github_sync_settings (project_id, direction) VALUES ('{}', 'import_only')",
            other.id
        ),
    )
    .await;
    let store = PgWebhookStore::new(w.db.db.clone());
    let mark = |project_id, id| DirtyMark {
        project_id,
        github_issue_id: id,
        issue_number: id,
        repo_full_name: REPO.into(),
        reason: "issues.closed".into(),
    };
    for (delivery, ids) in [("d-1", [1, 2]), ("d-2", [2, 3])] {
        store
            .record(&NewDelivery {
                delivery_id: delivery.into(),
                event: "issues".into(),
                action: Some("closed".into()),
                repository_id: Some(1),
                repo_full_name: Some(REPO.into()),
                payload: "{}".into(),
            })
            .await
            .unwrap();
        let settlement = DeliverySettlement {
            outcome: DeliveryOutcome::MarkedDirty,
            dirty: ids
                .iter()
                .flat_map(|&i| [mark(w.project.id, i), mark(other.id, i)])
                .collect(),
            rename: None,
        };
        assert!(store.settle(delivery, &settlement).await.unwrap());
        assert!(
            !store.settle(delivery, &settlement).await.unwrap(),
            "settled once"
        );
    }
    let m = marks(&w.db, w.project.id).await;
    assert_eq!(
        m.iter().map(|m| m.generation).collect::<Vec<_>>(),
        [1, 2, 1]
    );
    assert!(
        marks(&w.db, other.id).await.is_empty(),
        "import_only: no marks"
    );
    let jobs = merge_jobs(&w.db).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, merge_job(w.project.id, w.ws).payload);
}

// ---------------------------------------------------------------- jobs.rerun

fn kinds(kind: &str) -> Vec<String> {
    vec![kind.to_string()]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_asked_for_while_it_runs_runs_again() {
    let w = world().await;
    let queue = PgJobQueue::new(w.db.db.clone());
    let lease = Duration::from_secs(30);
    let first = queue.enqueue(merge_job(w.project.id, w.ws)).await.unwrap();
    assert!(!first.joined);
    let claimed = queue
        .claim("w1", &kinds(MERGE_JOB), 1, lease)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // A task edit asks for the merge while it runs.
    import(&w, &[issue(9001, 1, "Ship it")]).await;
    tasks(&w)
        .update(w.project.id, 1, &retitle("Edited"))
        .await
        .unwrap();
    let jobs = merge_jobs(&w.db).await;
    assert_eq!(jobs.len(), 1, "joined, not a second job");
    assert!(jobs[0].rerun);
    // A completion with another lease does nothing.
    let mut stolen = claimed[0].lease;
    stolen.token = uuid::Uuid::now_v7();
    assert!(!queue.settle(&stolen, Settlement::Succeeded).await.unwrap());
    assert!(merge_jobs(&w.db).await[0].rerun);

    assert!(
        queue
            .settle(&claimed[0].lease, Settlement::Succeeded)
            .await
            .unwrap()
    );
    let job = queue.get(first.job.id).await.unwrap().unwrap();
    assert_eq!(
        job.status,
        JobStatus::Queued,
        "back in the queue, not succeeded"
    );
    assert_eq!(job.attempts, 0);
    assert_eq!(job.finished_at, None);
    assert!(!merge_jobs(&w.db).await[0].rerun);

    // It runs again; nobody asked meanwhile, so it finishes.
    let again = queue
        .claim("w1", &kinds(MERGE_JOB), 1, lease)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].job.id, first.job.id);
    assert!(
        queue
            .settle(&again[0].lease, Settlement::Succeeded)
            .await
            .unwrap()
    );
    let job = queue.get(first.job.id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_a_queued_job_or_another_kind_asks_for_no_rerun() {
    let w = world().await;
    let queue = PgJobQueue::new(w.db.db.clone());
    let lease = Duration::from_secs(30);
    // Joined while queued: it has not read anything yet, one run covers both.
    let first = queue.enqueue(merge_job(w.project.id, w.ws)).await.unwrap();
    let joined = queue.enqueue(merge_job(w.project.id, w.ws)).await.unwrap();
    assert!(joined.joined);
    assert_eq!(joined.job.id, first.job.id);
    let claimed = queue
        .claim("w1", &kinds(MERGE_JOB), 1, lease)
        .await
        .unwrap();
    assert!(
        queue
            .settle(&claimed[0].lease, Settlement::Succeeded)
            .await
            .unwrap()
    );
    assert_eq!(
        queue.get(first.job.id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );

    // An import joined while it runs still runs once (its run would be done twice).
    let import = || NewJob::new("github.import", json!({})).concurrency_key("import:1");
    let job = queue.enqueue(import()).await.unwrap();
    let claimed = queue
        .claim("w1", &kinds("github.import"), 1, lease)
        .await
        .unwrap();
    let joined = queue.enqueue(import()).await.unwrap();
    assert!(joined.joined);
    assert_eq!(joined.job.status, JobStatus::Running);
    assert!(
        queue
            .settle(&claimed[0].lease, Settlement::Succeeded)
            .await
            .unwrap()
    );
    assert_eq!(
        queue.get(job.job.id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_merge_asked_for_again_is_requeued_and_a_joined_running_merge_reports_it() {
    let w = world().await;
    let queue = PgJobQueue::new(w.db.db.clone());
    let first = queue.enqueue(merge_job(w.project.id, w.ws)).await.unwrap();
    let claimed = queue
        .claim("w1", &kinds(MERGE_JOB), 1, Duration::from_secs(30))
        .await
        .unwrap();
    let joined = queue.enqueue(merge_job(w.project.id, w.ws)).await.unwrap();
    assert!(joined.joined);
    assert_eq!(joined.job.id, first.job.id);
    assert_eq!(joined.job.status, JobStatus::Running);
    let error = pm_jobs::JobError {
        code: "GITHUB_UNAVAILABLE".into(),
        message: "down".into(),
    };
    assert!(
        queue
            .settle(&claimed[0].lease, Settlement::Failed { error })
            .await
            .unwrap()
    );
    let job = queue.get(first.job.id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(
        job.last_error.map(|e| e.code).as_deref(),
        Some("GITHUB_UNAVAILABLE")
    );
    assert_eq!(merge_jobs(&w.db).await[0].attempts, 0);
}

// ---------------------------------------------------------------- reconcile

#[tokio::test(flavor = "multi_thread")]
async fn the_watermark_only_moves_forward() {
    let w = world().await;
    let store = merges(&w);
    let p = w.project.id;
    assert_eq!(store.reconcile_watermark(p).await.unwrap(), None);
    let t = |s: i64| time::OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap();
    store.set_reconcile_watermark(p, REPO, t(10)).await.unwrap();
    assert_eq!(store.reconcile_watermark(p).await.unwrap(), Some(t(10)));
    store.set_reconcile_watermark(p, REPO, t(5)).await.unwrap();
    assert_eq!(
        store.reconcile_watermark(p).await.unwrap(),
        Some(t(10)),
        "never back"
    );
    store
        .set_reconcile_watermark(p, "Octo/Hello", t(20))
        .await
        .unwrap();
    assert_eq!(store.reconcile_watermark(p).await.unwrap(), Some(t(20)));
    // The project now links another repository: its watermark is not that one's.
    sql(&w.db, "UPDATE projects SET github_repo = 'octo/next'").await;
    assert_eq!(store.reconcile_watermark(p).await.unwrap(), None);
    store
        .set_reconcile_watermark(p, "octo/next", t(1))
        .await
        .unwrap();
    assert_eq!(store.reconcile_watermark(p).await.unwrap(), Some(t(1)));
    #[derive(diesel::QueryableByName)]
    struct W {
        #[diesel(sql_type = Timestamptz)]
        watermark: time::OffsetDateTime,
    }
    let stored: W = diesel::sql_query("SELECT watermark FROM github_reconcile_state")
        .get_result(&mut conn(&w.db).await)
        .await
        .unwrap();
    assert_eq!(stored.watermark, t(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_way_projects_are_those_with_a_repository_not_import_only() {
    let w = world().await;
    let import_only = project(&w.db, w.ws, "beta-abcdef", Some("octo/b")).await;
    let explicit = project(&w.db, w.ws, "gamma-abcdef", Some("octo/c")).await;
    project(&w.db, w.ws, "delta-abcdef", None).await;
    sql(
        &w.db,
        &format!(
            "INSERT INTO github_sync_settings (project_id, direction) VALUES
             ('{}', 'import_only'), ('{}', 'two_way')",
            import_only.id, explicit.id
        ),
    )
    .await;
    let mut found = merges(&w).two_way_projects().await.unwrap();
    found.sort_by(|a, b| a.slug.cmp(&b.slug));
    let slugs: Vec<&str> = found.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["alpha-abcdef", "gamma-abcdef"]);
    assert_eq!(found[0].repo_full_name, REPO);
    assert_eq!(found[0].workspace_id, w.ws);
}
