//! `World::start()`: a seeded fake GitHub, a fresh database, pmhub serving on 127.0.0.1:0
//! and configured to use that GitHub, and an admin token; plus assertions shared by the
//! tests.

use pm_api::Application;
use pm_e2e::api::{Api, Reply};
use pm_github_fake::{FakeGithub, GenerateIssues, Issue, IssueState, Running, StateReason};
use pm_postgres::testing::TestDb;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};

/// pmhub's default organization, the one approvals create repositories in.
pub const ORG: &str = pm_e2e::DEFAULT_ORG;
/// alice's GitHub token; alice is a member of [`ORG`].
pub const GH_TOKEN: &str = "ghp_e2eAlice0123456789abcdefWXYZ";
pub const GH_LOGIN: &str = "alice";
/// The repository whose issues are imported.
pub const REPO: &str = "auditmos-projects/tracker";
/// 250 items: 3 pages of 100 for the importer.
pub const ITEMS: u64 = 250;

pub struct World {
    /// pmhub's API, as the workspace admin.
    pub api: Api,
    /// The fake GitHub's state, to seed, inspect and inject faults.
    pub fake: FakeGithub,
    _github: Running,
    server: actix_web::dev::ServerHandle,
    jobs: Option<pm_api::jobs::JobWorkers>,
    // Last: the server must stop using the database before it is dropped.
    _db: TestDb,
}

impl World {
    /// The fake holds alice (token [`GH_TOKEN`]), the organization [`ORG`] with alice as a
    /// member, and [`REPO`] (private) with [`ITEMS`] items: every 10th a pull request, every
    /// 4th closed, and a closed issue that is also a multiple of 3 closed as not planned.
    pub async fn start() -> Self {
        let fake = FakeGithub::new();
        fake.add_user(GH_TOKEN, GH_LOGIN).expect("user");
        fake.add_org(ORG).expect("org");
        fake.add_org_member(ORG, GH_LOGIN).expect("member");
        let (owner, name) = REPO.split_once('/').expect("owner/name");
        fake.add_repo(owner, name, true).expect("repo");
        fake.add_issues(
            REPO,
            &GenerateIssues::new(ITEMS)
                .pull_request_every(10)
                .closed_every(4)
                .not_planned_every(3)
                .labels(["bug", "enhancement"]),
        )
        .expect("issues");
        let github = fake
            .clone()
            .start("127.0.0.1:0")
            .await
            .expect("fake GitHub");

        let db = TestDb::new().await;
        let settings = pm_e2e::settings::extract(
            pm_e2e::settings::figment(&db.url, &github.base_url, ORG)
                .merge(("server.workers", 2))
                // Push paces its POSTs ~1 s apart for GitHub's secondary limits; no need here.
                .merge(("github.push_interval_ms", 1)),
        )
        .expect("settings");
        let app = Application::build(&settings).await.expect("pmhub");
        let base = format!("http://127.0.0.1:{}", app.port());
        let github_client = app.github();
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        // Imports and pushes run as jobs, beside the server as in `pmhub serve`.
        let jobs =
            pm_api::jobs::start_sharing(&settings, Some(github_client)).expect("job workers");

        let state = pm_api::startup::build_state(&settings, db.db.clone()).expect("state");
        let admin = state
            .accounts
            .bootstrap("e2e", "admin@e2e.example")
            .await
            .expect("bootstrap");
        let api = Api::new(base)
            .expect("client")
            .with_token(admin.token.expose_secret());
        Self {
            api,
            fake,
            _github: github,
            server: handle,
            jobs: Some(jobs),
            _db: db,
        }
    }

    /// Connects the workspace to GitHub with alice's token.
    pub async fn connect(&self) -> Reply {
        let reply = self
            .api
            .post("/api/v1/integrations/github", &json!({ "token": GH_TOKEN }))
            .await
            .expect("connect");
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply
    }

    /// A new project; returns its slug.
    pub async fn project(&self, name: &str) -> String {
        let reply = self
            .api
            .post(
                "/api/v1/projects",
                &json!({ "name": name, "description": "end-to-end" }),
            )
            .await
            .expect("create project");
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["slug"].as_str().expect("slug").to_string()
    }

    /// `POST …/github/sync {"repo": REPO}`, waiting for the run (`Prefer: wait=60`).
    pub async fn sync(&self, slug: &str) -> Reply {
        self.api
            .post_and_wait(
                &format!("/api/v1/projects/{slug}/github/sync"),
                &json!({ "repo": REPO }),
            )
            .await
            .expect("sync")
    }

    /// Submits the project's spec, then approves it; returns the approval's answer.
    pub async fn submit_and_approve(&self, slug: &str) -> Reply {
        let submitted = self
            .api
            .post_empty(&format!("/api/v1/projects/{slug}/spec/submit"))
            .await
            .expect("submit");
        assert_eq!(submitted.status, 200, "{}", submitted.body);
        assert_eq!(submitted.body["status"], "interviewing");
        self.approve(slug).await
    }

