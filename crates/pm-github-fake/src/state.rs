//! The fake's world: accounts, repositories, issues, plus the request log and fault state.
//! Nothing here knows about HTTP; routes and admin handlers lock [`State`] and call into it.
//!
//! Names (logins, repositories) are looked up case-insensitively like on GitHub, through
//! lower-cased index maps; records keep the spelling they were created with.

use std::{
    collections::{HashMap, VecDeque},
    ops::Range,
};

use crate::{
    faults::{FaultState, RateWindow},
    model::{
        FakeError, GenerateIssues, Issue, IssueState, NewIssue, Repo, RequestRecord, StateReason,
        Stats,
    },
    util::{node_id, now_secs, to_datetime},
    webhooks::WebhookState,
};

pub(crate) type AccountId = u64;
pub(crate) type RepoId = u64;

/// Keep the request log bounded: a demo left polling for days must not grow without end.
const MAX_LOGGED_REQUESTS: usize = 50_000;

/// Upper bound for one generated batch: far above the benchmark's 10,000, low enough that a
/// typo in an admin call cannot exhaust memory.
pub(crate) const MAX_BATCH: u64 = 1_000_000;

/// Where ids start. Distinct ranges make a mixed-up id obvious in a failing test, and issue ids
/// are large like real ones (clients must not assume they fit in 32 bits).
const FIRST_ACCOUNT_ID: u64 = 100_001;
const FIRST_REPO_ID: u64 = 700_000_001;
const FIRST_ISSUE_ID: u64 = 1_000_000_001;
const FIRST_LABEL_ID: u64 = 4_000_000_001;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountKind {
    User,
    Organization,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: AccountId,
    pub login: String,
    pub kind: AccountKind,
    /// Members of an organization (empty for users).
    pub members: Vec<AccountId>,
    pub created_at: i64,
}

impl Account {
    pub(crate) fn node_kind(&self) -> &'static str {
        match self.kind {
            AccountKind::User => "User",
            AccountKind::Organization => "Organization",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub default: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct IssueRec {
    pub id: u64,
    pub node_id: String,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: IssueState,
    pub state_reason: Option<StateReason>,
    /// Indices into the repository's `labels`.
    pub labels: Vec<u32>,
    pub pull_request: bool,
    pub author: AccountId,
    pub author_association: &'static str,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub closed_by: Option<AccountId>,
    /// The global version of this issue's last change (creation, edit, close, reopen);
    /// feeds its own ETag, so one issue's change leaves the others' ETags valid. A
    /// request that changes nothing leaves it (and `updated_at`) alone, like GitHub.
    pub version: u64,
    /// `Some` once deleted or transferred away: the record stays (numbers index the Vec) but
    /// no longer counts, lists or edits.
    pub gone: Option<Gone>,
}

/// What became of an issue that is no longer in its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gone {
    Deleted,
    Transferred { repo: RepoId, number: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct RepoRec {
    pub id: RepoId,
    pub node_id: String,
    pub owner: AccountId,
    pub name: String,
    pub private: bool,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped on every change to the repository or its issues; feeds ETags.
    pub version: u64,
    /// In number order (`issues[i].number == i + 1`) and, by construction, in `created_at`
    /// order too, so `sort=created` needs no sorting.
    pub issues: Vec<IssueRec>,
    pub labels: Vec<Label>,
}

impl RepoRec {
    pub(crate) fn open_issues_count(&self) -> u64 {
        self.issues
            .iter()
            .filter(|i| i.state == IssueState::Open && i.gone.is_none())
            .count() as u64
    }

    /// Issues still in the repository (not deleted or transferred away).
    pub(crate) fn live_issue_count(&self) -> u64 {
        self.issues.iter().filter(|i| i.gone.is_none()).count() as u64
    }

    /// A live issue.
    pub(crate) fn issue(&self, number: u64) -> Option<&IssueRec> {
        self.issue_any(number).filter(|i| i.gone.is_none())
    }

    /// An issue, live or gone.
    pub(crate) fn issue_any(&self, number: u64) -> Option<&IssueRec> {
        let idx = usize::try_from(number.checked_sub(1)?).ok()?;
        self.issues.get(idx)
    }

    fn issue_mut(&mut self, number: u64) -> Option<&mut IssueRec> {
        let idx = usize::try_from(number.checked_sub(1)?).ok()?;
        self.issues.get_mut(idx).filter(|i| i.gone.is_none())
    }

    /// Index of the label named `name` (case-insensitively), creating it like GitHub does when
    /// an issue is given an unknown label.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a fake repository holds far fewer than 2^32 labels"
    )]
    fn label_index(&mut self, name: &str, next_label_id: &mut u64) -> u32 {
        if let Some(i) = self
            .labels
            .iter()
            .position(|l| l.name.eq_ignore_ascii_case(name))
        {
            return i as u32;
        }
        let (color, description, default) = default_label_style(name);
        self.labels.push(Label {
            id: *next_label_id,
            name: name.to_owned(),
            color: color.to_owned(),
            description: description.map(str::to_owned),
            default,
        });
        *next_label_id += 1;
        (self.labels.len() - 1) as u32
    }
}

/// GitHub's default labels keep their colours and descriptions; others get GitHub's grey.
fn default_label_style(name: &str) -> (&'static str, Option<&'static str>, bool) {
    match name.to_ascii_lowercase().as_str() {
        "bug" => ("d73a4a", Some("Something isn't working"), true),
        "documentation" => (
            "0075ca",
            Some("Improvements or additions to documentation"),
            true,
        ),
        "enhancement" => ("a2eeef", Some("New feature or request"), true),
        "good first issue" => ("7057ff", Some("Good for newcomers"), true),
        "help wanted" => ("008672", Some("Extra attention is needed"), true),
        "question" => ("d876e3", Some("Further information is requested"), true),
        _ => ("ededed", None, false),
    }
}

/// Outcome of looking a repository up by owner and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepoLookup {
    Found(RepoId),
    /// The name belonged to a repository that has since been renamed.
    Moved(RepoId),
    Missing,
}

