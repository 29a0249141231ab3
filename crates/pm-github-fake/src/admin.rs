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
//! | `POST /_fake/repos/{o}/{r}/issues/{n}/edit` | [`crate::IssueEdit`] `{title?, body?, labels?}` | 200 issue snapshot |
//! | `POST /_fake/repos/{o}/{r}/issues/{n}/delete` | | 204 |
//! | `POST /_fake/repos/{o}/{r}/issues/{n}/transfer` | `{to: "owner/name"}` | 200 snapshot of the new issue |
//! | `GET /_fake/repos/{o}/{r}/issues/{n}/patches` | `?since=<rfc3339>` | 200 `{count}` PATCH requests for the issue |
//! | `GET /_fake/patches` | `?since=<rfc3339>` | 200 [`crate::PatchCounts`] `{total, issues: [{repo, number, count}]}`: every issue PATCH |
//! | `POST /_fake/repos/{o}/{r}/hooks` | [`crate::NewHook`] `{url, secret?, events?, content_type?, active?}` | 201 hook (secret masked) |
//! | `GET /_fake/deliveries` | `?event=&action=&hook_id=&status=` | 200 [`crate::Delivery`] list |
//! | `GET /_fake/deliveries/{id}` | | 200 delivery |
//! | `POST /_fake/deliveries/{id}/redeliver` | | 202 `{id}` of the new record |
//! | `POST /_fake/deliveries/faults` | [`crate::DeliveryFaults`] (merged) | 200 delivery faults in force |
//! | `GET /_fake/deliveries/faults` | | 200 delivery faults in force |
//! | `DELETE /_fake/deliveries/faults` | | 204 |
//! | `POST /_fake/faults` | [`FaultSettings`] (merged) | 200 faults in force |
//! | `GET /_fake/faults` | | 200 faults in force |
//! | `DELETE /_fake/faults` | | 204 |
//! | `GET /_fake/stats` | | `{requests, by_route}` |
//! | `GET /_fake/requests` | `?method=&path_prefix=&since=<rfc3339>` | `[{method, path, query, at}]` |
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
    model::{FakeError, GenerateIssues, IssueEdit, NewIssue, Seed, StateReason},
    webhooks::{DeliveryFaults, NewHook},
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
        .route(
            "/repos/{owner}/{repo}/issues/{number}/edit",
            web::post().to(edit_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/delete",
            web::post().to(delete_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/transfer",
            web::post().to(transfer_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/patches",
            web::get().to(patch_count),
        )
        .route("/repos/{owner}/{repo}/hooks", web::post().to(add_hook))
        .route("/patches", web::get().to(patch_counts))
        .route("/deliveries/faults", web::post().to(set_delivery_faults))
        .route("/deliveries/faults", web::get().to(get_delivery_faults))
        .route(
            "/deliveries/faults",
            web::delete().to(clear_delivery_faults),
        )
        .route("/deliveries", web::get().to(deliveries))
        .route("/deliveries/{id}", web::get().to(delivery))
        .route("/deliveries/{id}/redeliver", web::post().to(redeliver))
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

#[derive(Deserialize)]
struct RequestsQuery {
    method: Option<String>,
    path_prefix: Option<String>,
    since: Option<String>,
}

fn parse_since(since: Option<&str>) -> Result<Option<time::OffsetDateTime>, AdminError> {
    since
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| AdminError(StatusCode::BAD_REQUEST, format!("bad `since`: {s}")))
        })
        .transpose()
}

async fn requests(fake: web::Data<FakeGithub>, q: web::Query<RequestsQuery>) -> AdminResult {
    let since = parse_since(q.since.as_deref())?;
    Ok(HttpResponse::Ok().json(fake.requests_matching(
        q.method.as_deref(),
        q.path_prefix.as_deref(),
        since,
    )))
}

#[derive(Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

