//! Issues: list (the hot path), get, create, update.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use serde::Deserialize;
use serde_json::Value;

use super::{RepoPath, api_base, body_object, json, not_modified, resolve_repo};
use crate::{
    FakeGithub,
    errors::ApiError,
    gate::Viewer,
    model::{IssueState, NewIssue, StateReason},
    pagination::Paging,
    payloads::IssueWriter,
    state::{Gone, IssueRec, RepoId, State},
    util::{etag_for, parse_ts},
};

const LIST_DOCS: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const GET_DOCS: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
const CREATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
const UPDATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";

// ----- list --------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    state: Option<String>,
    since: Option<String>,
    sort: Option<String>,
    direction: Option<String>,
    per_page: Option<String>,
    page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StateFilter {
    Open,
    Closed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SortKey {
    Created,
    Updated,
}

/// The parsed, validated listing parameters (also the ETag key, with the repo version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Listing {
    state: StateFilter,
    since: Option<i64>,
    sort: SortKey,
    ascending: bool,
    paging: Paging,
}

impl Listing {
    fn parse(raw_query: &str) -> Result<Self, ApiError> {
        let q = web::Query::<ListQuery>::from_query(raw_query)
            .map(web::Query::into_inner)
            .unwrap_or_default();
        let state = match q.state.as_deref() {
            None | Some("open") => StateFilter::Open,
            Some("closed") => StateFilter::Closed,
            Some("all") => StateFilter::All,
            Some(_) => return Err(ApiError::validation("Issue", "state", "invalid", LIST_DOCS)),
        };
        // Every issue here has 0 comments, so `comments` orders like `created`.
        let sort = match q.sort.as_deref() {
            None | Some("created" | "comments") => SortKey::Created,
            Some("updated") => SortKey::Updated,
            Some(_) => return Err(ApiError::validation("Issue", "sort", "invalid", LIST_DOCS)),
        };
        let ascending = match q.direction.as_deref() {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(_) => {
                return Err(ApiError::validation(
                    "Issue",
                    "direction",
                    "invalid",
                    LIST_DOCS,
                ));
            }
        };
        let since = match q.since.as_deref() {
            None => None,
            Some(s) => Some(parse_ts(s).ok_or_else(|| {
                ApiError::invalid_request(
                    &format!("Invalid value for 'since': {s:?} is not a timestamp."),
                    LIST_DOCS,
                )
            })?),
        };
        Ok(Self {
            state,
            since,
            sort,
            ascending,
            paging: Paging::parse(q.per_page.as_deref(), q.page.as_deref()),
        })
    }

    fn admits(&self, issue: &IssueRec) -> bool {
        let state_ok = match self.state {
            StateFilter::All => true,
            StateFilter::Open => issue.state == IssueState::Open,
            StateFilter::Closed => issue.state == IssueState::Closed,
        };
        state_ok && self.since.is_none_or(|since| issue.updated_at >= since)
    }

    /// Indices into the repository's issues, filtered and ordered.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a fake repository holds far fewer than 2^32 issues"
    )]
    fn select(&self, issues: &[IssueRec]) -> Vec<u32> {
        let mut idx: Vec<u32> = issues
            .iter()
            .enumerate()
            .filter(|(_, i)| i.gone.is_none() && self.admits(i))
            .map(|(k, _)| k as u32)
            .collect();
        // The issue Vec is already in created order (see `RepoRec::issues`).
        if self.sort == SortKey::Updated {
            idx.sort_unstable_by_key(|&k| {
                let i = &issues[k as usize];
                (i.updated_at, i.number)
            });
        }
        if !self.ascending {
            idx.reverse();
        }
        idx
    }
}

pub(crate) async fn list_by_name(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (owner, repo) = path.into_inner();
    list(&req, &fake, viewer.id, RepoPath::Name { owner, repo })
}

pub(crate) async fn list_by_id(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    list(&req, &fake, viewer.id, RepoPath::Id(path.into_inner()))
}

fn list(
    req: &HttpRequest,
    fake: &FakeGithub,
    viewer: u64,
    path: RepoPath,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::parse(req.query_string())?;
    let api = api_base(req);
    let st = fake.lock();
    let repo_id = resolve_repo(&st, &path, viewer, req, LIST_DOCS)?;
    let repo = &st.repos[&repo_id];
    // Cheap key instead of hashing the body: a 304 then costs no rendering at all.
    let etag = etag_for(("issues", repo_id, repo.version, listing, &api));
    if let Some(resp) = not_modified(req, &etag) {
        return Ok(resp);
    }
    let selected = listing.select(&repo.issues);
    let total = selected.len();
    let page = &selected[listing.paging.range(total)];

    let mut body = Vec::with_capacity(2 + page.len() * 4096);
    body.push(b'[');
    let mut writer = IssueWriter::new(&api, &st, repo);
    for (n, &k) in page.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        writer.write(&mut body, &repo.issues[k as usize]);
    }
    body.push(b']');
    drop(writer);
    drop(st);

    let mut resp = json(StatusCode::OK, Some(&etag), body);
    let link_url = format!("{api}/repositories/{repo_id}/issues");
    if let Some(link) = listing
        .paging
        .link_header(&link_url, req.query_string(), total)
        && let Ok(value) = header::HeaderValue::from_str(&link)
    {
        resp.headers_mut().insert(header::LINK, value);
    }
    Ok(resp)
}

