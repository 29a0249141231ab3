//! Two-way sync's settings and read views against a real PostgreSQL: settings
//! upserted from the defaults, the journal's keyset pages, conflicts and their
//! acknowledgement, and the health view. Journal rows, conflicts, deliveries and
//! jobs are written with plain SQL (the stores that write them are tested where
//! they live).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use pm_accounts::{AccountStore, Email, NewToken, TokenHash, WorkspaceName};
use pm_integrations::two_way::{
    ConflictPolicy, SyncDirection, SyncEventKind, SyncField, SyncJournal, SyncSettings,
    SyncSettingsPatch, SyncSettingsStore,
};
use pm_kernel::{Limit, ProjectId, SyncRunId};
use pm_postgres::testing::TestDb;
use pm_postgres::{PgAccountStore, PgProjectRepository, PgSyncJournal, PgSyncSettings};
use pm_projects::{Description, NewProject, ProjectName, ProjectRepository, RepoFullName, Slug};
use uuid::Uuid;

struct World {
    db: TestDb,
    project: ProjectId,
    /// A project of another workspace.
    other: ProjectId,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let accounts = PgAccountStore::new(db.db.clone());
    let projects = PgProjectRepository::new(db.db.clone());
    let mut ids = Vec::new();
    for (n, name) in ["acme", "umbrella"].iter().enumerate() {
        let (ws, _) = accounts
            .create_workspace(
                &WorkspaceName::new(name).unwrap(),
                &Email::new(&format!("a@{name}.io")).unwrap(),
                &NewToken {
                    hash: TokenHash([u8::try_from(n).unwrap() + 1; 32]),
                    hint: "hint".into(),
                    name: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        let project = projects
            .create(
                ws.id,
                &Slug::parse(&format!("sync-{name}")).unwrap(),
                &NewProject {
                    name: ProjectName::new("Sync").unwrap(),
                    description: Description::default(),
                },
            )
            .await
            .unwrap();
        projects
            .set_github_repo(
                ws.id,
                project.id,
                Some(RepoFullName::parse("Octo/Hello").unwrap()),
            )
            .await
            .unwrap();
        ids.push(project.id);
    }
    World {
        db,
        project: ids[0],
        other: ids[1],
    }
}

impl World {
    async fn sql(&self, statements: &str) {
        let mut conn = AsyncPgConnection::establish(&self.db.url).await.unwrap();
        conn.batch_execute(statements).await.unwrap();
    }

    fn settings(&self) -> PgSyncSettings {
        PgSyncSettings::new(self.db.db.clone())
    }

    fn journal(&self) -> PgSyncJournal {
        PgSyncJournal::new(self.db.db.clone())
    }
}

/// Ordered ids (the journal's are UUIDv7: ordered by time).
fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

fn limit(n: i64) -> Limit {
    Limit::new(Some(n)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_the_defaults_until_patched_and_a_patch_keeps_the_rest() {
    let w = world().await;
    let store = w.settings();
    assert_eq!(store.get(w.project).await.unwrap(), SyncSettings::default());

    let s = store
        .update(
            w.project,
            &SyncSettingsPatch {
                conflict_policy: Some(ConflictPolicy::GithubWins),
                ..SyncSettingsPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        s,
        SyncSettings {
            direction: SyncDirection::TwoWay,
            conflict_policy: ConflictPolicy::GithubWins,
            push_new_tasks: false,
        }
    );
    let s = store
        .update(
            w.project,
            &SyncSettingsPatch {
                direction: Some(SyncDirection::ImportOnly),
                push_new_tasks: Some(true),
                ..SyncSettingsPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        s,
        SyncSettings {
            direction: SyncDirection::ImportOnly,
            conflict_policy: ConflictPolicy::GithubWins,
            push_new_tasks: true,
        }
    );
    assert_eq!(store.get(w.project).await.unwrap(), s);
    // The other project is untouched.
    assert_eq!(store.get(w.other).await.unwrap(), SyncSettings::default());

    let err = store
        .update(
            ProjectId::new(),
            &SyncSettingsPatch {
                push_new_tasks: Some(true),
                ..SyncSettingsPatch::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

fn event_sql(project: ProjectId, n: u128, run: Option<Uuid>, task_number: i64) -> String {
    let run = run.map_or("NULL".to_string(), |r| format!("'{r}'"));
    format!(
        "INSERT INTO github_sync_events (id, project_id, run_id, task_number, issue_number, kind,
                                         direction, field, from_value, to_value, detail)
         VALUES ('{}', '{project}', {run}, {task_number}, {task_number}, 'updated', 'to_pmhub',
                 'labels', '[\"a\"]', '[\"a\", \"b\"]', 'issues.labeled');",
        id(n)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn run_events_are_paged_oldest_first_and_only_the_projects() {
    let w = world().await;
    let run = SyncRunId::new();
    let other_run = Uuid::now_v7();
    let mut sql = String::new();
    for n in 1..=5 {
        sql.push_str(&event_sql(w.project, n, Some(run.into_uuid()), 1));
    }
    sql.push_str(&event_sql(w.project, 6, Some(other_run), 1));
    // Another project's event naming the same run id is not shown.
    sql.push_str(&event_sql(w.other, 7, Some(run.into_uuid()), 1));
    w.sql(&sql).await;

    let journal = w.journal();
    let first = journal
        .run_events(w.project, run, None, limit(2))
        .await
        .unwrap();
    let ids: Vec<Uuid> = first.iter().map(|e| e.id).collect();
    assert_eq!(ids, [id(1), id(2), id(3)], "limit + 1 rows, oldest first");
    let next = journal
        .run_events(w.project, run, Some(id(2)), limit(2))
        .await
        .unwrap();
    let ids: Vec<Uuid> = next.iter().map(|e| e.id).collect();
    assert_eq!(ids, [id(3), id(4), id(5)]);
    let last = journal
        .run_events(w.project, run, Some(id(4)), limit(2))
        .await
        .unwrap();
    assert_eq!(last.len(), 1);

    let e = &first[0].event;
    assert_eq!(e.kind, SyncEventKind::Updated);
    assert_eq!(e.field, Some(SyncField::Labels));
    assert_eq!(e.run_id, Some(run));
    assert_eq!(e.to_value, Some(serde_json::json!(["a", "b"])));
    assert_eq!(e.detail.as_deref(), Some("issues.labeled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn task_events_are_paged_newest_first_by_number() {
    let w = world().await;
    let mut sql = String::new();
    for n in 1..=4 {
        sql.push_str(&event_sql(w.project, n, None, 3));
    }
    sql.push_str(&event_sql(w.project, 5, None, 4));
    sql.push_str(&event_sql(w.other, 6, None, 3));
    w.sql(&sql).await;

    let journal = w.journal();
    let page = journal
        .task_events(w.project, 3, None, limit(2))
        .await
        .unwrap();
    let ids: Vec<Uuid> = page.iter().map(|e| e.id).collect();
    assert_eq!(ids, [id(4), id(3), id(2)]);
    let rest = journal
        .task_events(w.project, 3, Some(id(3)), limit(2))
        .await
        .unwrap();
    let ids: Vec<Uuid> = rest.iter().map(|e| e.id).collect();
    assert_eq!(ids, [id(2), id(1)]);
    assert!(
        journal
            .task_events(w.project, 99, None, limit(2))
            .await
            .unwrap()
            .is_empty()
    );
}

fn conflict_sql(project: ProjectId, n: u128, acknowledged: bool) -> String {
    let ack = if acknowledged {
        "now() - interval '1 day'"
    } else {
        "NULL"
    };
    format!(
        "INSERT INTO github_conflicts (id, project_id, task_id, task_number, issue_number, field,
                                       base_value, pmhub_value, github_value, policy, acknowledged_at)
         VALUES ('{}', '{project}', gen_random_uuid(), 2, 7, 'title', '\"Old\"', '\"Ours\"',
                 '\"Theirs\"', 'pmhub_wins', {ack});",
        id(n)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_list_open_or_all_and_acknowledging_is_idempotent_and_per_project() {
    let w = world().await;
    w.sql(&format!(
        "{}{}{}{}",
        conflict_sql(w.project, 1, false),
        conflict_sql(w.project, 2, true),
        conflict_sql(w.project, 3, false),
        conflict_sql(w.other, 4, false),
    ))
    .await;
    let journal = w.journal();
    let open = journal
        .conflicts(w.project, true, None, limit(50))
        .await
        .unwrap();
    let ids: Vec<Uuid> = open.iter().map(|c| c.id).collect();
    assert_eq!(ids, [id(3), id(1)]);
    let all = journal
        .conflicts(w.project, false, None, limit(50))
        .await
        .unwrap();
    let ids: Vec<Uuid> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids, [id(3), id(2), id(1)]);
    let after = journal
        .conflicts(w.project, false, Some(id(3)), limit(1))
        .await
        .unwrap();
    let ids: Vec<Uuid> = after.iter().map(|c| c.id).collect();
    assert_eq!(ids, [id(2), id(1)]);
    let c = &open[0].conflict;
    assert_eq!(
        (c.field, c.policy, c.task_number, c.issue_number),
        (SyncField::Title, ConflictPolicy::PmhubWins, 2, 7)
    );
    assert_eq!(c.pmhub_value, serde_json::json!("Ours"));
    assert_eq!(c.github_value, serde_json::json!("Theirs"));
    assert_eq!(c.base_value, Some(serde_json::json!("Old")));

    // Another project's conflict cannot be acknowledged through this one.
    assert!(
        !journal
            .acknowledge_conflict(w.project, id(4))
            .await
            .unwrap()
    );
    assert!(
        !journal
            .acknowledge_conflict(w.project, Uuid::now_v7())
            .await
            .unwrap()
    );
    assert!(
        journal
            .acknowledge_conflict(w.project, id(1))
            .await
            .unwrap()
    );
    let first_ack = journal
        .conflicts(w.project, false, None, limit(50))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id(1))
        .unwrap()
        .acknowledged_at
        .unwrap();
    // Again: still true, and the first acknowledgement's time stays.
    assert!(
        journal
            .acknowledge_conflict(w.project, id(1))
            .await
            .unwrap()
    );
    let all = journal
        .conflicts(w.project, false, None, limit(50))
        .await
        .unwrap();
    let again = all.iter().find(|c| c.id == id(1)).unwrap();
    assert_eq!(again.acknowledged_at, Some(first_ack));
    let open = journal
        .conflicts(w.project, true, None, limit(50))
        .await
        .unwrap();
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), [id(3)]);
    assert_eq!(
        journal
            .conflicts(w.other, true, None, limit(50))
            .await
            .unwrap()
            .len(),
        1
    );
}

fn job_sql(project: Option<ProjectId>, kind: &str, status: &str, finished: Option<&str>) -> String {
    let project = project.map_or("NULL".to_string(), |p| format!("'{p}'"));
    let finished = finished.map_or("NULL".to_string(), str::to_string);
    let lease = if status == "running" {
        "gen_random_uuid(), now() + interval '30 seconds'"
    } else {
        "NULL, NULL"
    };
    format!(
        "INSERT INTO jobs (id, kind, project_id, status, max_attempts, run_at, lease_token,
                           lease_until, created_at, updated_at, finished_at)
         VALUES (gen_random_uuid(), '{kind}', {project}, '{status}', 5, now(), {lease},
                 now(), now(), {finished});"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn health_of_a_project_with_nothing_yet_is_empty() {
    let w = world().await;
    let h = w.journal().health(w.project).await.unwrap();
    assert_eq!(h, pm_integrations::two_way::SyncHealth::default());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_gathers_deliveries_jobs_conflicts_and_the_last_error() {
    let w = world().await;
    let p = w.project;
    let mut sql = String::new();
    // Deliveries: the repository spelled in another case counts; another's does not.
    sql.push_str(
        "INSERT INTO github_deliveries (delivery_id, event, repo_full_name, received_at, payload)
         VALUES ('d1', 'issues', 'octo/hello', '2026-12-01T10:00:00Z', '{}'),
                ('d2', 'issues', 'OCTO/HELLO', '2026-12-01T11:00:00Z', '{}'),
                ('d3', 'issues', 'octo/other', '2026-12-01T12:00:00Z', '{}'),
                ('d4', 'ping', NULL, '2026-12-01T13:00:00Z', '{}');",
    );
    // Jobs: reconciles (the last succeeded one counts), pending and failed sync
    // jobs of the project; deliveries and other projects' jobs do not count.
    let at = |t: &str| format!("'2026-12-01T{t}Z'");
    sql.push_str(&job_sql(
        Some(p),
        "github.reconcile",
        "succeeded",
        Some(&at("08:00:00")),
    ));
    sql.push_str(&job_sql(
        Some(p),
        "github.reconcile",
        "succeeded",
        Some(&at("09:30:00")),
    ));
    sql.push_str(&job_sql(
        Some(p),
        "github.reconcile",
        "failed",
        Some(&at("09:45:00")),
    ));
    sql.push_str(&job_sql(Some(p), "github.merge", "queued", None));
    sql.push_str(&job_sql(Some(p), "github.import", "running", None));
    sql.push_str(&job_sql(Some(p), "github.push", "waiting", None));
    sql.push_str(&job_sql(
        Some(p),
        "github.merge",
        "succeeded",
        Some("now()"),
    ));
    sql.push_str(&job_sql(Some(p), "github.import", "failed", Some("now()")));
    sql.push_str(&job_sql(None, "github.delivery", "queued", None));
    sql.push_str(&job_sql(Some(w.other), "github.merge", "queued", None));
    sql.push_str(&job_sql(
        Some(w.other),
        "github.merge",
        "failed",
        Some("now()"),
    ));
    sql.push_str(&job_sql(
        Some(w.other),
        "github.reconcile",
        "succeeded",
        Some(&at("23:00:00")),
    ));
    // Conflicts: two open, one acknowledged, one of the other project.
    sql.push_str(&conflict_sql(p, 1, false));
    sql.push_str(&conflict_sql(p, 2, false));
    sql.push_str(&conflict_sql(p, 3, true));
    sql.push_str(&conflict_sql(w.other, 4, false));
    // Errors: a failed run, then a later failed journal entry.
    sql.push_str(&format!(
        "INSERT INTO sync_runs (id, project_id, kind, repo, status, error_code, started_at, finished_at)
         VALUES ('{}', '{p}', 'import', 'Octo/Hello', 'failed', 'GITHUB_RATE_LIMITED',
                 '2026-12-01T07:00:00Z', '2026-12-01T07:01:00Z');
         INSERT INTO github_sync_events (id, project_id, kind, detail, created_at)
         VALUES ('{}', '{p}', 'failed', 'GITHUB_UNAVAILABLE', '2026-12-01T07:30:00Z'),
                ('{}', '{}', 'failed', 'OTHER_PROJECT', '2026-12-01T23:00:00Z');",
        Uuid::now_v7(),
        id(10),
        id(11),
        w.other,
    ));
    w.sql(&sql).await;

    let h = w.journal().health(p).await.unwrap();
    let ts = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(h.last_delivery_at, Some(ts("2026-12-01T11:00:00Z")));
    assert_eq!(h.last_reconcile_at, Some(ts("2026-12-01T09:30:00Z")));
    assert_eq!(h.pending_jobs, 3);
    assert_eq!(h.failed_jobs, 2);
    assert_eq!(h.open_conflicts, 2);
    assert_eq!(h.last_error.as_deref(), Some("GITHUB_UNAVAILABLE"));
    assert_eq!(h.last_error_at, Some(ts("2026-12-01T07:30:00Z")));

    // A later failed run is the last error then.
    w.sql(&format!(
        "INSERT INTO sync_runs (id, project_id, kind, repo, status, error_code, started_at, finished_at)
         VALUES ('{}', '{p}', 'push', 'Octo/Hello', 'failed', 'GITHUB_FORBIDDEN',
                 '2026-12-01T08:00:00Z', '2026-12-01T08:05:00Z');",
        Uuid::now_v7()
    ))
    .await;
    let h = w.journal().health(p).await.unwrap();
    assert_eq!(h.last_error.as_deref(), Some("GITHUB_FORBIDDEN"));
    assert_eq!(h.last_error_at, Some(ts("2026-12-01T08:05:00Z")));
}
