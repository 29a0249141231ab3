//! The control API under `/_fake` (no authentication, never subject to faults).
//!
//! | Method & path | Body | Answer |
//! |---|---|---|
//! | `POST /_fake/users` | `{token, login}` | 201 `{id, login}` |
//! | `POST /_fake/orgs` | `{login, members?: [login]}` | 201 `{id, login}` |
//! | `POST /_fake/orgs/{org}/members` | `{login}` | 204 |
//! | `POST /_fake/orgs/{org}/reject-names` | `{count}` | 200 `{org, pending}` |
//! | `POST /_fake/repos` | `{owner, name, private?, description?}` | 201 repository snapshot |
//! | `GET /_fake/repos/{o}/{r}` | | repository snapshot |
//! | `GET /_fake/repos/{o}/{r}/issues` | | issue snapshots |
//! | `POST /_fake/repos/{o}/{r}/issues` | `{title, body?, labels?, pull_request?, author?}` | 201 issue snapshot |
//! | `POST /_fake/repos/{o}/{r}/issues/generate` | `{count, pull_request_every?, closed_every?, not_planned_every?, labels?}` | 201 `{created, first_number, last_number}` |
//! | `POST /_fake/repos/{o}/{r}/rename` | `{name}` | 200 repository snapshot |
//! | `POST /_fake/repos/{o}/{r}/issues/{n}/close` | `{reason?: "completed"\|"not_planned"}` | 200 issue snapshot |
//! | `POST /_fake/repos/{o}/{r}/issues/{n}/reopen` | | 200 issue snapshot |
//! | `POST /_fake/faults` | [`FaultSettings`] (merged) | 200 faults in force |
//! | `GET /_fake/faults` | | 200 faults in force |
//! | `DELETE /_fake/faults` | | 204 |
//! | `GET /_fake/stats` | | `{requests, by_route}` |
//! | `GET /_fake/requests` | | `[{method, path, query}]` |
//! | `POST /_fake/seed` | [`crate::Seed`] | 204 |
//! | `POST /_fake/reset` | | 204 |
//!
//! Errors answer `{"message": "..."}` with 400 (bad body), 404 (unknown user, org, repository
//! or issue), 409 (name taken) or 422 (invalid name).

use actix_web::{HttpResponse, Scope, http::StatusCode, web};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::json;

use crate::{
    FakeGithub,
    faults::FaultSettings,
    model::{FakeError, GenerateIssues, NewIssue, Seed, StateReason},
};

pub(crate) fn scope() -> Scope {
    web::scope("/_fake")
        .route("/users", web::post().to(add_user))
        .route("/orgs", web::post().to(add_org))
        .route("/orgs/{org}/members", web::post().to(add_member))
        .route("/orgs/{org}/reject-names", web::post().to(reject_names))
        .route("/repos", web::post().to(add_repo))
        .route("/repos/{owner}/{repo}", web::get().to(get_repo))
        .route("/repos/{owner}/{repo}/issues", web::get().to(list_issues))
        .route("/repos/{owner}/{repo}/issues", web::post().to(add_issue))
        .route(
            "/repos/{owner}/{repo}/issues/generate",
            web::post().to(generate),
        )
        .route("/repos/{owner}/{repo}/rename", web::post().to(rename))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/close",
            web::post().to(close),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/reopen",
            web::post().to(reopen),
        )
        .route("/faults", web::post().to(set_faults))
        .route("/faults", web::get().to(get_faults))
        .route("/faults", web::delete().to(clear_faults))
        .route("/stats", web::get().to(stats))
        .route("/requests", web::get().to(requests))
        .route("/seed", web::post().to(seed))
        .route("/reset", web::post().to(reset))
}

/// Admin errors, as `{"message": ...}`.
#[derive(Debug)]
struct AdminError(StatusCode, String);

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl actix_web::ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        self.0
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.0).json(json!({ "message": self.1 }))
    }
}

impl From<FakeError> for AdminError {
    fn from(e: FakeError) -> Self {
        let status = match e {
            FakeError::UnknownAccount(_)
            | FakeError::UnknownRepo(_)
            | FakeError::UnknownIssue { .. } => StatusCode::NOT_FOUND,
            FakeError::NameTaken(_) => StatusCode::CONFLICT,
            FakeError::NotAnOrganization(_)
            | FakeError::NotAUser(_)
            | FakeError::InvalidName(_)
            | FakeError::BatchTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self(status, e.to_string())
    }
}

type AdminResult = Result<HttpResponse, AdminError>;

/// Parses a JSON body; an empty body counts as `{}` so bodiless calls work with optional fields.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| AdminError(StatusCode::BAD_REQUEST, e.to_string()))
}

