//! [`GithubClient`]: the endpoints pmhub uses, on top of `transport.rs`.

use crate::errors::{self, redact};
use crate::etag_cache::EtagCache;
use crate::rate_gate::RateGate;
use crate::shared::SharedThrottle;
use crate::transport::{Answer, BuildError, Transport};
use crate::wire::{
    self, CreateHookBody, CreateIssueBody, CreateRepoBody, HookConfig, RepoPage, UpdateIssueBody,
    WireHook, WireIssue, WireRepo, WireUser,
};
use crate::{GithubConfig, pagination};
use async_trait::async_trait;
use pm_integrations::{
    GithubApi, GithubIssue, GithubRepo, GithubUser, HookRegistration, IssuePage, IssuePageRequest,
    IssuePatch, IssueRead, NewHook, NewIssue, NewRepoOptions,
};
use pm_kernel::GithubError;
use pm_projects::RepoFullName;
use reqwest::header::ETAG;
use reqwest::{Method, StatusCode};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::SystemTime;
use url::Url;

/// GitHub's page size limit; fewer, larger pages spare the rate limit.
const PER_PAGE: &str = "100";
/// `GET /user/repos` stops here (100,000 repositories): a guard against a server
/// whose `next` links never end.
const MAX_REPO_PAGES: usize = 1_000;
/// GitHub's limit on repository names.
const MAX_REPO_NAME_CHARS: usize = 100;
const SUFFIX_LEN: usize = 4;
const SUFFIX_ALPHABET: [char; 36] = [
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's',
    't', 'u', 'v', 'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
];

/// GitHub's REST API over HTTPS (reqwest + rustls/ring). Holds no token: each call
/// gets the token of the workspace it acts for. Cheap to share behind an `Arc`.
pub struct GithubClient {
    transport: Transport,
    /// ETags of list pages, per (token, URL).
    cache: EtagCache,
    /// Tokens GitHub said are rate limited, until when (this process's view).
    gate: RateGate,
    /// The same, and create pacing, shared by every instance (PostgreSQL).
    shared: Option<SharedThrottle>,
}

impl fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubClient")
            .field("api_url", &self.transport.config().api_url.as_str())
            .field("user_agent", &self.transport.config().user_agent)
            .finish_non_exhaustive()
    }
}

/// What `POST /orgs/{org}/repos` did with one name.
enum Created {
    Repo(GithubRepo),
    NameTaken,
}

impl GithubClient {
    /// Fails when `api_url` is not an http(s) URL with a host, the user agent is
    /// empty or not a valid header value, or the TLS stack cannot be set up.
    pub fn new(config: GithubConfig) -> Result<Self, BuildError> {
        Ok(Self {
            transport: Transport::new(config)?,
            cache: EtagCache::new(EtagCache::DEFAULT_MAX_ENTRIES, EtagCache::DEFAULT_MAX_BYTES),
            gate: RateGate::new(),
            shared: None,
        })
    }

    /// Shares the rate-limit gate with every instance on the same store and
    /// paces content-creating calls (POSTs) per token through it. Without it,
    /// the gate is per process and creates are not paced here.
    pub fn with_shared_throttle(mut self, shared: SharedThrottle) -> Self {
        self.shared = Some(shared);
        self
    }

    pub fn config(&self) -> &GithubConfig {
        self.transport.config()
    }