/// Counters that survive [`State::reset`], so ids and ETags are never reused within a process.
#[derive(Debug, Clone, Copy)]
struct Counters {
    next_account: u64,
    next_repo: u64,
    next_issue: u64,
    next_label: u64,
    version: u64,
    request_id: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            next_account: FIRST_ACCOUNT_ID,
            next_repo: FIRST_REPO_ID,
            next_issue: FIRST_ISSUE_ID,
            next_label: FIRST_LABEL_ID,
            version: 1,
            request_id: 0,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    counters: Counters,
    pub accounts: HashMap<AccountId, Account>,
    logins: HashMap<String, AccountId>,
    tokens: HashMap<String, AccountId>,
    pub repos: HashMap<RepoId, RepoRec>,
    repo_names: HashMap<String, RepoId>,
    redirects: HashMap<String, RepoId>,
    /// Pending "name already exists" rejections per organization.
    reject_names: HashMap<AccountId, u64>,
    pub faults: FaultState,
    rates: HashMap<AccountId, RateWindow>,
    log: VecDeque<RequestRecord>,
    stats: Stats,
    pub webhooks: WebhookState,
}

fn full_key(owner: &str, name: &str) -> String {
    format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

fn split_full(full_name: &str) -> Result<(&str, &str), FakeError> {
    full_name
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| FakeError::UnknownRepo(full_name.to_owned()))
}

/// GitHub turns characters it does not allow in repository names into `-`.
pub(crate) fn sanitize_repo_name(name: &str) -> Result<String, FakeError> {
    let cleaned: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." || cleaned.len() > 100 {
        return Err(FakeError::InvalidName(name.to_owned()));
    }
    Ok(cleaned)
}