fn full(path: &(String, String)) -> String {
    format!("{}/{}", path.0, path.1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    token: String,
    login: String,
}

async fn add_user(fake: web::Data<FakeGithub>, body: web::Bytes) -> AdminResult {
    let b: UserBody = parse(&body)?;
    let id = fake.add_user(&b.token, &b.login)?;
    Ok(HttpResponse::Created().json(json!({ "id": id, "login": b.login })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgBody {
    login: String,
    #[serde(default)]
    members: Vec<String>,
}

async fn add_org(fake: web::Data<FakeGithub>, body: web::Bytes) -> AdminResult {
    let b: OrgBody = parse(&body)?;
    let id = fake.add_org(&b.login)?;
    for m in &b.members {
        fake.add_org_member(&b.login, m)?;
    }
    Ok(HttpResponse::Created().json(json!({ "id": id, "login": b.login })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    login: String,
}

async fn add_member(
    fake: web::Data<FakeGithub>,
    path: web::Path<String>,
    body: web::Bytes,
) -> AdminResult {
    let b: MemberBody = parse(&body)?;
    fake.add_org_member(&path, &b.login)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountBody {
    count: u64,
}

async fn reject_names(
    fake: web::Data<FakeGithub>,
    path: web::Path<String>,
    body: web::Bytes,
) -> AdminResult {
    let b: CountBody = parse(&body)?;
    fake.reject_next_creates(&path, b.count)?;
    Ok(HttpResponse::Ok().json(json!({ "org": path.into_inner(), "pending": b.count })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoBody {
    owner: String,
    name: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    description: Option<String>,
}

async fn add_repo(fake: web::Data<FakeGithub>, body: web::Bytes) -> AdminResult {
    let b: RepoBody = parse(&body)?;
    let repo = {
        let mut st = fake.lock();
        let id = st.create_repo(&b.owner, &b.name, b.private, b.description)?;
        st.repo_snapshot(id)
    };
    Ok(HttpResponse::Created().json(repo))
}

async fn get_repo(fake: web::Data<FakeGithub>, path: web::Path<(String, String)>) -> AdminResult {
    let name = full(&path);
    let repo = fake
        .repo(&name)
        .ok_or_else(|| AdminError::from(FakeError::UnknownRepo(name)))?;
    Ok(HttpResponse::Ok().json(repo))
}

async fn list_issues(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String)>,
) -> AdminResult {
    let name = full(&path);
    let issues = fake
        .issues_of(&name)
        .ok_or_else(|| AdminError::from(FakeError::UnknownRepo(name)))?;
    Ok(HttpResponse::Ok().json(issues))
}

async fn add_issue(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult {
    let b: NewIssue = parse(&body)?;
    let issue = fake.add_issue(&full(&path), b)?;
    Ok(HttpResponse::Created().json(issue))
}

async fn generate(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult {
    let b: GenerateIssues = parse(&body)?;
    let range = fake.add_issues(&full(&path), &b)?;
    Ok(HttpResponse::Created().json(json!({
        "created": range.end - range.start,
        "first_number": range.start,
        "last_number": range.end.saturating_sub(1),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    name: String,
}

async fn rename(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult {
    let b: RenameBody = parse(&body)?;
    let repo = fake.rename_repo(&full(&path), &b.name)?;
    Ok(HttpResponse::Ok().json(repo))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    #[serde(default)]
    reason: Option<StateReason>,
}

async fn close(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String, u64)>,
    body: web::Bytes,
) -> AdminResult {
    let b: CloseBody = parse(&body)?;
    let (owner, repo, number) = path.into_inner();
    let reason = b.reason.unwrap_or(StateReason::Completed);
    let issue = fake.close_issue(&format!("{owner}/{repo}"), number, reason)?;
    Ok(HttpResponse::Ok().json(issue))
}

async fn reopen(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String, u64)>,
) -> AdminResult {
    let (owner, repo, number) = path.into_inner();
    let issue = fake.reopen_issue(&format!("{owner}/{repo}"), number)?;
    Ok(HttpResponse::Ok().json(issue))
}

fn faults_body(fake: &FakeGithub) -> serde_json::Value {
    let st = fake.lock();
    let mut v = serde_json::to_value(st.faults.settings()).unwrap_or_else(|_| json!({}));
    v["revoked_tokens"] = json!(st.faults.revoked_tokens());
    v
}

async fn set_faults(fake: web::Data<FakeGithub>, body: web::Bytes) -> AdminResult {
    let b: FaultSettings = parse(&body)?;
    fake.set_faults(b);
    Ok(HttpResponse::Ok().json(faults_body(&fake)))
}

async fn get_faults(fake: web::Data<FakeGithub>) -> HttpResponse {
    HttpResponse::Ok().json(faults_body(&fake))
}

async fn clear_faults(fake: web::Data<FakeGithub>) -> HttpResponse {
    fake.clear_faults();
    HttpResponse::NoContent().finish()
}

async fn stats(fake: web::Data<FakeGithub>) -> HttpResponse {
    HttpResponse::Ok().json(fake.stats())
}

async fn requests(fake: web::Data<FakeGithub>) -> HttpResponse {
    HttpResponse::Ok().json(fake.requests())
}

async fn seed(fake: web::Data<FakeGithub>, body: web::Bytes) -> AdminResult {
    let b: Seed = parse(&body)?;
    fake.apply_seed(&b)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn reset(fake: web::Data<FakeGithub>) -> HttpResponse {
    fake.reset();
    HttpResponse::NoContent().finish()
}
