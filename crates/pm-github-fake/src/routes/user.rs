//! `GET /user`, `GET /user/repos`, `GET /rate_limit`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use serde::Deserialize;
use serde_json::json;

use super::{api_base, json, not_modified};
use crate::{
    FakeGithub,
    errors::ApiError,
    faults::RATE_LIMIT,
    gate::Viewer,
    pagination::Paging,
    payloads::{self, RepoShape},
    util::{etag_for, now_secs},
};

const USER_DOCS: &str = "https://docs.github.com/rest/users/users#get-the-authenticated-user";
const REPOS_DOCS: &str =
    "https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user";

pub(crate) async fn me(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let api = api_base(&req);
    let st = fake.lock();
    let account = st.account(viewer.id).ok_or(ApiError::NotFound(USER_DOCS))?;
    let etag = etag_for(("user", viewer.id, st.version(), &api));
    if let Some(resp) = not_modified(&req, &etag) {
        return Ok(resp);
    }
    let body = payloads::private_user(&api, &st, account).to_string();
    Ok(json(StatusCode::OK, Some(&etag), body))
}

#[derive(Debug, Default, Deserialize)]
struct ReposQuery {
    visibility: Option<String>,
    per_page: Option<String>,
    page: Option<String>,
}

/// Repositories the user owns or can reach through organization membership, by full name.
pub(crate) async fn repos(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let q = web::Query::<ReposQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let visibility = q.visibility.as_deref().unwrap_or("all");
    if !matches!(visibility, "all" | "public" | "private") {
        return Err(ApiError::validation(
            "Repository",
            "visibility",
            "invalid",
            REPOS_DOCS,
        ));
    }
    let paging = Paging::parse(q.per_page.as_deref(), q.page.as_deref());
    let api = api_base(&req);
    let st = fake.lock();
    let etag = etag_for((
        "user/repos",
        viewer.id,
        st.version(),
        &api,
        req.query_string(),
    ));
    if let Some(resp) = not_modified(&req, &etag) {
        return Ok(resp);
    }
    let repos: Vec<_> = st
        .repos_of_user(viewer.id)
        .into_iter()
        .filter(|r| match visibility {
            "public" => !r.private,
            "private" => r.private,
            _ => true,
        })
        .collect();
    let total = repos.len();
    let items: Vec<_> = repos[paging.range(total)]
        .iter()
        .map(|r| payloads::repository(&api, &st, r, viewer.id, RepoShape::ListItem))
        .collect();
    drop(st);
    let mut resp = json(
        StatusCode::OK,
        Some(&etag),
        serde_json::Value::from(items).to_string(),
    );
    if let Some(link) = paging.link_header(&format!("{api}/user/repos"), req.query_string(), total)
        && let Ok(value) = header::HeaderValue::from_str(&link)
    {
        resp.headers_mut().insert(header::LINK, value);
    }
    Ok(resp)
}

/// `GET /rate_limit`: free on GitHub (the gate does not charge it).
pub(crate) async fn rate_limit(
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> HttpResponse {
    let w = fake.lock().rate_window(viewer.id, now_secs(), false);
    let core = json!({
        "limit": RATE_LIMIT,
        "used": w.used,
        "remaining": w.remaining(),
        "reset": w.reset,
    });
    let body = json!({
        "resources": {
            "core": core,
            "search": {"limit": 30, "used": 0, "remaining": 30, "reset": w.reset},
            "graphql": {"limit": RATE_LIMIT, "used": 0, "remaining": RATE_LIMIT, "reset": w.reset},
        },
        "rate": core,
    });
    json(StatusCode::OK, None, body.to_string())
}