    pub async fn approve(&self, slug: &str) -> Reply {
        self.api
            .post_empty(&format!("/api/v1/projects/{slug}/approve"))
            .await
            .expect("approve")
    }

    pub async fn tasks(&self, slug: &str) -> Vec<Value> {
        self.api.tasks(slug).await.expect("tasks")
    }

    pub async fn runs(&self, slug: &str) -> Vec<Value> {
        self.api.sync_runs(slug).await.expect("sync runs")
    }

    /// Issue-list requests GitHub has served (under either URL shape: the first page is asked
    /// by name, `Link` headers point at `/repositories/{id}/issues`).
    pub fn issue_list_requests(&self) -> u64 {
        self.fake
            .stats()
            .by_route
            .iter()
            .filter(|(route, _)| route.starts_with("GET ") && route.ends_with("/issues"))
            .map(|(_, n)| n)
            .sum()
    }

    /// `POST /orgs/{org}/repos` requests GitHub has served.
    pub fn repo_creations(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == format!("/orgs/{ORG}/repos"))
            .count()
    }

    /// The imported repository's items that are issues, not pull requests.
    pub fn issues(&self) -> Vec<Issue> {
        self.fake
            .issues_of(REPO)
            .expect("the repository exists")
            .into_iter()
            .filter(|i| !i.pull_request)
            .collect()
    }

    pub fn pull_request_count(&self) -> u64 {
        let all = self.fake.issues_of(REPO).expect("the repository exists");
        all.iter().filter(|i| i.pull_request).count() as u64
    }
}

impl Drop for World {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(jobs) = self.jobs.take() {
            drop(jobs.shutdown());
        }
    }
}

/// The task status an imported issue must get.
pub fn expected_status(issue: &Issue) -> &'static str {
    match (issue.state, issue.state_reason) {
        (IssueState::Open, _) => "todo",
        (IssueState::Closed, Some(StateReason::NotPlanned)) => "canceled",
        (IssueState::Closed, _) => "done",
    }
}

/// Every task is numbered 1..=N without holes, carries exactly one GitHub link, and names a
/// distinct issue; returns the tasks keyed by their link's reference (`owner/repo#N`).
pub fn tasks_by_reference(tasks: &[Value]) -> BTreeMap<String, Value> {
    let numbers: Vec<u64> = tasks
        .iter()
        .map(|t| t["number"].as_u64().expect("number"))
        .collect();
    let expected: Vec<u64> = (1..=tasks.len() as u64).collect();
    assert_eq!(numbers, expected, "task numbers run 1..=N in order");
    let mut by_reference = BTreeMap::new();
    for task in tasks {
        let links = task["external_links"].as_array().expect("external_links");
        assert_eq!(links.len(), 1, "one link per imported task: {task}");
        assert_eq!(links[0]["provider"], "github", "{task}");
        let reference = links[0]["reference"].as_str().expect("reference");
        let previous = by_reference.insert(reference.to_string(), task.clone());
        assert!(previous.is_none(), "two tasks for {reference}");
    }
    by_reference
}

/// The project's tasks are exactly the repository's issues (no pull request, no duplicate,
/// none missing), with the right titles, statuses, sources and links.
pub fn assert_tasks_mirror_issues(tasks: &[Value], issues: &[Issue]) {
    assert_eq!(tasks.len(), issues.len(), "one task per issue");
    let by_reference = tasks_by_reference(tasks);
    for issue in issues {
        let reference = format!("{REPO}#{}", issue.number);
        let task = by_reference
            .get(&reference)
            .unwrap_or_else(|| panic!("no task for {reference}"));
        assert_eq!(task["title"], issue.title.as_str(), "{reference}");
        assert_eq!(task["status"], expected_status(issue), "{reference}");
        assert_eq!(task["source"], "github", "{reference}");
        assert_eq!(
            task["external_links"][0]["url"],
            issue.html_url.as_str(),
            "{reference}"
        );
    }
}

/// Tasks that are all real issues of [`REPO`], each once (a partial import).
pub fn assert_subset_of_issues(tasks: &[Value], issues: &[Issue]) {
    let known: HashSet<String> = issues
        .iter()
        .map(|i| format!("{REPO}#{}", i.number))
        .collect();
    for reference in tasks_by_reference(tasks).keys() {
        assert!(known.contains(reference), "{reference} is not an issue");
    }
}

/// A problem+json answer with this status and code.
pub fn assert_problem(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.code(), Some(code), "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{}",
        reply.body
    );
}

/// The count fields of a sync answer or run.
pub fn counts(body: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| body[k].as_u64().unwrap_or_else(|| panic!("{k} in {body}"));
    (
        n("created"),
        n("skipped"),
        n("pull_requests_ignored"),
        n("total_seen"),
    )
}