fn valid_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 39
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl State {
    /// Forgets all data and faults; id and version counters keep counting (see [`Counters`]).
    pub(crate) fn reset(&mut self) {
        let counters = self.counters;
        let mut webhooks = std::mem::take(&mut self.webhooks);
        webhooks.reset();
        *self = Self {
            counters,
            webhooks,
            ..Self::default()
        };
    }

    fn bump(&mut self) -> u64 {
        self.counters.version += 1;
        self.counters.version
    }

    /// Global version: changes whenever anything changes (used for list ETags).
    pub(crate) fn version(&self) -> u64 {
        self.counters.version
    }

    pub(crate) fn next_request_id(&mut self) -> u64 {
        self.counters.request_id += 1;
        self.counters.request_id
    }

    // ----- accounts -------------------------------------------------------------------------

    pub(crate) fn account_by_login(&self, login: &str) -> Option<&Account> {
        self.logins
            .get(&login.to_ascii_lowercase())
            .and_then(|id| self.accounts.get(id))
    }

    pub(crate) fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    fn new_account(&mut self, login: &str, kind: AccountKind) -> Result<AccountId, FakeError> {
        if !valid_login(login) {
            return Err(FakeError::InvalidName(login.to_owned()));
        }
        let id = self.counters.next_account;
        self.counters.next_account += 1;
        self.accounts.insert(
            id,
            Account {
                id,
                login: login.to_owned(),
                kind,
                members: Vec::new(),
                created_at: now_secs(),
            },
        );
        self.logins.insert(login.to_ascii_lowercase(), id);
        self.bump();
        Ok(id)
    }

    /// Registers `token` for user `login`, creating the user if needed (a user may have several
    /// tokens). Returns the user id.
    pub(crate) fn add_user(&mut self, token: &str, login: &str) -> Result<AccountId, FakeError> {
        let id = match self.account_by_login(login) {
            Some(a) if a.kind == AccountKind::User => a.id,
            Some(_) => return Err(FakeError::NotAUser(login.to_owned())),
            None => self.new_account(login, AccountKind::User)?,
        };
        if !token.is_empty() {
            self.tokens.insert(token.to_owned(), id);
        }
        Ok(id)
    }

    /// Creates organization `login` (or returns the existing one's id).
    pub(crate) fn add_org(&mut self, login: &str) -> Result<AccountId, FakeError> {
        match self.account_by_login(login) {
            Some(a) if a.kind == AccountKind::Organization => Ok(a.id),
            Some(_) => Err(FakeError::NotAnOrganization(login.to_owned())),
            None => self.new_account(login, AccountKind::Organization),
        }
    }

    pub(crate) fn add_org_member(&mut self, org: &str, user: &str) -> Result<(), FakeError> {
        let org_id = self.org_id(org)?;
        let user_id = match self.account_by_login(user) {
            Some(a) if a.kind == AccountKind::User => a.id,
            Some(_) => return Err(FakeError::NotAUser(user.to_owned())),
            None => return Err(FakeError::UnknownAccount(user.to_owned())),
        };
        if let Some(org) = self.accounts.get_mut(&org_id)
            && !org.members.contains(&user_id)
        {
            org.members.push(user_id);
        }
        self.bump();
        Ok(())
    }

    fn org_id(&self, org: &str) -> Result<AccountId, FakeError> {
        match self.account_by_login(org) {
            Some(a) if a.kind == AccountKind::Organization => Ok(a.id),
            Some(_) => Err(FakeError::NotAnOrganization(org.to_owned())),
            None => Err(FakeError::UnknownAccount(org.to_owned())),
        }
    }

    /// The user a token belongs to, unless unknown or revoked by a fault.
    pub(crate) fn authenticate(&self, token: &str) -> Option<&Account> {
        if self.faults.is_revoked(token) {
            return None;
        }
        self.tokens.get(token).and_then(|id| self.accounts.get(id))
    }

    pub(crate) fn is_member(&self, org: AccountId, user: AccountId) -> bool {
        self.accounts
            .get(&org)
            .is_some_and(|o| o.members.contains(&user))
    }

    /// Whether `viewer` owns the repository or belongs to the organization that owns it.
    pub(crate) fn has_access(&self, repo: &RepoRec, viewer: AccountId) -> bool {
        repo.owner == viewer || self.is_member(repo.owner, viewer)
    }

    pub(crate) fn can_see(&self, repo: &RepoRec, viewer: AccountId) -> bool {
        !repo.private || self.has_access(repo, viewer)
    }

    /// Repositories listed by `GET /user/repos`: owned by the user or by an organization the
    /// user is a member of, sorted by full name like GitHub's default.
    pub(crate) fn repos_of_user(&self, user: AccountId) -> Vec<&RepoRec> {
        let mut repos: Vec<&RepoRec> = self
            .repos
            .values()
            .filter(|r| self.has_access(r, user))
            .collect();
        repos.sort_by_cached_key(|r| self.full_name(r).to_ascii_lowercase());
        repos
    }

    // ----- rate limits ----------------------------------------------------------------------

    /// The user's current window (rolled over if expired), optionally charging one request.
    pub(crate) fn rate_window(&mut self, user: AccountId, now: i64, charge: bool) -> RateWindow {
        let w = self
            .rates
            .entry(user)
            .or_insert_with(|| RateWindow::fresh(now));
        w.roll(now);
        if charge {
            w.used += 1;
        }
        *w
    }

    // ----- request log ----------------------------------------------------------------------

    pub(crate) fn record_request(&mut self, method: &str, path: &str, query: &str, route: &str) {
        if self.log.len() == MAX_LOGGED_REQUESTS {
            self.log.pop_front();
        }
        self.log.push_back(RequestRecord {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            at: time::OffsetDateTime::now_utc(),
        });
        self.stats.requests += 1;
        *self
            .stats
            .by_route
            .entry(format!("{method} {route}"))
            .or_default() += 1;
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.log.iter().cloned().collect()
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats.clone()
    }

    // ----- repositories ---------------------------------------------------------------------

    pub(crate) fn full_name(&self, repo: &RepoRec) -> String {
        let owner = self
            .accounts
            .get(&repo.owner)
            .map_or("ghost", |a| a.login.as_str());
        format!("{owner}/{}", repo.name)
    }

    pub(crate) fn lookup_repo(&self, owner: &str, name: &str) -> RepoLookup {
        let key = full_key(owner, name);
        if let Some(id) = self.repo_names.get(&key) {
            RepoLookup::Found(*id)
        } else if let Some(id) = self.redirects.get(&key) {
            RepoLookup::Moved(*id)
        } else {
            RepoLookup::Missing
        }
    }

    fn repo_id_by_full(&self, full_name: &str) -> Result<RepoId, FakeError> {
        let (owner, name) = split_full(full_name)?;
        match self.lookup_repo(owner, name) {
            RepoLookup::Found(id) => Ok(id),
            _ => Err(FakeError::UnknownRepo(full_name.to_owned())),
        }
    }

    /// Whether the organization has a pending injected "name already exists" rejection (and
    /// consumes it).
    pub(crate) fn take_name_rejection(&mut self, org: AccountId) -> bool {
        match self.reject_names.get_mut(&org) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn reject_next_creates(&mut self, org: &str, count: u64) -> Result<(), FakeError> {
        let id = self.org_id(org)?;
        self.reject_names.insert(id, count);
        Ok(())
    }

    pub(crate) fn create_repo(
        &mut self,
        owner: &str,
        name: &str,
        private: bool,
        description: Option<String>,
    ) -> Result<RepoId, FakeError> {
        let owner_id = self
            .account_by_login(owner)
            .map(|a| a.id)
            .ok_or_else(|| FakeError::UnknownAccount(owner.to_owned()))?;
        let name = sanitize_repo_name(name)?;
        let owner_login = self.accounts[&owner_id].login.clone();
        let key = full_key(&owner_login, &name);
        if self.repo_names.contains_key(&key) {
            return Err(FakeError::NameTaken(format!("{owner_login}/{name}")));
        }
        // A new repository takes the name over from a renamed one's redirect, as on GitHub.
        self.redirects.remove(&key);
        let id = self.counters.next_repo;
        self.counters.next_repo += 1;
        let now = now_secs();
        let version = self.bump();
        self.repos.insert(
            id,
            RepoRec {
                id,
                node_id: node_id("Repository", id),
                owner: owner_id,
                name,
                private,
                description,
                created_at: now,
                updated_at: now,
                version,
                issues: Vec::new(),
                labels: Vec::new(),
            },
        );
        self.repo_names.insert(key, id);
        Ok(id)
    }

    /// Renames a repository; the old name then redirects (`301`/`307`) to the same id.
    pub(crate) fn rename_repo(
        &mut self,
        full_name: &str,
        new_name: &str,
    ) -> Result<Repo, FakeError> {
        let id = self.repo_id_by_full(full_name)?;
        let new_name = sanitize_repo_name(new_name)?;
        let owner_login = self.accounts[&self.repos[&id].owner].login.clone();
        let new_key = full_key(&owner_login, &new_name);
        let old_key = full_key(&owner_login, &self.repos[&id].name);
        if new_key != old_key {
            if self.repo_names.contains_key(&new_key) {
                return Err(FakeError::NameTaken(format!("{owner_login}/{new_name}")));
            }
            self.repo_names.remove(&old_key);
            self.redirects.remove(&new_key);
            self.redirects.insert(old_key, id);
            self.repo_names.insert(new_key, id);
        }
        let version = self.bump();
        let repo = self
            .repos
            .get_mut(&id)
            .ok_or_else(|| FakeError::UnknownRepo(full_name.to_owned()))?;
        let old_name = std::mem::replace(&mut repo.name, new_name);
        repo.version = version;
        repo.updated_at = now_secs();
        if old_name != repo.name {
            let actor = self.default_author(&self.repos[&id]);
            let changes = serde_json::json!({"repository": {"name": {"from": old_name}}});
            self.emit_repository(id, "renamed", changes, actor);
        }
        Ok(self.repo_snapshot(id))
    }

    pub(crate) fn repo_snapshot(&self, id: RepoId) -> Repo {
        let r = &self.repos[&id];
        let full_name = self.full_name(r);
        Repo {
            id: r.id,
            owner: full_name
                .split_once('/')
                .map_or_else(String::new, |(o, _)| o.to_owned()),
            name: r.name.clone(),
            html_url: format!("https://github.com/{full_name}"),
            full_name,
            private: r.private,
            description: r.description.clone(),
            open_issues_count: r.open_issues_count(),
            issue_count: r.live_issue_count(),
        }
    }

    pub(crate) fn repo_by_full(&self, full_name: &str) -> Option<Repo> {
        self.repo_id_by_full(full_name)
            .ok()
            .map(|id| self.repo_snapshot(id))
    }

    // ----- issues ---------------------------------------------------------------------------

    /// Default author for seeded issues: the owning user, or an organization's first member
    /// (falling back to the organization itself when it has none).
    pub(crate) fn default_author(&self, repo: &RepoRec) -> AccountId {
        self.accounts
            .get(&repo.owner)
            .and_then(|a| a.members.first().copied())
            .unwrap_or(repo.owner)
    }

    fn association(&self, repo: &RepoRec, author: AccountId) -> &'static str {
        if repo.owner == author {
            "OWNER"
        } else if self.is_member(repo.owner, author) {
            "MEMBER"
        } else {
            "NONE"
        }
    }

    /// Creates one issue as `author` (the API path) and returns its number.
    pub(crate) fn create_issue(
        &mut self,
        repo_id: RepoId,
        new: NewIssue,
        author: AccountId,
    ) -> Result<u64, FakeError> {
        let association = {
            let repo = self
                .repos
                .get(&repo_id)
                .ok_or_else(|| FakeError::UnknownRepo(repo_id.to_string()))?;
            self.association(repo, author)
        };
        let version = self.bump();
        let id = self.counters.next_issue;
        self.counters.next_issue += 1;
        let now = now_secs();
        let mut next_label = self.counters.next_label;
        let repo = self
            .repos
            .get_mut(&repo_id)
            .ok_or_else(|| FakeError::UnknownRepo(repo_id.to_string()))?;
        // Keep issues in created_at order (see RepoRec::issues), whatever the clock did.
        let created = repo
            .issues
            .last()
            .map_or(now, |last| now.max(last.created_at));
        let labels = new
            .labels
            .iter()
            .map(|l| repo.label_index(l, &mut next_label))
            .collect();
        let number = repo.issues.len() as u64 + 1;
        repo.issues.push(IssueRec {
            id,
            node_id: node_id("Issue", id),
            number,
            title: new.title,
            body: new.body,
            state: IssueState::Open,
            state_reason: None,
            labels,
            pull_request: new.pull_request,
            author,
            author_association: association,
            created_at: created,
            updated_at: created,
            closed_at: None,
            closed_by: None,
            version,
            gone: None,
        });
        repo.version = version;
        repo.updated_at = now;
        self.counters.next_label = next_label;
        self.emit_issue(repo_id, number, "opened", serde_json::Map::new(), author);
        Ok(number)
    }

    /// Library/admin path of [`State::create_issue`]: resolves the repository by name and the
    /// author by login.
    pub(crate) fn add_issue(&mut self, full_name: &str, new: NewIssue) -> Result<Issue, FakeError> {
        let repo_id = self.repo_id_by_full(full_name)?;
        let author = match &new.author {
            Some(login) => self
                .account_by_login(login)
                .map(|a| a.id)
                .ok_or_else(|| FakeError::UnknownAccount(login.clone()))?,
            None => self.default_author(&self.repos[&repo_id]),
        };
        let number = self.create_issue(repo_id, new, author)?;
        self.issue_snapshot(repo_id, number)
    }

    /// Generates `opts.count` issues in one go (fast enough for the 10,000-issue benchmark) and
    /// returns the range of numbers created.
    ///
    /// Timestamps are spread over the past: item `i` is created a minute after item `i - 1` and
    /// updated a pseudo-random 0-96 minutes after its creation, so `sort=updated` differs from
    /// `sort=created` and `since` has something to cut.
    #[allow(
        clippy::cast_possible_wrap,
        reason = "counts are bounded by MAX_BATCH, far below i64::MAX"
    )]
    pub(crate) fn generate_issues(
        &mut self,
        full_name: &str,
        opts: &GenerateIssues,
    ) -> Result<Range<u64>, FakeError> {
        if opts.count > MAX_BATCH {
            return Err(FakeError::BatchTooLarge(opts.count));
        }
        let repo_id = self.repo_id_by_full(full_name)?;
        let author = self.default_author(&self.repos[&repo_id]);
        let association = self.association(&self.repos[&repo_id], author);
        let closer = author;
        let version = self.bump();
        let now = now_secs();
        // Lossless: bounded by MAX_BATCH above.
        let count = opts.count as i64;
        let base = now - (count + 100) * 60;
        let every = |k: Option<u64>, i: u64| k.is_some_and(|k| k > 0 && i.is_multiple_of(k));

        let mut next_issue = self.counters.next_issue;
        let mut next_label = self.counters.next_label;
        let repo = self
            .repos
            .get_mut(&repo_id)
            .ok_or_else(|| FakeError::UnknownRepo(full_name.to_owned()))?;
        let label_ids: Vec<u32> = opts
            .labels
            .iter()
            .map(|l| repo.label_index(l, &mut next_label))
            .collect();
        let first_number = repo.issues.len() as u64 + 1;
        let mut last_created = repo.issues.last().map_or(i64::MIN, |l| l.created_at);
        repo.issues
            .reserve(usize::try_from(opts.count).unwrap_or(0));
        for i in 1..=opts.count {
            let number = repo.issues.len() as u64 + 1;
            // `i <= count <= MAX_BATCH`, so these fit in i64.
            let created = (base + i as i64 * 60).max(last_created);
            last_created = created;
            let jitter = ((i * 37) % 97) as i64 * 60;
            let updated = (created + jitter).min(now).max(created);
            let is_pr = every(opts.pull_request_every, i);
            let closed = every(opts.closed_every, i);
            let (state, reason) = match (closed, is_pr) {
                (false, _) => (IssueState::Open, None),
                (true, true) => (IssueState::Closed, None),
                (true, false) if every(opts.not_planned_every, i) => {
                    (IssueState::Closed, Some(StateReason::NotPlanned))
                }
                (true, false) => (IssueState::Closed, Some(StateReason::Completed)),
            };
            let labels = if label_ids.is_empty() {
                Vec::new()
            } else {
                let idx = usize::try_from(i - 1).unwrap_or(0) % label_ids.len();
                vec![label_ids[idx]]
            };
            let kind = if is_pr { "pull request" } else { "issue" };
            repo.issues.push(IssueRec {
                id: next_issue,
                node_id: node_id("Issue", next_issue),
                number,
                title: format!("Generated {kind} {number}"),
                body: Some(format!("Body of generated {kind} {number}.")),
                state,
                state_reason: reason,
                labels,
                pull_request: is_pr,
                author,
                author_association: association,
                created_at: created,
                updated_at: updated,
                closed_at: closed.then_some(updated),
                closed_by: closed.then_some(closer),
                version,
                gone: None,
            });
            next_issue += 1;
        }
        repo.version = version;
        repo.updated_at = now;
        let end = repo.issues.len() as u64 + 1;
        self.counters.next_issue = next_issue;
        self.counters.next_label = next_label;
        if self.webhooks.wants(repo_id, "issues") {
            for number in first_number..end {
                self.emit_issue(repo_id, number, "opened", serde_json::Map::new(), author);
            }
        }
        Ok(first_number..end)
    }

    /// Closes (`Some(reason)`) or reopens (`None`) an issue, as `actor`.
    pub(crate) fn set_issue_state(
        &mut self,
        repo_id: RepoId,
        number: u64,
        close: Option<StateReason>,
        actor: AccountId,
    ) -> Result<(), FakeError> {
        let version = self.bump();
        let now = now_secs();
        let repo = self
            .repos
            .get_mut(&repo_id)
            .ok_or_else(|| FakeError::UnknownRepo(repo_id.to_string()))?;
        let repo_name = repo.name.clone();
        let issue = repo.issue_mut(number).ok_or(FakeError::UnknownIssue {
            repo: repo_name,
            number,
        })?;
        let before = issue.clone();
        match close {
            Some(reason) => {
                if issue.state == IssueState::Open {
                    issue.closed_at = Some(now);
                    issue.closed_by = Some(actor);
                }
                issue.state = IssueState::Closed;
                // Pull requests have no state reason on GitHub.
                issue.state_reason = (!issue.pull_request).then_some(reason);
            }
            None => {
                if issue.state == IssueState::Closed {
                    issue.state_reason = (!issue.pull_request).then_some(StateReason::Reopened);
                }
                issue.state = IssueState::Open;
                issue.closed_at = None;
                issue.closed_by = None;
            }
        }
        let changed = issue.state != before.state
            || issue.state_reason != before.state_reason
            || issue.closed_at != before.closed_at;
        if changed {
            // Whole seconds, like GitHub's timestamps (`now_secs`).
            issue.updated_at = now.max(issue.updated_at);
            issue.version = version;
            repo.version = version;
        }
        self.emit_issue_diff(repo_id, &before, actor);
        Ok(())
    }

    /// Applies a `PATCH` of title/body/labels, as `actor`.
    pub(crate) fn edit_issue(
        &mut self,
        repo_id: RepoId,
        number: u64,
        title: Option<String>,
        body: Option<Option<String>>,
        labels: Option<Vec<String>>,
        actor: AccountId,
    ) -> Result<(), FakeError> {
        let version = self.bump();
        let now = now_secs();
        let mut next_label = self.counters.next_label;
        let repo = self
            .repos
            .get_mut(&repo_id)
            .ok_or_else(|| FakeError::UnknownRepo(repo_id.to_string()))?;
        let label_ids: Option<Vec<u32>> = labels.map(|ls| {
            ls.iter()
                .map(|l| repo.label_index(l, &mut next_label))
                .collect()
        });
        let repo_name = repo.name.clone();
        let issue = repo.issue_mut(number).ok_or(FakeError::UnknownIssue {
            repo: repo_name,
            number,
        })?;
        let before = issue.clone();
        if let Some(t) = title {
            issue.title = t;
        }
        if let Some(b) = body {
            issue.body = b;
        }
        if let Some(ids) = label_ids {
            issue.labels = ids;
        }
        let changed = issue.title != before.title
            || issue.body != before.body
            || issue.labels != before.labels;
        if changed {
            issue.updated_at = now.max(issue.updated_at);
            issue.version = version;
        }
        // Even unchanged: a label the edit named may have been created.
        repo.version = version;
        self.counters.next_label = next_label;
        self.emit_issue_diff(repo_id, &before, actor);
        Ok(())
    }

    pub(crate) fn set_issue_state_by_name(
        &mut self,
        full_name: &str,
        number: u64,
        close: Option<StateReason>,
    ) -> Result<Issue, FakeError> {
        let repo_id = self.repo_id_by_full(full_name)?;
        let actor = self.default_author(&self.repos[&repo_id]);
        self.set_issue_state(repo_id, number, close, actor)?;
        self.issue_snapshot(repo_id, number)
    }

    /// Deletes an issue (GitHub can do this through GraphQL or the UI only): it disappears from
    /// listings and counts, `GET` answers `410`, and hooks get `issues.deleted`.
    pub(crate) fn delete_issue(&mut self, full_name: &str, number: u64) -> Result<(), FakeError> {
        let repo_id = self.repo_id_by_full(full_name)?;
        let actor = self.default_author(&self.repos[&repo_id]);
        let version = self.bump();
        let repo = self
            .repos
            .get_mut(&repo_id)
            .ok_or_else(|| FakeError::UnknownRepo(full_name.to_owned()))?;
        let issue = repo.issue_mut(number).ok_or(FakeError::UnknownIssue {
            repo: full_name.to_owned(),
            number,
        })?;
        issue.gone = Some(Gone::Deleted);
        repo.version = version;
        repo.updated_at = now_secs();
        self.emit_issue(repo_id, number, "deleted", serde_json::Map::new(), actor);
        Ok(())
    }

    /// Transfers an issue to another repository: it gets a new id and number there (keeping
    /// title, body, labels, author and state); the old number answers `301` to the new one;
    /// hooks of the old repository get `issues.transferred` (with `changes.new_issue` and
    /// `changes.new_repository`), hooks of the new one `issues.opened`.
    pub(crate) fn transfer_issue(
        &mut self,
        full_name: &str,
        number: u64,
        target: &str,
    ) -> Result<Issue, FakeError> {
        let from_id = self.repo_id_by_full(full_name)?;
        let to_id = self.repo_id_by_full(target)?;
        if from_id == to_id {
            return Err(FakeError::InvalidName(target.to_owned()));
        }
        let actor = self.default_author(&self.repos[&from_id]);
        let old = self.repos[&from_id]
            .issue(number)
            .cloned()
            .ok_or(FakeError::UnknownIssue {
                repo: full_name.to_owned(),
                number,
            })?;
        let labels: Vec<String> = old
            .labels
            .iter()
            .filter_map(|&l| self.repos[&from_id].labels.get(l as usize))
            .map(|l| l.name.clone())
            .collect();
        let new = NewIssue {
            title: old.title.clone(),
            body: old.body.clone(),
            labels,
            pull_request: false,
            author: None,
        };
        let new_number = self.create_issue(to_id, new, old.author)?;
        let version = self.bump();
        if let Some(repo) = self.repos.get_mut(&to_id) {
            repo.version = version;
            if let Some(i) = repo.issue_mut(new_number) {
                i.state = old.state;
                i.state_reason = old.state_reason;
                i.closed_at = old.closed_at;
                i.closed_by = old.closed_by;
                i.version = version;
            }
        }
        if let Some(repo) = self.repos.get_mut(&from_id) {
            repo.version = version;
            repo.updated_at = now_secs();
            if let Some(i) = repo.issue_mut(number) {
                i.gone = Some(Gone::Transferred {
                    repo: to_id,
                    number: new_number,
                });
            }
        }
        self.emit_transferred(from_id, number, to_id, new_number, actor);
        self.issue_snapshot(to_id, new_number)
    }

    /// Library/admin edit of title/body/labels, as the repository's default author.
    pub(crate) fn edit_issue_by_name(
        &mut self,
        full_name: &str,
        number: u64,
        edit: crate::model::IssueEdit,
    ) -> Result<Issue, FakeError> {
        let repo_id = self.repo_id_by_full(full_name)?;
        let actor = self.default_author(&self.repos[&repo_id]);
        self.edit_issue(repo_id, number, edit.title, edit.body, edit.labels, actor)?;
        self.issue_snapshot(repo_id, number)
    }

    /// Adds a hook to a repository (library/admin path; the API path validates more).
    pub(crate) fn add_hook(
        &mut self,
        full_name: &str,
        hook: crate::webhooks::NewHook,
    ) -> Result<u64, FakeError> {
        let repo_id = self.repo_id_by_full(full_name)?;
        if self.webhooks.hooks_of(repo_id).any(|h| h.url == hook.url) {
            return Err(FakeError::NameTaken(hook.url));
        }
        let now = now_secs();
        let id = self.webhooks.next_hook_id();
        let events = if hook.events.is_empty() {
            vec!["*".to_owned()]
        } else {
            hook.events
        };
        self.webhooks.hooks.insert(
            id,
            crate::webhooks::HookRec {
                id,
                repo: repo_id,
                active: hook.active.unwrap_or(true),
                events,
                url: hook.url,
                content_type: hook.content_type.unwrap_or_else(|| "json".to_owned()),
                insecure_ssl: "0".to_owned(),
                secret: hook.secret.filter(|s| !s.is_empty()),
                created_at: now,
                updated_at: now,
                last_response: Default::default(),
            },
        );
        let actor = self.default_author(&self.repos[&repo_id]);
        self.ping(id, actor);
        Ok(id)
    }

    /// The issue a request path names (`/repos/{o}/{r}/issues/{n}` or
    /// `/repositories/{id}/issues/{n}`), its repository under its current name when known
    /// (a renamed repository's old name resolves to it), else as the path spells it.
    pub(crate) fn issue_of_path(&self, path: &str) -> Option<(String, u64)> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (repo, number) = match segs.as_slice() {
            ["repos", owner, name, "issues", n] => {
                let repo = match self.lookup_repo(owner, name) {
                    RepoLookup::Found(id) | RepoLookup::Moved(id) => {
                        self.repos.get(&id).map(|r| self.full_name(r))
                    }
                    RepoLookup::Missing => None,
                };
                (repo.unwrap_or_else(|| format!("{owner}/{name}")), n)
            }
            ["repositories", id, "issues", n] => {
                let repo = id
                    .parse::<RepoId>()
                    .ok()
                    .and_then(|id| self.repos.get(&id))?;
                (self.full_name(repo), n)
            }
            _ => return None,
        };
        Some((repo, number.parse().ok()?))
    }

    /// The repository's id (for matching `/repositories/{id}/...` request paths).
    pub(crate) fn repo_id_of(&self, full_name: &str) -> Result<RepoId, FakeError> {
        self.repo_id_by_full(full_name)
    }

    pub(crate) fn issue_snapshot(&self, repo_id: RepoId, number: u64) -> Result<Issue, FakeError> {
        let repo = self
            .repos
            .get(&repo_id)
            .ok_or_else(|| FakeError::UnknownRepo(repo_id.to_string()))?;
        let issue = repo.issue(number).ok_or_else(|| FakeError::UnknownIssue {
            repo: self.full_name(repo),
            number,
        })?;
        Ok(self.snapshot_of(repo, &self.full_name(repo), issue))
    }

    fn snapshot_of(&self, repo: &RepoRec, full_name: &str, i: &IssueRec) -> Issue {
        let kind = if i.pull_request { "pull" } else { "issues" };
        Issue {
            id: i.id,
            number: i.number,
            title: i.title.clone(),
            body: i.body.clone(),
            state: i.state,
            state_reason: i.state_reason,
            labels: i
                .labels
                .iter()
                .filter_map(|&l| repo.labels.get(l as usize).map(|l| l.name.clone()))
                .collect(),
            pull_request: i.pull_request,
            author: self
                .accounts
                .get(&i.author)
                .map_or_else(|| "ghost".to_owned(), |a| a.login.clone()),
            html_url: format!("https://github.com/{full_name}/{kind}/{}", i.number),
            created_at: to_datetime(i.created_at),
            updated_at: to_datetime(i.updated_at),
            closed_at: i.closed_at.map(to_datetime),
        }
    }

    pub(crate) fn issues_of(&self, full_name: &str) -> Option<Vec<Issue>> {
        let id = self.repo_id_by_full(full_name).ok()?;
        let repo = &self.repos[&id];
        let full = self.full_name(repo);
        Some(
            repo.issues
                .iter()
                .filter(|i| i.gone.is_none())
                .map(|i| self.snapshot_of(repo, &full, i))
                .collect(),
        )
    }

    /// Looks an account up for rendering; a dangling id renders as GitHub's "ghost" user.
    pub(crate) fn account_or_ghost(&self, id: AccountId) -> Account {
        self.accounts.get(&id).cloned().unwrap_or_else(|| Account {
            id: 10137,
            login: "ghost".to_owned(),
            kind: AccountKind::User,
            members: Vec::new(),
            created_at: 0,
        })
    }
}

