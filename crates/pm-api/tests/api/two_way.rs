//! Two-way sync over HTTP: the settings (members read, admins change, bad values a
//! 422 naming the field), the journal of a run and of a task, conflicts and their
//! acknowledgement, the health view, the new run counts, and the webhook a
//! repository link (and an approval) registers. Journal rows, conflicts and runs
//! are written with SQL: the merge that writes them is tested where it lives.

use crate::github_double::*;
use crate::helpers::*;
use async_trait::async_trait;
use pm_integrations::{
    GithubApi, GithubIssue, GithubRepo, GithubUser, HookRegistration, IssuePage, IssuePageRequest,
    IssuePatch, IssueRead, NewHook, NewIssue, NewRepoOptions,
};
use pm_kernel::GithubError;
use pm_projects::RepoFullName;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// What `create_hook` was asked: repository, URL, events, secret.
type Calls = Arc<Mutex<Vec<(String, String, Vec<String>, String)>>>;

/// The app's GitHub client with `create_hook` answered by a script, which records
/// what it was asked (repository, URL, events, secret).
struct HookDouble {
    inner: Arc<dyn GithubApi>,
    answer: Result<HookRegistration, GithubError>,
    calls: Calls,
}

#[async_trait]
impl GithubApi for HookDouble {
    fn host(&self) -> String {
        self.inner.host()
    }
    async fn current_user(&self, token: &SecretString) -> Result<GithubUser, GithubError> {
        self.inner.current_user(token).await
    }
    async fn list_repos(&self, token: &SecretString) -> Result<Vec<GithubRepo>, GithubError> {
        self.inner.list_repos(token).await
    }
    async fn get_repo(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
    ) -> Result<GithubRepo, GithubError> {
        self.inner.get_repo(token, repo).await
    }
    async fn list_issues(
        &self,
        token: &SecretString,
        page: &IssuePageRequest,
    ) -> Result<IssuePage, GithubError> {
        self.inner.list_issues(token, page).await
    }
    async fn create_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        issue: &NewIssue,
    ) -> Result<GithubIssue, GithubError> {
        self.inner.create_issue(token, repo, issue).await
    }
    async fn get_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        etag: Option<String>,
    ) -> Result<IssueRead, GithubError> {
        self.inner.get_issue(token, repo, number, etag).await
    }
    async fn update_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        patch: &IssuePatch,
    ) -> Result<GithubIssue, GithubError> {
        self.inner.update_issue(token, repo, number, patch).await
    }
    async fn create_hook(
        &self,
        _token: &SecretString,
        repo: &RepoFullName,
        hook: &NewHook,
    ) -> Result<HookRegistration, GithubError> {
        self.calls.lock().unwrap().push((
            repo.to_string(),
            hook.url.clone(),
            hook.events.clone(),
            hook.secret.expose_secret().to_string(),
        ));
        self.answer.clone()
    }
    async fn create_org_repo(
        &self,
        token: &SecretString,
        org: &str,
        name: &str,
        options: &NewRepoOptions,
    ) -> Result<GithubRepo, GithubError> {
        self.inner.create_org_repo(token, org, name, options).await
    }
}

async fn app_with_hooks(
    server: &wiremock::MockServer,
    extra: &[(&str, &str)],
    answer: Result<HookRegistration, GithubError>,
) -> (TestApp, Calls) {
    let calls: Calls = Arc::default();
    let recorded = calls.clone();
    let uri = server.uri();
    let mut overrides = vec![("github.api_url", uri.as_str())];
    overrides.extend_from_slice(extra);
    let app = TestApp::spawn_wrapping(&overrides, move |inner| {
        Arc::new(HookDouble {
            inner,
            answer,
            calls: recorded,
        })
    })
    .await;
    (app, calls)
}

const HOOK_SETTINGS: &[(&str, &str)] = &[
    ("server.public_url", "https://pm.example.com/"),
    ("github.webhook_secret", " first-secret , older-secret"),
];

