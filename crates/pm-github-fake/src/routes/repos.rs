//! `GET /repos/{owner}/{repo}` (and `/repositories/{id}`), `POST /orgs/{org}/repos`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use serde_json::Value;

use super::{RepoPath, api_base, body_object, json, not_modified, resolve_repo};
use crate::{
    FakeGithub,
    errors::ApiError,
    gate::Viewer,
    model::FakeError,
    payloads::{self, RepoShape},
    state::AccountKind,
    util::etag_for,
};

const GET_DOCS: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
const CREATE_DOCS: &str =
    "https://docs.github.com/rest/repos/repos#create-an-organization-repository";

pub(crate) async fn get_by_name(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (owner, repo) = path.into_inner();
    get(&req, &fake, viewer.id, RepoPath::Name { owner, repo })
}

pub(crate) async fn get_by_id(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get(&req, &fake, viewer.id, RepoPath::Id(path.into_inner()))
}

fn get(
    req: &HttpRequest,
    fake: &FakeGithub,
    viewer: u64,
    path: RepoPath,
) -> Result<HttpResponse, ApiError> {
    let api = api_base(req);
    let st = fake.lock();
    let id = resolve_repo(&st, &path, viewer, req, GET_DOCS)?;
    let repo = &st.repos[&id];
    // Permissions in the body depend on the viewer, and URLs on the address used.
    let etag = etag_for(("repo", id, repo.version, viewer, &api));
    if let Some(resp) = not_modified(req, &etag) {
        return Ok(resp);
    }
    let body = payloads::repository(&api, &st, repo, viewer, RepoShape::Full).to_string();
    Ok(json(StatusCode::OK, Some(&etag), body))
}

/// `POST /orgs/{org}/repos`: the viewer must be a member; names are unique per owner
/// (case-insensitively) and a clash answers GitHub's "name already exists" 422.
pub(crate) async fn create_in_org(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    let body = body_object(&body, CREATE_DOCS)?;
    let name = match body.get("name") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_request(
                "\"name\" wasn't supplied.",
                CREATE_DOCS,
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid_request(
                &format!("For 'properties/name', {other} is not a string."),
                CREATE_DOCS,
            ));
        }
    };
    let private = match (
        body.get("visibility").and_then(Value::as_str),
        body.get("private"),
    ) {
        (Some(v), _) => v != "public",
        (None, Some(Value::Bool(b))) => *b,
        (None, None | Some(Value::Null)) => false,
        (None, Some(other)) => {
            return Err(ApiError::invalid_request(
                &format!("For 'properties/private', {other} is not a boolean."),
                CREATE_DOCS,
            ));
        }
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);

    let api = api_base(&req);
    let mut st = fake.lock();
    let org_id = match st.account_by_login(&org) {
        Some(a) if a.kind == AccountKind::Organization => a.id,
        _ => return Err(ApiError::NotFound(CREATE_DOCS)),
    };
    if !st.is_member(org_id, viewer.id) {
        return Err(ApiError::Forbidden(
            "You need admin access to the organization before adding a repository to it.",
            CREATE_DOCS,
        ));
    }
    if st.take_name_rejection(org_id) {
        return Err(ApiError::repo_name_exists(CREATE_DOCS));
    }
    let id = match st.create_repo(&org, &name, private, description) {
        Ok(id) => id,
        Err(FakeError::NameTaken(_)) => return Err(ApiError::repo_name_exists(CREATE_DOCS)),
        Err(_) => {
            return Err(ApiError::validation(
                "Repository",
                "name",
                "invalid",
                CREATE_DOCS,
            ));
        }
    };
    let repo = &st.repos[&id];
    let body = payloads::repository(&api, &st, repo, viewer.id, RepoShape::Full);
    let location = format!("{api}/repos/{}", st.full_name(repo));
    let etag = etag_for(("repo", id, repo.version, viewer.id, &api));
    drop(st);
    let mut resp = json(StatusCode::CREATED, Some(&etag), body.to_string());
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    Ok(resp)
}