/// The route pattern a request path falls under, for `GET /_fake/stats`. Done by hand rather
/// than from actix's match info because faults answer before routing happens.
pub(crate) fn route_pattern(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["user"] => "/user",
        ["user", "repos"] => "/user/repos",
        ["rate_limit"] => "/rate_limit",
        ["orgs", _, "repos"] => "/orgs/{org}/repos",
        ["repos", _, _] => "/repos/{owner}/{repo}",
        ["repos", _, _, "issues"] => "/repos/{owner}/{repo}/issues",
        ["repos", _, _, "issues", _] => "/repos/{owner}/{repo}/issues/{issue_number}",
        ["repositories", _] => "/repositories/{id}",
        ["repositories", _, "issues"] => "/repositories/{id}/issues",
        ["repositories", _, "issues", _] => "/repositories/{id}/issues/{issue_number}",
        ["repos", _, _, "hooks"] => "/repos/{owner}/{repo}/hooks",
        ["repos", _, _, "hooks", _] => "/repos/{owner}/{repo}/hooks/{hook_id}",
        ["repos", _, _, "hooks", _, "pings"] => "/repos/{owner}/{repo}/hooks/{hook_id}/pings",
        ["repos", _, _, "hooks", _, "deliveries", _, "attempts"] => {
            "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"
        }
        ["repositories", _, "hooks"] => "/repositories/{id}/hooks",
        ["repositories", _, "hooks", _] => "/repositories/{id}/hooks/{hook_id}",
        ["repositories", _, "hooks", _, "pings"] => "/repositories/{id}/hooks/{hook_id}/pings",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> State {
        let mut s = State::default();
        s.add_user("t1", "alice").expect("user");
        s.add_org("acme").expect("org");
        s.add_org_member("acme", "alice").expect("member");
        s.create_repo("acme", "web", true, None).expect("repo");
        s
    }

    #[test]
    fn generated_issues_follow_the_requested_mix() {
        let mut s = world();
        let opts = GenerateIssues::new(12)
            .pull_request_every(4)
            .closed_every(3)
            .not_planned_every(2)
            .labels(["bug", "enhancement"]);
        let range = s.generate_issues("acme/web", &opts).expect("generate");
        assert_eq!(range, 1..13);
        let issues = s.issues_of("ACME/Web").expect("case-insensitive lookup");
        assert_eq!(issues.len(), 12);
        let prs: Vec<u64> = issues
            .iter()
            .filter(|i| i.pull_request)
            .map(|i| i.number)
            .collect();
        assert_eq!(prs, [4, 8, 12]);
        let closed: Vec<(u64, Option<StateReason>)> = issues
            .iter()
            .filter(|i| i.state == IssueState::Closed)
            .map(|i| (i.number, i.state_reason))
            .collect();
        assert_eq!(
            closed,
            [
                (3, Some(StateReason::Completed)),
                (6, Some(StateReason::NotPlanned)),
                (9, Some(StateReason::Completed)),
                (12, None),
            ]
        );
        assert_eq!(issues[0].labels, ["bug"]);
        assert_eq!(issues[1].labels, ["enhancement"]);
        assert!(
            issues
                .windows(2)
                .all(|w| w[0].created_at <= w[1].created_at)
        );
        assert!(issues.iter().all(|i| i.updated_at >= i.created_at));
        let ids: std::collections::HashSet<u64> = issues.iter().map(|i| i.id).collect();
        assert_eq!(ids.len(), 12);
    }

    #[test]
    fn rename_keeps_ids_and_redirects_old_name() {
        let mut s = world();
        s.generate_issues("acme/web", &GenerateIssues::new(3))
            .expect("generate");
        let before = s.issues_of("acme/web").expect("issues");
        let repo = s.rename_repo("acme/web", "site").expect("rename");
        assert_eq!(repo.full_name, "acme/site");
        assert_eq!(s.lookup_repo("acme", "web"), RepoLookup::Moved(repo.id));
        assert_eq!(s.lookup_repo("acme", "site"), RepoLookup::Found(repo.id));
        let after = s.issues_of("acme/site").expect("issues");
        assert_eq!(
            before.iter().map(|i| i.id).collect::<Vec<_>>(),
            after.iter().map(|i| i.id).collect::<Vec<_>>()
        );
        assert!(
            after[0]
                .html_url
                .starts_with("https://github.com/acme/site/issues/")
        );
        assert!(s.issues_of("acme/web").is_none());
        // Creating a repository under the old name takes it back from the redirect.
        s.create_repo("acme", "web", false, None)
            .expect("reuse name");
        assert!(matches!(s.lookup_repo("acme", "web"), RepoLookup::Found(id) if id != repo.id));
    }

    #[test]
    fn duplicate_names_and_bad_names_are_refused() {
        let mut s = world();
        assert_eq!(
            s.create_repo("acme", "WEB", false, None),
            Err(FakeError::NameTaken("acme/WEB".into()))
        );
        assert!(matches!(
            s.create_repo("nobody", "x", false, None),
            Err(FakeError::UnknownAccount(_))
        ));
        assert_eq!(sanitize_repo_name("my repo!").as_deref(), Ok("my-repo-"));
        assert!(sanitize_repo_name("  ").is_err());
    }

    #[test]
    fn close_and_reopen_set_githubs_fields() {
        let mut s = world();
        s.generate_issues("acme/web", &GenerateIssues::new(1))
            .expect("generate");
        let closed = s
            .set_issue_state_by_name("acme/web", 1, Some(StateReason::NotPlanned))
            .expect("close");
        assert_eq!(closed.state, IssueState::Closed);
        assert_eq!(closed.state_reason, Some(StateReason::NotPlanned));
        assert!(closed.closed_at.is_some());
        let reopened = s
            .set_issue_state_by_name("acme/web", 1, None)
            .expect("reopen");
        assert_eq!(reopened.state, IssueState::Open);
        assert_eq!(reopened.state_reason, Some(StateReason::Reopened));
        assert_eq!(reopened.closed_at, None);
        assert!(matches!(
            s.set_issue_state_by_name("acme/web", 2, None),
            Err(FakeError::UnknownIssue { number: 2, .. })
        ));
    }

    #[test]
    fn reset_keeps_counters_so_ids_are_not_reused() {
        let mut s = world();
        let first = s.lookup_repo("acme", "web");
        s.reset();
        assert_eq!(s.lookup_repo("acme", "web"), RepoLookup::Missing);
        s.add_user("t1", "alice").expect("user");
        let id = s.create_repo("alice", "web", false, None).expect("repo");
        assert_ne!(RepoLookup::Found(id), first);
    }

    #[test]
    fn routes_are_classified_by_pattern() {
        assert_eq!(
            route_pattern("/repos/a/b/issues"),
            "/repos/{owner}/{repo}/issues"
        );
        assert_eq!(
            route_pattern("/repositories/1/issues"),
            "/repositories/{id}/issues"
        );
        assert_eq!(route_pattern("/user"), "/user");
        assert_eq!(route_pattern("/nope/x"), "unknown");
    }
}