async fn link(app: &TestApp, admin: &str, slug: &str) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/api/v1/projects/{slug}/github-repo"),
        Some(admin),
        Some(json!({"full_name": "octo/hello"})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_registers_the_webhook_with_the_public_url_and_the_first_secret() {
    let server = github_double().await;
    let (app, calls) = app_with_hooks(
        &server,
        HOOK_SETTINGS,
        Ok(HookRegistration::Created { id: 77 }),
    )
    .await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Hooks").await;
    let slug = p["slug"].as_str().unwrap();
    let (status, body) = link(&app, &admin, slug).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["github_repo"], "octo/hello");
    assert_eq!(body["slug"], slug);
    let webhook = &body["webhook"];
    assert_eq!(webhook["status"], "registered", "{body}");
    assert_eq!(webhook["hook_id"], 77);
    assert_eq!(
        webhook["url"],
        "https://pm.example.com/api/v1/webhooks/github"
    );
    assert_eq!(webhook["events"], json!(["issues", "repository"]));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [(
            "octo/hello".to_string(),
            "https://pm.example.com/api/v1/webhooks/github".to_string(),
            vec!["issues".to_string(), "repository".to_string()],
            "first-secret".to_string()
        )]
    );
    assert!(!body.to_string().contains("first-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_webhook_and_a_refused_one_leave_the_repository_linked() {
    for (answer, expected) in [
        (Ok(HookRegistration::AlreadyExists), "already_exists"),
        (
            Err(GithubError::Forbidden {
                message: "Must have admin rights to Repository.".into(),
            }),
            "failed",
        ),
    ] {
        let server = github_double().await;
        let (app, calls) = app_with_hooks(&server, HOOK_SETTINGS, answer).await;
        let admin = app.bootstrap("acme").await;
        connect(&app, &admin).await;
        let p = app.create_project(&admin, "Hooks").await;
        let slug = p["slug"].as_str().unwrap();
        let (status, body) = link(&app, &admin, slug).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["webhook"]["status"], expected, "{body}");
        if expected == "failed" {
            assert_eq!(body["webhook"]["github_status"], 403, "{body}");
            assert_eq!(body["webhook"]["error_code"], "GITHUB_FORBIDDEN");
            let message = body["webhook"]["message"].as_str().unwrap();
            assert!(message.contains("add it by hand"), "{message}");
            assert!(!message.contains("first-secret"), "{message}");
        }
        assert_eq!(calls.lock().unwrap().len(), 1);
        let (_, project) = app
            .call(
                Method::GET,
                &format!("/api/v1/projects/{slug}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(project["github_repo"], "octo/hello");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_public_url_the_link_says_how_to_add_the_webhook_by_hand() {
    let server = github_double().await;
    let (app, calls) = app_with_hooks(
        &server,
        &[("github.webhook_secret", "s1")],
        Ok(HookRegistration::Created { id: 1 }),
    )
    .await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Hooks").await;
    let (status, body) = link(&app, &admin, p["slug"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let webhook = &body["webhook"];
    assert_eq!(webhook["status"], "manual");
    assert_eq!(webhook["reason"], "no_public_url");
    assert_eq!(webhook["url"], Value::Null);
    let message = webhook["message"].as_str().unwrap();
    for part in [
        "/api/v1/webhooks/github",
        "`issues` and `repository`",
        "the secret you configured",
        "octo/hello",
    ] {
        assert!(message.contains(part), "{part:?} missing: {message}");
    }
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_repository_created_on_approval_gets_its_webhook() {
    let server = github_double().await;
    let mut extra = HOOK_SETTINGS.to_vec();
    extra.push(("github.org", "acme-projects"));
    let (app, calls) =
        app_with_hooks(&server, &extra, Ok(HookRegistration::Created { id: 5 })).await;
    let admin = app.bootstrap("acme").await;
    connect(&app, &admin).await;
    let p = app.create_project(&admin, "Billing").await;
    let slug = p["slug"].as_str().unwrap();
    let mut repo = fixture("rest/official-examples/create-org-repo.201.full-repository.json");
    repo["full_name"] = json!(format!("acme-projects/{slug}"));
    Mock::given(method("POST"))
        .and(path("/orgs/acme-projects/repos"))
        .respond_with(ResponseTemplate::new(201).set_body_json(repo))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("/api/v1/projects/{slug}");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{base}/spec/submit"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(Method::POST, &format!("{base}/approve"), Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["repository"]["outcome"], "created", "{body}");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, format!("acme-projects/{slug}"));
    assert_eq!(calls[0].1, "https://pm.example.com/api/v1/webhooks/github");
}

/// A project with a member; returns (admin, member, slug, project id).
async fn project_with_member(app: &TestApp) -> (String, String, String, String) {
    let admin = app.bootstrap("acme").await;
    let member = app.member(&admin, "m@acme.example").await;
    let p = app.create_project(&admin, "Two way").await;
    (
        admin,
        member,
        p["slug"].as_str().unwrap().to_string(),
        p["id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_read_by_members_changed_by_admins_and_bad_values_are_named() {
    let app = TestApp::spawn().await;
    let (admin, member, slug, _) = project_with_member(&app).await;
    let url = format!("/api/v1/projects/{slug}/github/settings");
    let (status, body) = app.call(Method::GET, &url, Some(&member), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"direction": "two_way", "conflict_policy": "pmhub_wins", "push_new_tasks": false})
    );

    let (status, problem) = app
        .call(
            Method::PATCH,
            &url,
            Some(&member),
            Some(json!({"push_new_tasks": true})),
        )
        .await;
    assert_problem(status, &problem, 403, "FORBIDDEN");
    for (bad, field) in [
        (json!({"direction": "sideways"}), "direction"),
        (json!({"conflict_policy": "nobody_wins"}), "conflict_policy"),
        (json!({"push_new_tasks": "yes"}), "push_new_tasks"),
        (json!({"direction": null}), "direction"),
        (json!({"colour": "red"}), "colour"),
        (json!({}), ""),
    ] {
        let (status, problem) = app
            .call(Method::PATCH, &url, Some(&admin), Some(bad.clone()))
            .await;
        assert_problem(status, &problem, 422, "VALIDATION_FAILED");
        assert_eq!(problem["errors"][0]["field"], field, "{bad}: {problem}");
    }
    assert_eq!(
        app.count("github_sync_settings").await,
        0,
        "nothing written"
    );

    let (status, body) = app
        .call(
            Method::PATCH,
            &url,
            Some(&admin),
            Some(json!({"conflict_policy": "github_wins", "push_new_tasks": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"direction": "two_way", "conflict_policy": "github_wins", "push_new_tasks": true})
    );
    let (_, again) = app.call(Method::GET, &url, Some(&member), None).await;
    assert_eq!(again, body);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspace_sees_none_of_it() {
    let app = TestApp::spawn().await;
    let (_, _, slug, project_id) = project_with_member(&app).await;
    let intruder = app.bootstrap("umbrella").await;
    let run = Uuid::now_v7();
    let conflict = Uuid::now_v7();
    app.sql(&format!(
        "INSERT INTO sync_runs (id, project_id, kind, repo, status, started_at)
         VALUES ('{run}', '{project_id}', 'import', 'octo/hello', 'succeeded', now());
         INSERT INTO github_conflicts (id, project_id, task_number, field, pmhub_value, github_value, policy)
         VALUES ('{conflict}', '{project_id}', 1, 'title', '\"a\"', '\"b\"', 'pmhub_wins');"
    ))
    .await;
    let base = format!("/api/v1/projects/{slug}");
    for (m, path, body) in [
        (Method::GET, format!("{base}/github/settings"), None),
        (
            Method::PATCH,
            format!("{base}/github/settings"),
            Some(json!({"push_new_tasks": true})),
        ),
        (
            Method::GET,
            format!("{base}/github/sync-runs/{run}/events"),
            None,
        ),
        (Method::GET, format!("{base}/tasks/1/sync-events"), None),
        (Method::GET, format!("{base}/github/conflicts"), None),
        (
            Method::POST,
            format!("{base}/github/conflicts/{conflict}/acknowledge"),
            None,
        ),
        (Method::GET, format!("{base}/github/health"), None),
    ] {
        let (status, problem) = app.call(m.clone(), &path, Some(&intruder), body).await;
        assert_problem(status, &problem, 404, "NOT_FOUND");
        let _ = m;
    }
    assert_eq!(app.count("github_sync_settings").await, 0);
    assert_eq!(
        app.count("github_conflicts WHERE acknowledged_at IS NOT NULL")
            .await,
        0
    );
}

fn event_sql(project_id: &str, id: Uuid, run: Option<Uuid>, task_number: i64) -> String {
    let run = run.map_or("NULL".to_string(), |r| format!("'{r}'"));
    format!(
        "INSERT INTO github_sync_events (id, project_id, run_id, task_number, issue_number, kind,
                                         direction, field, from_value, to_value, detail)
         VALUES ('{id}', '{project_id}', {run}, {task_number}, 40, 'updated', 'to_github',
                 'title', '\"Old\"', '\"New\"', 'task.edited');"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn run_and_task_journals_are_paged_with_cursors() {
    let app = TestApp::spawn().await;
    let (_, member, slug, project_id) = project_with_member(&app).await;
    let run = Uuid::now_v7();
    let ids: Vec<Uuid> = (1..=3u128)
        .map(|n| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n))
        .collect();
    let mut sql = format!(
        "INSERT INTO sync_runs (id, project_id, kind, repo, status, started_at, updated, unchanged, conflicts, skipped)
         VALUES ('{run}', '{project_id}', 'import', 'octo/hello', 'succeeded', now(), 2, 5, 1, 7);"
    );
    for id in &ids {
        sql.push_str(&event_sql(&project_id, *id, Some(run), 4));
    }
    app.sql(&sql).await;

    let url = format!("/api/v1/projects/{slug}/github/sync-runs/{run}/events");
    let (status, page) = app
        .call(Method::GET, &format!("{url}?limit=2"), Some(&member), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let got: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0].to_string(), ids[1].to_string()]);
    let first = &page["items"][0];
    assert_eq!(first["kind"], "updated");
    assert_eq!(first["direction"], "to_github");
    assert_eq!(first["field"], "title");
    assert_eq!(first["from_value"], "Old");
    assert_eq!(first["to_value"], "New");
    assert_eq!(first["run_id"], run.to_string());
    assert_eq!(first["task_number"], 4);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("{url}?limit=2&cursor={cursor}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["id"], ids[2].to_string());
    assert_eq!(rest["next_cursor"], Value::Null);

    // The task's journal: newest first.
    let (status, task) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks/4/sync-events"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["items"][0]["id"], ids[2].to_string());
    assert_eq!(task["items"].as_array().unwrap().len(), 3);

    // The run itself carries the new counts.
    let (_, run_dto) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/sync-runs/{run}"),
            Some(&member),
            None,
        )
        .await;
    for key in ["updated", "unchanged", "conflicts"] {
        assert!(run_dto[key].is_u64(), "{key} missing: {run_dto}");
    }

    // Bad input: a cursor that is not one, an unknown run, a run id that is not one.
    let (status, problem) = app
        .call(
            Method::GET,
            &format!("{url}?cursor=12"),
            Some(&member),
            None,
        )
        .await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    for other in [Uuid::now_v7().to_string(), "not-a-run".to_string()] {
        let (status, problem) = app
            .call(
                Method::GET,
                &format!("/api/v1/projects/{slug}/github/sync-runs/{other}/events"),
                Some(&member),
                None,
            )
            .await;
        assert_problem(status, &problem, 404, "NOT_FOUND");
    }
    let (status, problem) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/tasks/0/sync-events"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status.as_u16() / 100, 4, "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_are_listed_open_by_default_and_acknowledged_once() {
    let app = TestApp::spawn().await;
    let (_, member, slug, project_id) = project_with_member(&app).await;
    let (old, new) = (Uuid::now_v7(), Uuid::now_v7());
    app.sql(&format!(
        "INSERT INTO github_conflicts (id, project_id, task_number, issue_number, field, base_value,
                                       pmhub_value, github_value, policy)
         VALUES ('{old}', '{project_id}', 1, 11, 'labels', '[\"a\"]', '[\"a\", \"p\"]', '[\"g\"]', 'github_wins'),
                ('{new}', '{project_id}', 2, 12, 'title', '\"Base\"', '\"Ours\"', '\"Theirs\"', 'pmhub_wins');"
    ))
    .await;
    let url = format!("/api/v1/projects/{slug}/github/conflicts");
    let (status, page) = app.call(Method::GET, &url, Some(&member), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let newest = &page["items"][0];
    assert_eq!(newest["id"], new.to_string());
    assert_eq!(newest["pmhub_value"], "Ours");
    assert_eq!(newest["github_value"], "Theirs");
    assert_eq!(newest["base_value"], "Base");
    assert_eq!(newest["winner"], "pmhub");
    assert_eq!(newest["acknowledged_at"], Value::Null);
    assert_eq!(page["items"][1]["winner"], "github");
    assert_eq!(page["items"][1]["pmhub_value"], json!(["a", "p"]));

    let ack = format!("{url}/{new}/acknowledge");
    for _ in 0..2 {
        let resp = app
            .client
            .post(format!("{}{ack}", app.base))
            .bearer_auth(&member)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    let (_, open) = app.call(Method::GET, &url, Some(&member), None).await;
    let open_ids: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(open_ids, [old.to_string()]);
    let (_, all) = app
        .call(
            Method::GET,
            &format!("{url}?status=all"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["items"][0]["acknowledged_at"].is_string(), "{all}");

    let (status, problem) = app
        .call(
            Method::GET,
            &format!("{url}?status=closed"),
            Some(&member),
            None,
        )
        .await;
    assert_problem(status, &problem, 422, "VALIDATION_FAILED");
    assert_eq!(problem["errors"][0]["field"], "status");
    let (status, problem) = app
        .call(
            Method::POST,
            &format!("{url}/{}/acknowledge", Uuid::now_v7()),
            Some(&member),
            None,
        )
        .await;
    assert_problem(status, &problem, 404, "NOT_FOUND");
    let (status, problem) = app
        .call(
            Method::GET,
            &format!("{url}/{new}/acknowledge"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_shows_the_figures_of_the_project() {
    let app = TestApp::spawn().await;
    let (admin, member, slug, project_id) = project_with_member(&app).await;
    let (status, empty) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/health"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["repo"], Value::Null);
    assert_eq!(empty["pending_jobs"], 0);
    assert_eq!(empty["last_delivery_at"], Value::Null);
    let _ = admin;
    app.sql(&format!(
        "UPDATE projects SET github_repo = 'octo/hello' WHERE id = '{project_id}';
         INSERT INTO github_deliveries (delivery_id, event, repo_full_name, payload)
         VALUES ('d-1', 'issues', 'Octo/Hello', '{{}}');
         INSERT INTO github_conflicts (id, project_id, task_number, field, pmhub_value, github_value, policy)
         VALUES ('{}', '{project_id}', 1, 'title', '\"a\"', '\"b\"', 'pmhub_wins');
         INSERT INTO github_sync_events (id, project_id, kind, detail)
         VALUES ('{}', '{project_id}', 'failed', 'GITHUB_UNAVAILABLE');
         INSERT INTO jobs (id, kind, project_id, status, max_attempts, run_at, created_at, updated_at)
         VALUES ('{}', 'github.merge', '{project_id}', 'queued', 5, now() + interval '1 hour', now(), now());",
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    ))
    .await;
    let (status, health) = app
        .call(
            Method::GET,
            &format!("/api/v1/projects/{slug}/github/health"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["repo"], "octo/hello");
    assert_eq!(health["direction"], "two_way");
    assert!(health["last_delivery_at"].is_string(), "{health}");
    assert_eq!(health["pending_jobs"], 1);
    assert_eq!(health["failed_jobs"], 0);
    assert_eq!(health["open_conflicts"], 1);
    assert_eq!(health["last_error"], "GITHUB_UNAVAILABLE");
    assert!(health["last_error_at"].is_string());
}