// ----- single issue ------------------------------------------------------------------------

/// The ETag of one issue: its own version (see `IssueRec::version`) and what else its
/// rendering shows (the repository's current name, in every URL of the issue).
fn issue_etag(api: &str, st: &State, repo_id: RepoId, number: u64) -> Option<String> {
    let repo = st.repos.get(&repo_id)?;
    let issue = repo.issue(number)?;
    Some(etag_for((
        "issue",
        repo_id,
        issue.number,
        issue.version,
        st.full_name(repo),
        api,
    )))
}

fn render_one(api: &str, st: &State, repo_id: RepoId, number: u64) -> Option<Vec<u8>> {
    let repo = st.repos.get(&repo_id)?;
    let issue = repo.issue(number)?;
    let mut body = Vec::with_capacity(4096);
    IssueWriter::new(api, st, repo).write(&mut body, issue);
    Some(body)
}

/// A deleted issue answers `410`, a transferred one redirects to where it went (301 for reads,
/// 307 for writes), like GitHub.
fn gone_check(
    req: &HttpRequest,
    repo: &crate::state::RepoRec,
    number: u64,
    docs: &'static str,
) -> Result<(), ApiError> {
    match repo.issue_any(number).and_then(|i| i.gone) {
        None => Ok(()),
        Some(Gone::Deleted) => Err(ApiError::Gone("This issue was deleted.", docs)),
        Some(Gone::Transferred { repo, number }) => Err(ApiError::Moved {
            location: format!("{}/repositories/{repo}/issues/{number}", api_base(req)),
            permanent: req.method() == actix_web::http::Method::GET,
        }),
    }
}

fn parse_number(raw: &str, docs: &'static str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(docs))
}

pub(crate) async fn get_by_name(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (owner, repo, number) = path.into_inner();
    get(
        &req,
        &fake,
        viewer.id,
        RepoPath::Name { owner, repo },
        &number,
    )
}

pub(crate) async fn get_by_id(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    get(&req, &fake, viewer.id, RepoPath::Id(id), &number)
}

fn get(
    req: &HttpRequest,
    fake: &FakeGithub,
    viewer: u64,
    path: RepoPath,
    number: &str,
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(number, GET_DOCS)?;
    let api = api_base(req);
    let st = fake.lock();
    let repo_id = resolve_repo(&st, &path, viewer, req, GET_DOCS)?;
    let repo = &st.repos[&repo_id];
    gone_check(req, repo, number, GET_DOCS)?;
    let etag = issue_etag(&api, &st, repo_id, number).ok_or(ApiError::NotFound(GET_DOCS))?;
    // Checked before rendering: a 304 costs nothing here, and nothing of the rate limit
    // (see `gate.rs`).
    if let Some(resp) = not_modified(req, &etag) {
        return Ok(resp);
    }
    let body = render_one(&api, &st, repo_id, number).ok_or(ApiError::NotFound(GET_DOCS))?;
    Ok(json(StatusCode::OK, Some(&etag), body))
}

// ----- create ------------------------------------------------------------------------------

fn string_list(
    value: Option<&Value>,
    field: &str,
    docs: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let Value::Array(items) = value else {
        return Err(ApiError::invalid_request(
            &format!("For 'properties/{field}', {value} is not an array."),
            docs,
        ));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.clone()),
            // Labels may also be given as objects with a name.
            Value::Object(o) => o
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::validation("Label", "name", "missing_field", docs)),
            other => Err(ApiError::invalid_request(
                &format!("For 'items', {other} is not a string."),
                docs,
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn optional_string(
    value: Option<&Value>,
    field: &str,
    docs: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(ApiError::invalid_request(
            &format!("For 'properties/{field}', {other} is not a string or null."),
            docs,
        )),
    }
}

/// GitHub accepts a string or an integer title.
fn title_of(value: Option<&Value>, docs: &str) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(other) => Err(ApiError::invalid_request(
            &format!("For 'properties/title', {other} is not a string or integer."),
            docs,
        )),
    }
}

pub(crate) async fn create_by_name(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (owner, repo) = path.into_inner();
    create(
        &req,
        &fake,
        viewer.id,
        RepoPath::Name { owner, repo },
        &body,
    )
}

pub(crate) async fn create_by_id(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    create(
        &req,
        &fake,
        viewer.id,
        RepoPath::Id(path.into_inner()),
        &body,
    )
}

