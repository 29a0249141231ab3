//! The GitHub REST routes the fake serves, and helpers they share.
//!
//! Every route lives both under `/repos/{owner}/{repo}` and `/repositories/{id}` because GitHub's
//! `Link` URLs and rename redirects point at the id form.

mod hooks;
mod issues;
mod repos;
mod user;

use actix_web::{
    HttpRequest, HttpResponse, Resource,
    http::{StatusCode, header},
    web,
};
use serde_json::Value;

use crate::{
    errors::{self, ApiError},
    state::{RepoId, RepoLookup, State},
    util::etag_matches,
};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/user").route(web::get().to(user::me)))
        .service(resource("/user/repos").route(web::get().to(user::repos)))
        .service(resource("/rate_limit").route(web::get().to(user::rate_limit)))
        .service(resource("/orgs/{org}/repos").route(web::post().to(repos::create_in_org)))
        .service(resource("/repos/{owner}/{repo}").route(web::get().to(repos::get_by_name)))
        .service(resource("/repositories/{id}").route(web::get().to(repos::get_by_id)))
        .service(
            resource("/repos/{owner}/{repo}/issues")
                .route(web::get().to(issues::list_by_name))
                .route(web::post().to(issues::create_by_name)),
        )
        .service(
            resource("/repositories/{id}/issues")
                .route(web::get().to(issues::list_by_id))
                .route(web::post().to(issues::create_by_id)),
        )
        .service(
            resource("/repos/{owner}/{repo}/issues/{number}")
                .route(web::get().to(issues::get_by_name))
                .route(web::patch().to(issues::update_by_name)),
        )
        .service(
            resource("/repositories/{id}/issues/{number}")
                .route(web::get().to(issues::get_by_id))
                .route(web::patch().to(issues::update_by_id)),
        );
    for base in ["/repos/{owner}/{repo}", "/repositories/{id}"] {
        cfg.service(
            resource(&format!("{base}/hooks"))
                .route(web::get().to(hooks::list))
                .route(web::post().to(hooks::create)),
        )
        .service(
            resource(&format!("{base}/hooks/{{hook_id}}"))
                .route(web::get().to(hooks::get))
                .route(web::patch().to(hooks::update))
                .route(web::delete().to(hooks::delete)),
        )
        .service(
            resource(&format!("{base}/hooks/{{hook_id}}/pings")).route(web::post().to(hooks::ping)),
        )
        .service(
            resource(&format!(
                "{base}/hooks/{{hook_id}}/deliveries/{{delivery_id}}/attempts"
            ))
            .route(web::post().to(hooks::redeliver)),
        );
    }
}

/// A resource whose unsupported methods answer GitHub's 404 rather than actix's bare 405.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(not_found))
}

pub(crate) async fn not_found() -> HttpResponse {
    errors::not_found()
}

/// `scheme://host[:port]` as the client addressed us; used for every URL we hand out so that
/// links are followable whatever address the fake is reached at.
pub(crate) fn api_base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// How a route names its repository.
pub(crate) enum RepoPath {
    Name { owner: String, repo: String },
    Id(String),
}

/// Resolves the repository of a request as `viewer` sees it: private repositories the viewer
/// cannot access are 404 like on GitHub, and an old name after a rename redirects to the id
/// form (301 for reads, 307 for writes) with the rest of the path and the query kept.
pub(crate) fn resolve_repo(
    st: &State,
    path: &RepoPath,
    viewer: u64,
    req: &HttpRequest,
    docs: &'static str,
) -> Result<RepoId, ApiError> {
    let visible = |id: RepoId| st.repos.get(&id).is_some_and(|r| st.can_see(r, viewer));
    match path {
        RepoPath::Id(raw) => raw
            .parse::<RepoId>()
            .ok()
            .filter(|&id| visible(id))
            .ok_or(ApiError::NotFound(docs)),
        RepoPath::Name { owner, repo } => match st.lookup_repo(owner, repo) {
            RepoLookup::Found(id) if visible(id) => Ok(id),
            RepoLookup::Moved(id) if visible(id) => {
                // "/repos/{o}/{r}/rest..." → "/repositories/{id}/rest..."
                let rest = req.path().splitn(5, '/').nth(4).unwrap_or_default();
                let mut location = format!("{}/repositories/{id}", api_base(req));
                if !rest.is_empty() {
                    location.push('/');
                    location.push_str(rest);
                }
                if !req.query_string().is_empty() {
                    location.push('?');
                    location.push_str(req.query_string());
                }
                Err(ApiError::Moved {
                    location,
                    permanent: req.method() == actix_web::http::Method::GET,
                })
            }
            _ => Err(ApiError::NotFound(docs)),
        },
    }
}

/// `304 Not Modified` (empty body) when the request's `If-None-Match` matches `etag`.
pub(crate) fn not_modified(req: &HttpRequest, etag: &str) -> Option<HttpResponse> {
    let inm = req.headers().get(header::IF_NONE_MATCH)?.to_str().ok()?;
    etag_matches(inm, etag).then(|| {
        HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish()
    })
}

/// A JSON response with GitHub's caching headers.
pub(crate) fn json(
    status: StatusCode,
    etag: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.content_type(errors::JSON)
        .insert_header((header::CACHE_CONTROL, "private, max-age=60, s-maxage=60"))
        .insert_header((header::VARY, "Accept, Authorization, Cookie, X-GitHub-OTP"));
    if let Some(etag) = etag {
        resp.insert_header((header::ETAG, etag));
    }
    resp.body(body.into())
}

/// Parses a request body that must be a JSON object; an empty body counts as `{}`.
pub(crate) fn body_object(
    body: &[u8],
    docs: &'static str,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::BadJson(docs)),
    }
}
