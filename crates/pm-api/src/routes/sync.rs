//! Two-way sync: the project's settings, the sync journal (per run and per task),
//! conflicts and the health view.

use crate::dto::{
    ConflictList, ConflictListQuery, PageQuery, PatchSyncSettingsRequest, SlugPath, SyncEventList,
    SyncHealthDto, SyncSettingsDto, TaskPath,
};
use crate::extract::{Caller, JsonBody, Query, id_cursor, slug, task_number};
use crate::problem::ApiResult;
use crate::responses::{AdminWriteErrors, ReadErrors};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use pm_kernel::{Error, Limit, SyncRunId};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/projects/{slug}/github/settings", "GET, PATCH")
            .route(web::get().to(get_settings))
            .route(web::patch().to(update_settings)),
    )
    .service(
        super::resource("/projects/{slug}/github/sync-runs/{id}/events", "GET")
            .route(web::get().to(run_events)),
    )
    .service(
        super::resource("/projects/{slug}/tasks/{number}/sync-events", "GET")
            .route(web::get().to(task_events)),
    )
    .service(
        super::resource("/projects/{slug}/github/conflicts", "GET").route(web::get().to(conflicts)),
    )
    .service(
        super::resource("/projects/{slug}/github/conflicts/{id}/acknowledge", "POST")
            .route(web::post().to(acknowledge_conflict)),
    )
    .service(super::resource("/projects/{slug}/github/health", "GET").route(web::get().to(health)));
}

fn uuid_path(raw: &str, what: &'static str) -> Result<uuid::Uuid, Error> {
    raw.parse::<uuid::Uuid>().map_err(|_| Error::NotFound(what))
}

/// How the project syncs with its repository (the defaults when never changed:
/// `two_way`, `pmhub_wins`, no automatic push; projects linked before two-way sync
/// existed are `import_only`).
#[utoipa::path(get, path = "/api/v1/projects/{slug}/github/settings", operation_id = "getGithubSyncSettings", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = SyncSettingsDto), ReadErrors))]
pub async fn get_settings(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let settings = state.two_way.settings(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(SyncSettingsDto::from(settings)))
}

/// Changes the settings (admins only): at least one of `direction`,
/// `conflict_policy`, `push_new_tasks`. Answers the settings as they now are.
#[utoipa::path(patch, path = "/api/v1/projects/{slug}/github/settings", operation_id = "updateGithubSyncSettings", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    request_body = PatchSyncSettingsRequest,
    responses((status = 200, description = "OK", body = SyncSettingsDto), AdminWriteErrors))]
pub async fn update_settings(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let slug = slug(&path)?;
    let patch = body.required::<PatchSyncSettingsRequest>()?.into_domain();
    let settings = state
        .two_way
        .update_settings(&caller.actor, &slug, patch)
        .await?;
    Ok(HttpResponse::Ok().json(SyncSettingsDto::from(settings)))
}

/// What a run (import, push or reconcile) decided, item by item, oldest first.
#[utoipa::path(get, path = "/api/v1/projects/{slug}/github/sync-runs/{id}/events", operation_id = "listSyncRunEvents", tag = "github", security(("bearer" = [])),
    params(SlugPath, ("id" = uuid::Uuid, Path, description = "The run's id"), PageQuery),
    responses((status = 200, description = "OK", body = SyncEventList), ReadErrors))]
pub async fn run_events(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, id) = path.into_inner();
    let slug = slug(&slug_raw)?;
    let run_id = SyncRunId::from_uuid(uuid_path(&id, "sync run")?);
    let limit = Limit::new(query.limit)?;
    let cursor = id_cursor(query.cursor.as_deref())?;
    let page = state
        .two_way
        .run_events(&caller.actor, &slug, run_id, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(SyncEventList::from(page)))
}

/// What the sync did to one task, newest first, by its number (the entries stay
/// after the task is deleted).
#[utoipa::path(get, path = "/api/v1/projects/{slug}/tasks/{number}/sync-events", operation_id = "listTaskSyncEvents", tag = "tasks", security(("bearer" = [])),
    params(TaskPath, PageQuery),
    responses((status = 200, description = "OK", body = SyncEventList), ReadErrors))]
pub async fn task_events(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, number_raw) = path.into_inner();
    let (slug, number) = (slug(&slug_raw)?, task_number(&number_raw)?);
    let limit = Limit::new(query.limit)?;
    let cursor = id_cursor(query.cursor.as_deref())?;
    let page = state
        .two_way
        .task_events(&caller.actor, &slug, number, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(SyncEventList::from(page)))
}

/// The project's conflicts, newest first: only open ones unless `status=all`.
#[utoipa::path(get, path = "/api/v1/projects/{slug}/github/conflicts", operation_id = "listGithubConflicts", tag = "github", security(("bearer" = [])),
    params(SlugPath, ConflictListQuery),
    responses((status = 200, description = "OK", body = ConflictList), ReadErrors))]
pub async fn conflicts(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    Query(query): Query<ConflictListQuery>,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let limit = Limit::new(query.limit)?;
    let cursor = id_cursor(query.cursor.as_deref())?;
    let page = state
        .two_way
        .conflicts(&caller.actor, &slug, query.filter(), cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(ConflictList::from(page)))
}

/// Marks a conflict as seen (any member): it leaves the open list. Acknowledging
/// it again changes nothing and answers 204 too. No body.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/github/conflicts/{id}/acknowledge", operation_id = "acknowledgeGithubConflict", tag = "github", security(("bearer" = [])),
    params(SlugPath, ("id" = uuid::Uuid, Path, description = "The conflict's id")),
    responses((status = 204, description = "Acknowledged"), ReadErrors))]
pub async fn acknowledge_conflict(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, id) = path.into_inner();
    let slug = slug(&slug_raw)?;
    let id = uuid_path(&id, "conflict")?;
    state
        .two_way
        .acknowledge_conflict(&caller.actor, &slug, id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The health of the project's sync: the last delivery and reconcile, pending and
/// failed sync jobs, open conflicts and the last error.
#[utoipa::path(get, path = "/api/v1/projects/{slug}/github/health", operation_id = "getGithubSyncHealth", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = SyncHealthDto), ReadErrors))]
pub async fn health(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let health = state.two_way.health(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(SyncHealthDto::from(health)))
}
