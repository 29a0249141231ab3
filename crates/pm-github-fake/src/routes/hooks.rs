//! Repository webhooks: `GET|POST /repos/{o}/{r}/hooks`, `GET|PATCH|DELETE .../hooks/{id}`,
//! `POST .../hooks/{id}/pings`, `POST .../hooks/{id}/deliveries/{delivery}/attempts`.
//!
//! All of them need admin rights on the repository (owner, or member of the owning
//! organization): a repository the viewer cannot see is `404`, one it can see but not
//! administer `403`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use serde_json::{Map, Value, json};

use super::{RepoPath, api_base, body_object, json, resolve_repo};
use crate::{
    FakeGithub,
    errors::ApiError,
    gate::Viewer,
    payloads,
    state::{RepoId, State},
    util::now_secs,
    webhooks::{HookRec, LastResponse},
};

const CREATE_DOCS: &str = "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook";
const LIST_DOCS: &str = "https://docs.github.com/rest/repos/webhooks#list-repository-webhooks";
const GET_DOCS: &str = "https://docs.github.com/rest/repos/webhooks#get-a-repository-webhook";
const UPDATE_DOCS: &str = "https://docs.github.com/rest/repos/webhooks#update-a-repository-webhook";
const DELETE_DOCS: &str = "https://docs.github.com/rest/repos/webhooks#delete-a-repository-webhook";
const PING_DOCS: &str = "https://docs.github.com/rest/repos/webhooks#ping-a-repository-webhook";
const REDELIVER_DOCS: &str =
    "https://docs.github.com/rest/repos/webhooks#redeliver-a-delivery-for-a-repository-webhook";

/// The repository part of the path, whichever form the route has.
fn repo_path(req: &HttpRequest) -> RepoPath {
    let info = req.match_info();
    match info.get("id") {
        Some(id) => RepoPath::Id(id.to_owned()),
        None => RepoPath::Name {
            owner: info.get("owner").unwrap_or_default().to_owned(),
            repo: info.get("repo").unwrap_or_default().to_owned(),
        },
    }
}

/// Resolves the repository and checks admin rights.
fn admin_repo(
    st: &State,
    req: &HttpRequest,
    viewer: u64,
    docs: &'static str,
) -> Result<RepoId, ApiError> {
    let id = resolve_repo(st, &repo_path(req), viewer, req, docs)?;
    if !st.has_access(&st.repos[&id], viewer) {
        return Err(ApiError::Forbidden(
            "Must have admin rights to Repository.",
            docs,
        ));
    }
    Ok(id)
}

fn hook_id(req: &HttpRequest, docs: &'static str) -> Result<u64, ApiError> {
    req.match_info()
        .get("hook_id")
        .and_then(|h| h.parse().ok())
        .ok_or(ApiError::NotFound(docs))
}

fn custom(message: &str, docs: &str) -> ApiError {
    ApiError::Unprocessable(json!({
        "message": "Validation Failed",
        "errors": [{"resource": "Hook", "code": "custom", "message": message}],
        "documentation_url": docs,
        "status": "422",
    }))
}

/// The validated `config` object of a create or update.
struct Config {
    url: String,
    content_type: String,
    insecure_ssl: String,
    secret: Option<Option<String>>,
}

fn parse_config(value: Option<&Value>, docs: &str) -> Result<Option<Config>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let Value::Object(cfg) = value else {
        return Err(ApiError::invalid_request(
            &format!("For 'properties/config', {value} is not an object."),
            docs,
        ));
    };
    let url = match cfg.get("url") {
        Some(Value::String(u)) if !u.trim().is_empty() => u.trim().to_owned(),
        _ => return Err(custom("Config must contain URL for webhooks", docs)),
    };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.len() < 10 {
        return Err(custom(
            "Config url is not supported because it isn't reachable over the public Internet",
            docs,
        ));
    }
    let content_type = match cfg.get("content_type") {
        None | Some(Value::Null) => "form".to_owned(),
        Some(Value::String(s)) if s == "json" || s == "form" => s.clone(),
        Some(_) => return Err(custom("Config content type is not one of json, form", docs)),
    };
    let insecure_ssl = match cfg.get("insecure_ssl") {
        None | Some(Value::Null) => "0".to_owned(),
        Some(Value::String(s)) if s == "0" || s == "1" => s.clone(),
        Some(Value::Number(n)) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => n.to_string(),
        Some(_) => return Err(custom("Config insecure ssl is not one of 0, 1", docs)),
    };
    let secret = match cfg.get("secret") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.is_empty() => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => {
            return Err(ApiError::invalid_request(
                "For 'properties/secret', the value is not a string.",
                docs,
            ));
        }
    };
    Ok(Some(Config {
        url,
        content_type,
        insecure_ssl,
        secret,
    }))
}