async fn patch_count(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String, u64)>,
    q: web::Query<SinceQuery>,
) -> AdminResult {
    let (owner, repo, number) = path.into_inner();
    let since = parse_since(q.since.as_deref())?;
    let count = fake.issue_patch_count(&format!("{owner}/{repo}"), number, since)?;
    Ok(HttpResponse::Ok().json(json!({ "count": count })))
}

async fn patch_counts(fake: web::Data<FakeGithub>, q: web::Query<SinceQuery>) -> AdminResult {
    let since = parse_since(q.since.as_deref())?;
    Ok(HttpResponse::Ok().json(fake.patch_counts(since)))
}

async fn edit_issue(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String, u64)>,
    body: web::Bytes,
) -> AdminResult {
    let b: IssueEdit = parse(&body)?;
    let (owner, repo, number) = path.into_inner();
    let issue = fake.edit_issue(&format!("{owner}/{repo}"), number, b)?;
    Ok(HttpResponse::Ok().json(issue))
}

async fn delete_issue(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String, u64)>,
) -> AdminResult {
    let (owner, repo, number) = path.into_inner();
    fake.delete_issue(&format!("{owner}/{repo}"), number)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: String,
}

async fn transfer_issue(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String, u64)>,
    body: web::Bytes,
) -> AdminResult {
    let b: TransferBody = parse(&body)?;
    let (owner, repo, number) = path.into_inner();
    let issue = fake.transfer_issue(&format!("{owner}/{repo}"), number, &b.to)?;
    Ok(HttpResponse::Ok().json(issue))
}

async fn add_hook(
    fake: web::Data<FakeGithub>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult {
    let b: NewHook = parse(&body)?;
    let name = full(&path);
    let id = fake.add_hook(&name, b)?;
    let st = fake.lock();
    let hook = st
        .webhooks
        .hooks
        .get(&id)
        .map(|h| crate::payloads::hook(&st.webhooks.api_base, &name, h))
        .unwrap_or_default();
    Ok(HttpResponse::Created().json(hook))
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    event: Option<String>,
    action: Option<String>,
    hook_id: Option<u64>,
    status: Option<crate::DeliveryStatus>,
}

async fn deliveries(fake: web::Data<FakeGithub>, q: web::Query<DeliveriesQuery>) -> HttpResponse {
    let list: Vec<crate::Delivery> = fake
        .deliveries()
        .into_iter()
        .filter(|d| q.event.as_ref().is_none_or(|e| &d.event == e))
        .filter(|d| q.action.is_none() || d.action == q.action)
        .filter(|d| q.hook_id.is_none_or(|h| d.hook_id == h))
        .filter(|d| q.status.is_none_or(|s| d.status == s))
        .collect();
    HttpResponse::Ok().json(list)
}

fn unknown_delivery(id: u64) -> AdminError {
    AdminError(StatusCode::NOT_FOUND, format!("no delivery {id}"))
}

async fn delivery(fake: web::Data<FakeGithub>, path: web::Path<u64>) -> AdminResult {
    let id = path.into_inner();
    let d = fake.delivery(id).ok_or_else(|| unknown_delivery(id))?;
    Ok(HttpResponse::Ok().json(d))
}

async fn redeliver(fake: web::Data<FakeGithub>, path: web::Path<u64>) -> AdminResult {
    let id = path.into_inner();
    let new = fake.redeliver(id).ok_or_else(|| unknown_delivery(id))?;
    Ok(HttpResponse::Accepted().json(json!({ "id": new })))
}

async fn set_delivery_faults(fake: web::Data<FakeGithub>, body: web::Bytes) -> AdminResult {
    let b: DeliveryFaults = parse(&body)?;
    fake.set_delivery_faults(b);
    Ok(HttpResponse::Ok().json(fake.delivery_faults()))
}

async fn get_delivery_faults(fake: web::Data<FakeGithub>) -> HttpResponse {
    HttpResponse::Ok().json(fake.delivery_faults())
}

async fn clear_delivery_faults(fake: web::Data<FakeGithub>) -> HttpResponse {
    fake.clear_delivery_faults();
    HttpResponse::NoContent().finish()
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