fn create(
    req: &HttpRequest,
    fake: &FakeGithub,
    viewer: u64,
    path: RepoPath,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let body = body_object(body, CREATE_DOCS)?;
    let title = title_of(body.get("title"), CREATE_DOCS)?
        .ok_or_else(|| ApiError::invalid_request("\"title\" wasn't supplied.", CREATE_DOCS))?;
    if title.trim().is_empty() {
        return Err(ApiError::validation(
            "Issue",
            "title",
            "missing_field",
            CREATE_DOCS,
        ));
    }
    let issue_body = optional_string(body.get("body"), "body", CREATE_DOCS)?.flatten();
    let labels = string_list(body.get("labels"), "labels", CREATE_DOCS)?.unwrap_or_default();

    let api = api_base(req);
    let mut st = fake.lock();
    let repo_id = resolve_repo(&st, &path, viewer, req, CREATE_DOCS)?;
    // Like GitHub, labels from users without push access are silently dropped.
    let labels = if st.has_access(&st.repos[&repo_id], viewer) {
        labels
    } else {
        Vec::new()
    };
    let new = NewIssue {
        title,
        body: issue_body,
        labels,
        pull_request: false,
        author: None,
    };
    let number = st
        .create_issue(repo_id, new, viewer)
        .map_err(|_| ApiError::NotFound(CREATE_DOCS))?;
    let rendered = render_one(&api, &st, repo_id, number).ok_or(ApiError::NotFound(CREATE_DOCS))?;
    let location = format!(
        "{api}/repos/{}/issues/{number}",
        st.full_name(&st.repos[&repo_id])
    );
    let etag = issue_etag(&api, &st, repo_id, number);
    drop(st);
    let mut resp = json(StatusCode::CREATED, etag.as_deref(), rendered);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    Ok(resp)
}

// ----- update ------------------------------------------------------------------------------

pub(crate) async fn update_by_name(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (owner, repo, number) = path.into_inner();
    update(
        &req,
        &fake,
        viewer.id,
        RepoPath::Name { owner, repo },
        &number,
        &body,
    )
}

pub(crate) async fn update_by_id(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    update(&req, &fake, viewer.id, RepoPath::Id(id), &number, &body)
}

/// `PATCH`: title, body, labels, and `state`/`state_reason` (close with `completed` or
/// `not_planned`, reopen with `open`).
fn update(
    req: &HttpRequest,
    fake: &FakeGithub,
    viewer: u64,
    path: RepoPath,
    number: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(number, UPDATE_DOCS)?;
    let body = body_object(body, UPDATE_DOCS)?;
    let title = title_of(body.get("title"), UPDATE_DOCS)?;
    if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ApiError::validation(
            "Issue",
            "title",
            "missing_field",
            UPDATE_DOCS,
        ));
    }
    let issue_body = optional_string(body.get("body"), "body", UPDATE_DOCS)?;
    let labels = string_list(body.get("labels"), "labels", UPDATE_DOCS)?;
    let reason = match body.get("state_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(StateReason::parse(s).ok_or_else(|| {
            ApiError::validation("Issue", "state_reason", "invalid", UPDATE_DOCS)
        })?),
        Some(_) => {
            return Err(ApiError::validation(
                "Issue",
                "state_reason",
                "invalid",
                UPDATE_DOCS,
            ));
        }
    };
    let state = match body.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "open" => Some(IssueState::Open),
        Some(Value::String(s)) if s == "closed" => Some(IssueState::Closed),
        Some(_) => {
            return Err(ApiError::validation(
                "Issue",
                "state",
                "invalid",
                UPDATE_DOCS,
            ));
        }
    };

    let api = api_base(req);
    let mut st = fake.lock();
    let repo_id = resolve_repo(&st, &path, viewer, req, UPDATE_DOCS)?;
    let (has_access, current) = {
        let repo = &st.repos[&repo_id];
        gone_check(req, repo, number, UPDATE_DOCS)?;
        let issue = repo.issue(number).ok_or(ApiError::NotFound(UPDATE_DOCS))?;
        (
            st.has_access(repo, viewer) || issue.author == viewer,
            issue.state,
        )
    };
    if !has_access {
        return Err(ApiError::Forbidden(
            "Must have admin rights to Repository.",
            UPDATE_DOCS,
        ));
    }
    let not_found = |_| ApiError::NotFound(UPDATE_DOCS);
    if title.is_some() || issue_body.is_some() || labels.is_some() {
        st.edit_issue(repo_id, number, title, issue_body, labels, viewer)
            .map_err(not_found)?;
    }
    match (state, reason) {
        (Some(IssueState::Closed), r) => {
            let r = r
                .filter(|r| *r != StateReason::Reopened)
                .unwrap_or(StateReason::Completed);
            st.set_issue_state(repo_id, number, Some(r), viewer)
                .map_err(not_found)?;
        }
        (Some(IssueState::Open), _) => {
            st.set_issue_state(repo_id, number, None, viewer)
                .map_err(not_found)?;
        }
        // A new reason for an already closed issue.
        (None, Some(r)) if current == IssueState::Closed && r != StateReason::Reopened => {
            st.set_issue_state(repo_id, number, Some(r), viewer)
                .map_err(not_found)?;
        }
        (None, _) => {}
    }
    let rendered = render_one(&api, &st, repo_id, number).ok_or(ApiError::NotFound(UPDATE_DOCS))?;
    let etag = issue_etag(&api, &st, repo_id, number);
    drop(st);
    Ok(json(StatusCode::OK, etag.as_deref(), rendered))
}