fn events_of(
    value: Option<&Value>,
    field: &str,
    docs: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::invalid_request(&format!("For 'items', {i} is not a string."), docs)
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ApiError::invalid_request(
            &format!("For 'properties/{field}', {other} is not an array."),
            docs,
        )),
    }
}

fn bool_of(value: Option<&Value>, field: &str, docs: &str) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid_request(
            &format!("For 'properties/{field}', {other} is not a boolean."),
            docs,
        )),
    }
}

fn dedup(events: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

fn url_taken(st: &State, repo: RepoId, url: &str, except: Option<u64>) -> bool {
    st.webhooks
        .hooks_of(repo)
        .any(|h| Some(h.id) != except && h.url == url)
}

fn render(req: &HttpRequest, st: &State, repo: RepoId, hook: &HookRec) -> Value {
    payloads::hook(&api_base(req), &st.full_name(&st.repos[&repo]), hook)
}

pub(crate) async fn create(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = body_object(&body, CREATE_DOCS)?;
    let mut st = fake.lock();
    // Permission first: a body error must not tell a stranger anything about the repository.
    let repo = admin_repo(&st, &req, viewer.id, CREATE_DOCS)?;
    match body.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) if n == "web" => {}
        Some(_) => {
            return Err(custom(
                "Name must be \"web\" for repository webhooks",
                CREATE_DOCS,
            ));
        }
    }
    let config = parse_config(body.get("config"), CREATE_DOCS)?
        .ok_or_else(|| custom("Config must contain URL for webhooks", CREATE_DOCS))?;
    let events = events_of(body.get("events"), "events", CREATE_DOCS)?
        .map(dedup)
        .unwrap_or_else(|| vec!["push".to_owned()]);
    let active = bool_of(body.get("active"), "active", CREATE_DOCS)?.unwrap_or(true);
    if url_taken(&st, repo, &config.url, None) {
        return Err(custom(
            "Hook already exists on this repository",
            CREATE_DOCS,
        ));
    }
    let now = now_secs();
    let id = st.webhooks.next_hook_id();
    let hook = HookRec {
        id,
        repo,
        active,
        events,
        url: config.url,
        content_type: config.content_type,
        insecure_ssl: config.insecure_ssl,
        secret: config.secret.flatten(),
        created_at: now,
        updated_at: now,
        last_response: LastResponse::default(),
    };
    let rendered = render(&req, &st, repo, &hook);
    st.webhooks.hooks.insert(id, hook);
    // GitHub pings a new hook right away.
    st.ping(id, viewer.id);
    drop(st);
    let location = rendered["url"].as_str().unwrap_or_default().to_owned();
    let mut resp = json(StatusCode::CREATED, None, rendered.to_string());
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub(crate) async fn list(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let st = fake.lock();
    let repo = admin_repo(&st, &req, viewer.id, LIST_DOCS)?;
    let hooks: Vec<Value> = st
        .webhooks
        .hooks_of(repo)
        .map(|h| render(&req, &st, repo, h))
        .collect();
    Ok(json(StatusCode::OK, None, Value::Array(hooks).to_string()))
}

/// The hook of the path, if it belongs to the repository.
fn hook_of<'a>(
    st: &'a State,
    repo: RepoId,
    id: u64,
    docs: &'static str,
) -> Result<&'a HookRec, ApiError> {
    st.webhooks
        .hooks
        .get(&id)
        .filter(|h| h.repo == repo)
        .ok_or(ApiError::NotFound(docs))
}