    /// `api_url` + the segments, each percent-encoded, keeping any path prefix
    /// (`/api/v3` on GitHub Enterprise Server).
    fn endpoint(&self, segments: &[&str]) -> Result<Url, GithubError> {
        let mut url = self.config().api_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| GithubError::Unavailable {
                status: None,
                reason: "the configured GitHub API URL cannot take a path".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn paged_endpoint(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Url, GithubError> {
        let mut url = self.endpoint(segments)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// A `next` link, accepted only on the API's own scheme, host and port, so the
    /// token is never sent anywhere else (a link is data from the network, or from
    /// whoever stored it).
    fn follow(&self, link: &str) -> Result<Url, GithubError> {
        let url = Url::parse(link).map_err(|_| GithubError::Unavailable {
            status: None,
            reason: "GitHub sent a next-page link that is not a URL".into(),
        })?;
        if url.origin() != self.config().api_url.origin() {
            return Err(GithubError::Unavailable {
                status: None,
                reason: "refused to follow a next-page link to another host than the configured GitHub API".into(),
            });
        }
        Ok(url)
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        token: &SecretString,
        url: &Url,
        what: &str,
    ) -> Result<T, GithubError> {
        let answer = self
            .transport
            .send(token, Method::GET, url, None, None)
            .await?;
        self.observe(token, &answer);
        let answer = success(answer)?;
        wire::parse(&answer.body, what)
    }

    /// GET of a list page with `If-None-Match` when the page is cached; a 304 is
    /// answered from the cache (`Paged::not_modified`). `parse` gets the body and
    /// the `next` link.
    async fn get_page<T, F>(
        &self,
        token: &SecretString,
        url: &Url,
        parse: F,
    ) -> Result<Paged<T>, GithubError>
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(&[u8], Option<String>) -> Result<T, GithubError>,
    {
        let key = self.cache.key(token, url);
        let mut etag = self.cache.etag(key);
        loop {
            let answer = self
                .transport
                .send(token, Method::GET, url, None, etag.as_deref())
                .await?;
            self.observe(token, &answer);
            if answer.status == StatusCode::NOT_MODIFIED
                && let Some(sent) = etag.take()
            {
                if let Some(page) = self.cache.page::<T>(key, &sent) {
                    tracing::debug!(path = url.path(), "GitHub page unchanged (304)");
                    return Ok(Paged {
                        page,
                        not_modified: true,
                    });
                }
                // Evicted or replaced while in flight: ask again, unconditionally
                // (a 304 to that request falls through to an error below).
                continue;
            }
            let answer = success(answer)?;
            let page = parse(&answer.body, pagination::next_link(&answer.headers))?;
            if let Some(new_etag) = answer.headers.get(ETAG).and_then(|v| v.to_str().ok()) {
                self.cache
                    .insert(key, new_etag.to_string(), page.clone(), answer.body.len());
            }
            return Ok(Paged {
                page,
                not_modified: false,
            });
        }
    }

    async fn post<B: Serialize>(
        &self,
        token: &SecretString,
        url: &Url,
        body: &B,
    ) -> Result<Answer, GithubError> {
        self.write(token, Method::POST, url, body).await
    }

    /// A content-creating request (every POST and PATCH pmhub sends): paced to one
    /// slot per interval per token across instances (GitHub asks for at least a
    /// second between writes), then sent with the write retry rules of
    /// `transport.rs`. The encoded body is wiped afterwards (a hook's holds its
    /// secret).
    async fn write<B: Serialize>(
        &self,
        token: &SecretString,
        method: Method,
        url: &Url,
        body: &B,
    ) -> Result<Answer, GithubError> {
        let json =
            Zeroizing::new(
                serde_json::to_vec(body).map_err(|e| GithubError::Unavailable {
                    status: None,
                    reason: format!("could not encode the request: {e}"),
                })?,
            );
        if let Some(shared) = &self.shared
            && shared.pace_create(token).await
        {
            // The wait may have been long: a limit seen meanwhile still holds.
            self.gate.check(token)?;
            shared.check(token, &self.gate).await?;
        }
        let answer = self
            .transport
            .send(token, method, url, Some(&json), None)
            .await?;
        self.observe(token, &answer);
        Ok(answer)
    }

    /// Reports the rate limit GitHub says is left for the token, labelled by its
    /// short fingerprint (only known with a shared throttle).
    fn observe(&self, token: &SecretString, answer: &Answer) {
        if let Some(shared) = &self.shared {
            let key = shared.fingerprint.fingerprint(token);
            crate::metrics::rate_limit_remaining(key.short(), &answer.headers);
        }
    }

    async fn fetch_current_user(&self, token: &SecretString) -> Result<GithubUser, GithubError> {
        let url = self.endpoint(&["user"])?;
        let user: WireUser = self.get_json(token, &url, "user").await?;
        Ok(user.into())
    }

    async fn fetch_repos(&self, token: &SecretString) -> Result<Vec<GithubRepo>, GithubError> {
        let mut url = self.paged_endpoint(&["user", "repos"], &[("per_page", PER_PAGE)])?;
        let mut repos = Vec::new();
        for _ in 0..MAX_REPO_PAGES {
            let page: RepoPage = self
                .get_page(token, &url, wire::parse_repo_page)
                .await?
                .page;
            repos.extend(page.repos);
            match page.next {
                None => return Ok(repos),
                Some(next) => {
                    let next = self.follow(&next)?;
                    if next == url {
                        return Err(GithubError::Unavailable {
                            status: None,
                            reason: "GitHub's next-page link points to the same page".into(),
                        });
                    }
                    url = next;
                }
            }
        }
        Err(GithubError::Unavailable {
            status: None,
            reason: format!("more than {MAX_REPO_PAGES} pages of repositories"),
        })
    }

    async fn fetch_repo(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
    ) -> Result<GithubRepo, GithubError> {
        let url = self.endpoint(&["repos", repo.owner(), repo.name()])?;
        let repo: WireRepo = self.get_json(token, &url, "repository").await?;
        Ok(repo.into())
    }

    async fn fetch_issues(
        &self,
        token: &SecretString,
        page: &IssuePageRequest,
    ) -> Result<IssuePage, GithubError> {
        let url = match page {
            // Oldest first: imported tasks are numbered in the issues' order, and
            // issues opened during an import land on the last page instead of
            // shifting every page after the first (GitHub's default is newest first).
            IssuePageRequest::First { repo } => self.paged_endpoint(
                &["repos", repo.owner(), repo.name(), "issues"],
                &[
                    ("state", "all"),
                    ("sort", "created"),
                    ("direction", "asc"),
                    ("per_page", PER_PAGE),
                ],
            )?,
            // The reconcile: least recently updated first, so a run cut short by a
            // rate limit has merged everything up to where it stopped.
            IssuePageRequest::UpdatedSince { repo, since } => {
                let since = since
                    .format(&time::format_description::well_known::Rfc3339)
                    .map_err(|e| GithubError::Rejected {
                        status: None,
                        message: format!("cannot format since: {e}"),
                    })?;
                self.paged_endpoint(
                    &["repos", repo.owner(), repo.name(), "issues"],
                    &[
                        ("state", "all"),
                        ("sort", "updated"),
                        ("direction", "asc"),
                        ("since", since.as_str()),
                        ("per_page", PER_PAGE),
                    ],
                )?
            }
            IssuePageRequest::Next { url } => self.follow(url)?,
        };
        let paged = self.get_page(token, &url, wire::parse_issue_page).await?;
        Ok(IssuePage {
            not_modified: paged.not_modified,
            ..paged.page
        })
    }

    fn issue_url(&self, repo: &RepoFullName, number: i64) -> Result<Url, GithubError> {
        if number < 1 {
            return Err(GithubError::Rejected {
                status: None,
                message: format!("{number} is not an issue number"),
            });
        }
        self.endpoint(&[
            "repos",
            repo.owner(),
            repo.name(),
            "issues",
            &number.to_string(),
        ])
    }

    /// `GET /repos/{o}/{r}/issues/{n}`, conditional on `etag`.
    ///
    /// - 200 → `Found`, with the `ETag` to send next time. A transferred issue
    ///   answers 301 to `/repositories/{id}/issues/{n}` on the same host; the
    ///   transport follows it (with the token: same origin), and the issue's
    ///   `repo_full_name` (from its `repository_url`) names where it is now.
    /// - 304 → `NotModified` (costs no rate limit, API-FACTS §6). A 304 reached
    ///   through a redirect is asked again without the ETag: the caller's copy is
    ///   of the old location, and it must learn where the issue went.
    /// - 410 → `Deleted`, except GitHub's 410 for a repository whose issues are
    ///   disabled (every issue would look deleted): that one is `NotFound`.
    /// - 404, or a pull request (GitHub serves PRs on this route too) → `Missing`.
    async fn fetch_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        etag: Option<String>,
    ) -> Result<IssueRead, GithubError> {
        let url = self.issue_url(repo, number)?;
        let mut etag = etag.filter(|e| !e.trim().is_empty());
        loop {
            let answer = self
                .transport
                .send(token, Method::GET, &url, None, etag.as_deref())
                .await?;
            self.observe(token, &answer);
            match answer.status {
                StatusCode::NOT_MODIFIED if etag.is_some() => {
                    if answer.url == url {
                        return Ok(IssueRead::NotModified);
                    }
                    etag = None;
                }
                StatusCode::NOT_FOUND => return Ok(IssueRead::Missing),
                StatusCode::GONE if !errors::is_issues_disabled(&answer.body) => {
                    return Ok(IssueRead::Deleted);
                }
                _ => {
                    let answer = success(answer)?;
                    let issue: WireIssue = wire::parse(&answer.body, "issue")?;
                    if issue.is_pull_request() {
                        return Ok(IssueRead::Missing);
                    }
                    let etag = answer
                        .headers
                        .get(ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    return Ok(IssueRead::Found {
                        issue: Box::new(issue.into()),
                        etag,
                    });
                }
            }
        }
    }

    /// `PATCH /repos/{o}/{r}/issues/{n}` with only the fields the patch sets. A
    /// 422 is `Rejected` with GitHub's message; 404/410 are `NotFound`.
    async fn patch_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        patch: &IssuePatch,
    ) -> Result<GithubIssue, GithubError> {
        if patch.is_empty() {
            return Err(GithubError::Rejected {
                status: None,
                message: "an empty issue patch is not sent".into(),
            });
        }
        let url = self.issue_url(repo, number)?;
        let body = UpdateIssueBody::from(patch);
        let answer = success(self.write(token, Method::PATCH, &url, &body).await?)?;
        let issue: WireIssue = wire::parse(&answer.body, "issue")?;
        Ok(issue.into())
    }

    /// `POST /repos/{o}/{r}/hooks`: a `web` hook sending `issues` and `repository`
    /// (or whatever `hook.events` says) as JSON, signed with the secret, TLS
    /// verified. GitHub's 422 "Hook already exists on this repository" (same URL)
    /// is `AlreadyExists`; without admin rights GitHub answers 404 or 403.
    async fn post_hook(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        hook: &NewHook,
    ) -> Result<HookRegistration, GithubError> {
        let url = self.endpoint(&["repos", repo.owner(), repo.name(), "hooks"])?;
        let body = CreateHookBody {
            name: "web",
            active: true,
            events: &hook.events,
            config: HookConfig {
                url: &hook.url,
                content_type: "json",
                secret: &hook.secret,
                insecure_ssl: "0",
            },
        };
        let answer = self.post(token, &url, &body).await?;
        if errors::is_hook_exists(answer.status, &answer.body) {
            return Ok(HookRegistration::AlreadyExists);
        }
        let answer = success(answer)?;
        let created: WireHook = wire::parse(&answer.body, "hook")?;
        Ok(HookRegistration::Created { id: created.id })
    }

    async fn post_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        issue: &NewIssue,
    ) -> Result<GithubIssue, GithubError> {
        let url = self.endpoint(&["repos", repo.owner(), repo.name(), "issues"])?;
        let body = CreateIssueBody {
            title: &issue.title,
            body: &issue.body,
            labels: &issue.labels,
        };
        let answer = success(self.post(token, &url, &body).await?)?;
        let created: WireIssue = wire::parse(&answer.body, "issue")?;
        Ok(created.into())
    }

    async fn post_org_repo(
        &self,
        token: &SecretString,
        org: &str,
        name: &str,
        options: &NewRepoOptions,
    ) -> Result<GithubRepo, GithubError> {
        if !is_valid_login(org) {
            return Err(GithubError::Rejected {
                status: None,
                message: "the organization name is not a valid GitHub login".into(),
            });
        }
        let url = self.endpoint(&["orgs", org, "repos"])?;
        if let Created::Repo(repo) = self.try_create_repo(token, &url, name, options).await? {
            return Ok(repo);
        }
        // One retry with a random suffix; a second clash is reported, not looped on.
        let renamed = with_suffix(name);
        tracing::debug!(
            org,
            name,
            renamed,
            "repository name taken; retrying with a suffix"
        );
        match self.try_create_repo(token, &url, &renamed, options).await? {
            Created::Repo(repo) => Ok(repo),
            Created::NameTaken => Err(GithubError::RepoNameTaken {
                name: name.to_string(),
            }),
        }
    }

    async fn try_create_repo(
        &self,
        token: &SecretString,
        url: &Url,
        name: &str,
        options: &NewRepoOptions,
    ) -> Result<Created, GithubError> {
        let body = CreateRepoBody {
            name,
            private: true,
            description: options.description.as_deref(),
        };
        let answer = self.post(token, url, &body).await?;
        if errors::is_name_taken(answer.status, &answer.body) {
            return Ok(Created::NameTaken);
        }
        let answer = success(answer)?;
        let repo: WireRepo = wire::parse(&answer.body, "repository")?;
        Ok(Created::Repo(repo.into()))
    }
}

#[async_trait]
impl GithubApi for GithubClient {
    fn host(&self) -> String {
        self.config().display_host()
    }

    async fn current_user(&self, token: &SecretString) -> Result<GithubUser, GithubError> {
        self.guarded(token, self.fetch_current_user(token)).await
    }

    async fn list_repos(&self, token: &SecretString) -> Result<Vec<GithubRepo>, GithubError> {
        self.guarded(token, self.fetch_repos(token)).await
    }

    async fn get_repo(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
    ) -> Result<GithubRepo, GithubError> {
        self.guarded(token, self.fetch_repo(token, repo)).await
    }

    async fn list_issues(
        &self,
        token: &SecretString,
        page: &IssuePageRequest,
    ) -> Result<IssuePage, GithubError> {
        self.guarded(token, self.fetch_issues(token, page)).await
    }

    async fn create_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        issue: &NewIssue,
    ) -> Result<GithubIssue, GithubError> {
        self.guarded(token, self.post_issue(token, repo, issue))
            .await
    }

    async fn get_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        etag: Option<String>,
    ) -> Result<IssueRead, GithubError> {
        self.guarded(token, self.fetch_issue(token, repo, number, etag))
            .await
    }

