//! [`FakeGithub`], the cheap-to-clone handle tests seed and inspect, and [`Running`], a started
//! server.

use std::{io, net::SocketAddr, ops::Range, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::ServerHandle, middleware::from_fn, web};
use parking_lot::{Mutex, MutexGuard};
use tokio::task::JoinHandle;

use crate::{
    admin,
    faults::FaultSettings,
    gate,
    model::{
        FakeError, GenerateIssues, Issue, NewIssue, Repo, RequestRecord, Seed, StateReason, Stats,
    },
    routes,
    state::State,
};

/// The fake GitHub: shared state behind a mutex. Clones share the same world, so a test can keep
/// one to seed and inspect while the server serves another.
#[derive(Clone, Default)]
pub struct FakeGithub {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeGithub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGithub").finish_non_exhaustive()
    }
}

impl FakeGithub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the world. Handlers hold it for one request's work only, never across an await.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    // ----- seeding ------------------------------------------------------------------------

    /// Registers `token` for user `login` (created on first use; a user may have several
    /// tokens) and returns the user's id.
    pub fn add_user(&self, token: &str, login: &str) -> Result<u64, FakeError> {
        self.lock().add_user(token, login)
    }

    /// Creates an organization (or returns the existing one's id).
    pub fn add_org(&self, login: &str) -> Result<u64, FakeError> {
        self.lock().add_org(login)
    }

    /// Makes `user` a member of `org`: the user then sees the organization's repositories in
    /// `GET /user/repos` and may create repositories in it.
    pub fn add_org_member(&self, org: &str, user: &str) -> Result<(), FakeError> {
        self.lock().add_org_member(org, user)
    }

    /// Creates repository `owner/name` (owner: a user or an organization); returns its id.
    pub fn add_repo(&self, owner: &str, name: &str, private: bool) -> Result<u64, FakeError> {
        self.lock().create_repo(owner, name, private, None)
    }

    /// Generates a batch of issues (see [`GenerateIssues`] for the mix); returns the numbers
    /// created.
    pub fn add_issues(
        &self,
        full_name: &str,
        opts: &GenerateIssues,
    ) -> Result<Range<u64>, FakeError> {
        self.lock().generate_issues(full_name, opts)
    }

    /// Creates one issue (or pull request) and returns it.
    pub fn add_issue(&self, full_name: &str, issue: NewIssue) -> Result<Issue, FakeError> {
        self.lock().add_issue(full_name, issue)
    }

    /// Renames `owner/name` to `owner/new_name`. Issue ids stay; the old name answers `301`
    /// (`307` for writes) to `/repositories/{id}…`, like GitHub.
    pub fn rename_repo(&self, full_name: &str, new_name: &str) -> Result<Repo, FakeError> {
        self.lock().rename_repo(full_name, new_name)
    }

    pub fn close_issue(
        &self,
        full_name: &str,
        number: u64,
        reason: StateReason,
    ) -> Result<Issue, FakeError> {
        self.lock()
            .set_issue_state_by_name(full_name, number, Some(reason))
    }

    pub fn reopen_issue(&self, full_name: &str, number: u64) -> Result<Issue, FakeError> {
        self.lock().set_issue_state_by_name(full_name, number, None)
    }

    /// Applies a seed document (the binary's `--seed-file`).
    pub fn apply_seed(&self, seed: &Seed) -> Result<(), FakeError> {
        let mut st = self.lock();
        for u in &seed.users {
            st.add_user(&u.token, &u.login)?;
        }
        for o in &seed.orgs {
            st.add_org(&o.login)?;
            for m in &o.members {
                st.add_org_member(&o.login, m)?;
            }
        }
        for r in &seed.repos {
            st.create_repo(&r.owner, &r.name, r.private, r.description.clone())?;
            if let Some(gen_opts) = &r.issues {
                st.generate_issues(&format!("{}/{}", r.owner, r.name), gen_opts)?;
            }
        }
        Ok(())
    }

    /// Forgets all users, repositories, issues, faults and logs. Ids keep counting up, so
    /// nothing handed out before a reset is ever reused.
    pub fn reset(&self) {
        self.lock().reset();
    }

    // ----- inspection ---------------------------------------------------------------------

    /// Number of GitHub API requests served (admin requests excluded).
    pub fn request_count(&self) -> u64 {
        self.lock().stats().requests
    }

    /// The API requests served, oldest first (the last 50,000 are kept).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests()
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats()
    }

    /// The repository's issues in number order, or `None` if there is no such repository
    /// (after a rename, only the new name answers).
    pub fn issues_of(&self, full_name: &str) -> Option<Vec<Issue>> {
        self.lock().issues_of(full_name)
    }

    pub fn repo(&self, full_name: &str) -> Option<Repo> {
        self.lock().repo_by_full(full_name)
    }

    // ----- faults -------------------------------------------------------------------------

    /// Merges `faults` into the faults in force (fields left `None` are unchanged).
    pub fn set_faults(&self, faults: FaultSettings) {
        self.lock().faults.apply(faults);
    }

    /// Removes every fault, including revoked tokens and rate limits currently in force.
    pub fn clear_faults(&self) {
        self.lock().faults = Default::default();
    }

    pub fn faults(&self) -> FaultSettings {
        self.lock().faults.settings()
    }

    /// The next `count` repository creations in `org` answer GitHub's "name already exists"
    /// 422, whatever the name.
    pub fn reject_next_creates(&self, org: &str, count: u64) -> Result<(), FakeError> {
        self.lock().reject_next_creates(org, count)
    }

    /// Shorthand for a [`FaultSettings::revoke_token`] fault.
    pub fn revoke_token(&self, token: &str) {
        self.set_faults(FaultSettings {
            revoke_token: Some(token.to_owned()),
            ..FaultSettings::default()
        });
    }

    // ----- serving ------------------------------------------------------------------------

    /// Serves the fake on `addr` (e.g. `"127.0.0.1:0"` for a random port) until
    /// [`Running::stop`] or drop. Must be called inside a Tokio runtime.
    pub async fn start(self, addr: &str) -> io::Result<Running> {
        let fake = self.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(fake.clone()))
                .wrap(from_fn(gate::gate))
                .service(admin::scope())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        // Two cores on the target machines; one worker could starve under `latency_ms`.
        .workers(2)
        // The embedding program (a test, the binary) owns signal handling and shutdown.
        .disable_signals()
        .shutdown_timeout(1)
        .bind(addr)?;
        let bound = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| io::Error::other("server bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Running {
            base_url: format!("http://{}", display_addr(bound)),
            addr: bound,
            handle,
            task: Some(task),
            fake: self,
        })
    }
}

/// A listener on 0.0.0.0 is reached through loopback; print that instead of the wildcard.
fn display_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

/// A started fake. Stops the server when dropped; prefer [`Running::stop`] to wait for it.
pub struct Running {
    /// E.g. `http://127.0.0.1:41234`, no trailing slash: the GitHub API base URL to configure.
    pub base_url: String,
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: Option<JoinHandle<io::Result<()>>>,
    fake: FakeGithub,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The served world, for seeding and inspection while it runs.
    pub fn fake(&self) -> &FakeGithub {
        &self.fake
    }

    /// Stops accepting, finishes in-flight requests (up to 1 s), and waits for the server.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            // Bounded: the server task ends right after stop() completes.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.task.is_some() {
            // Sends the stop command right away; the returned future only waits for completion.
            drop(self.handle.stop(false));
        }
    }
}