pub(crate) async fn get(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let st = fake.lock();
    let repo = admin_repo(&st, &req, viewer.id, GET_DOCS)?;
    let hook = hook_of(&st, repo, hook_id(&req, GET_DOCS)?, GET_DOCS)?;
    Ok(json(
        StatusCode::OK,
        None,
        render(&req, &st, repo, hook).to_string(),
    ))
}

/// `PATCH`: `config` (replaces it; an omitted `secret` keeps the current one), `events`
/// (replaces), `add_events`, `remove_events`, `active`.
pub(crate) async fn update(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: Map<String, Value> = body_object(&body, UPDATE_DOCS)?;
    let mut st = fake.lock();
    let repo = admin_repo(&st, &req, viewer.id, UPDATE_DOCS)?;
    let id = hook_id(&req, UPDATE_DOCS)?;
    hook_of(&st, repo, id, UPDATE_DOCS)?;
    let config = parse_config(body.get("config"), UPDATE_DOCS)?;
    let events = events_of(body.get("events"), "events", UPDATE_DOCS)?;
    let add = events_of(body.get("add_events"), "add_events", UPDATE_DOCS)?;
    let remove = events_of(body.get("remove_events"), "remove_events", UPDATE_DOCS)?;
    let active = bool_of(body.get("active"), "active", UPDATE_DOCS)?;
    if let Some(c) = &config
        && url_taken(&st, repo, &c.url, Some(id))
    {
        return Err(custom(
            "Hook already exists on this repository",
            UPDATE_DOCS,
        ));
    }
    let Some(hook) = st.webhooks.hooks.get_mut(&id) else {
        return Err(ApiError::NotFound(UPDATE_DOCS));
    };
    if let Some(c) = config {
        hook.url = c.url;
        hook.content_type = c.content_type;
        hook.insecure_ssl = c.insecure_ssl;
        if let Some(secret) = c.secret {
            hook.secret = secret;
        }
    }
    if let Some(e) = events {
        hook.events = dedup(e);
    }
    if let Some(add) = add {
        let mut all = std::mem::take(&mut hook.events);
        all.extend(add);
        hook.events = dedup(all);
    }
    if let Some(remove) = remove {
        hook.events.retain(|e| !remove.contains(e));
    }
    if let Some(a) = active {
        hook.active = a;
    }
    hook.updated_at = now_secs();
    let hook = hook.clone();
    Ok(json(
        StatusCode::OK,
        None,
        render(&req, &st, repo, &hook).to_string(),
    ))
}

pub(crate) async fn delete(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let mut st = fake.lock();
    let repo = admin_repo(&st, &req, viewer.id, DELETE_DOCS)?;
    let id = hook_id(&req, DELETE_DOCS)?;
    hook_of(&st, repo, id, DELETE_DOCS)?;
    st.webhooks.hooks.remove(&id);
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn ping(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let mut st = fake.lock();
    let repo = admin_repo(&st, &req, viewer.id, PING_DOCS)?;
    let id = hook_id(&req, PING_DOCS)?;
    hook_of(&st, repo, id, PING_DOCS)?;
    st.ping(id, viewer.id);
    Ok(HttpResponse::NoContent().finish())
}

/// `POST .../hooks/{id}/deliveries/{delivery_id}/attempts`: redeliver (same GUID and body).
pub(crate) async fn redeliver(
    req: HttpRequest,
    fake: web::Data<FakeGithub>,
    viewer: web::ReqData<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let mut st = fake.lock();
    let repo = admin_repo(&st, &req, viewer.id, REDELIVER_DOCS)?;
    let id = hook_id(&req, REDELIVER_DOCS)?;
    hook_of(&st, repo, id, REDELIVER_DOCS)?;
    let delivery: u64 = req
        .match_info()
        .get("delivery_id")
        .and_then(|d| d.parse().ok())
        .ok_or(ApiError::NotFound(REDELIVER_DOCS))?;
    if st.webhooks.record(delivery).is_none_or(|d| d.hook_id != id) {
        return Err(ApiError::NotFound(REDELIVER_DOCS));
    }
    st.webhooks.redeliver(delivery);
    Ok(json(StatusCode::ACCEPTED, None, "{}"))
}