    async fn update_issue(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        number: i64,
        patch: &IssuePatch,
    ) -> Result<GithubIssue, GithubError> {
        self.guarded(token, self.patch_issue(token, repo, number, patch))
            .await
    }

    async fn create_hook(
        &self,
        token: &SecretString,
        repo: &RepoFullName,
        hook: &NewHook,
    ) -> Result<HookRegistration, GithubError> {
        // The secret is scrubbed from any error too, like the token (GitHub does
        // not echo it; a misbehaving server or proxy could).
        self.guarded(token, self.post_hook(token, repo, hook))
            .await
            .map_err(|e| redact(e, hook.secret.expose_secret()))
    }

    async fn create_org_repo(
        &self,
        token: &SecretString,
        org: &str,
        name: &str,
        options: &NewRepoOptions,
    ) -> Result<GithubRepo, GithubError> {
        self.guarded(token, self.post_org_repo(token, org, name, options))
            .await
    }
}

/// A list page and whether it came from the ETag cache (GitHub answered 304).
struct Paged<T> {
    page: T,
    not_modified: bool,
}

/// The answer if it is a 2xx, else its error.
fn success(answer: Answer) -> Result<Answer, GithubError> {
    if answer.status.is_success() {
        Ok(answer)
    } else {
        Err(errors::from_response(
            answer.status,
            &answer.headers,
            &answer.body,
            SystemTime::now(),
        ))
    }
}

impl GithubClient {
    /// Every call: refused at once while the token is rate limited (in this
    /// process, or in the shared store when there is one); a rate limit GitHub
    /// reports is remembered (in both); the token is scrubbed from any error.
    async fn guarded<T>(
        &self,
        token: &SecretString,
        call: impl std::future::Future<Output = Result<T, GithubError>>,
    ) -> Result<T, GithubError> {
        self.gate.check(token)?;
        if let Some(shared) = &self.shared {
            shared.check(token, &self.gate).await?;
        }
        let result = call.await;
        self.gate.record(token, &result);
        if let Some(shared) = &self.shared {
            shared.record(token, &result).await;
        }
        result.map_err(|e| redact(e, token.expose_secret()))
    }
}

/// GitHub logins: 1-39 ASCII letters, digits or hyphens. Checked because the org
/// goes into the URL path.
fn is_valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `{name}-{4 random [a-z0-9]}`, the name shortened so the result stays within
/// GitHub's 100 characters.
fn with_suffix(name: &str) -> String {
    let suffix = nanoid::nanoid!(SUFFIX_LEN, &SUFFIX_ALPHABET);
    let base: String = name
        .chars()
        .take(MAX_REPO_NAME_CHARS - SUFFIX_LEN - 1)
        .collect();
    format!("{base}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(api: &str) -> GithubClient {
        GithubClient::new(GithubConfig::new(Url::parse(api).unwrap())).unwrap()
    }

    #[test]
    fn endpoints_keep_the_path_prefix() {
        let ghes = client("https://ghe.example.com/api/v3/");
        assert_eq!(
            ghes.endpoint(&["repos", "o", "r", "issues"])
                .unwrap()
                .as_str(),
            "https://ghe.example.com/api/v3/repos/o/r/issues"
        );
        let ghes = client("https://ghe.example.com/api/v3");
        assert_eq!(
            ghes.endpoint(&["user"]).unwrap().as_str(),
            "https://ghe.example.com/api/v3/user"
        );
        let dotcom = client("https://api.github.com");
        assert_eq!(
            dotcom
                .paged_endpoint(&["user", "repos"], &[("per_page", "100")])
                .unwrap()
                .as_str(),
            "https://api.github.com/user/repos?per_page=100"
        );
    }

    #[test]
    fn segments_are_encoded_not_interpreted() {
        let c = client("https://api.github.com");
        let url = c.endpoint(&["orgs", "a/../b", "repos"]).unwrap();
        assert_eq!(url.path(), "/orgs/a%2F..%2Fb/repos");
    }

    #[test]
    fn follow_accepts_only_the_api_origin() {
        let c = client("https://api.github.com");
        assert!(
            c.follow("https://api.github.com/repositories/1/issues?page=2")
                .is_ok()
        );
        assert!(
            c.follow("https://api.github.com:443/repositories/1/issues")
                .is_ok()
        );
        for bad in [
            "http://api.github.com/repositories/1/issues",
            "https://api.github.com:8443/repositories/1/issues",
            "https://evil.example.com/repositories/1/issues",
            "https://api.github.com.evil.example.com/x",
            "/repositories/1/issues",
            "not a url",
        ] {
            assert!(
                matches!(c.follow(bad), Err(GithubError::Unavailable { .. })),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn suffixed_names() {
        let renamed = with_suffix("billing");
        let (base, suffix) = renamed.rsplit_once('-').unwrap();
        assert_eq!(base, "billing");
        assert_eq!(suffix.len(), SUFFIX_LEN);
        assert!(
            suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(with_suffix(&"x".repeat(100)).len(), MAX_REPO_NAME_CHARS);
    }

    #[test]
    fn logins() {
        assert!(is_valid_login("auditmos-projects"));
        assert!(!is_valid_login(""));
        assert!(!is_valid_login("a/b"));
        assert!(!is_valid_login(&"a".repeat(40)));
    }

    #[test]
    fn debug_shows_no_secrets() {
        let c = client("https://api.github.com");
        let text = format!("{c:?}");
        assert!(text.contains("api.github.com"));
        assert!(!text.to_lowercase().contains("bearer"));
    }
}
