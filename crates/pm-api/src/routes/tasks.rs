//! A project's tasks, addressed by number.

use crate::dto::{
    CreateTaskRequest, PatchTaskRequest, SlugPath, TaskDto, TaskList, TaskListQuery, TaskPath,
};
use crate::extract::{Caller, JsonBody, Query, number_cursor, slug, task_number};
use crate::problem::ApiResult;
use crate::responses::{ReadErrors, WriteErrors};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use pm_kernel::Limit;
use pm_tasks::TaskFilter;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/projects/{slug}/tasks", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        super::resource("/projects/{slug}/tasks/{number}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

#[utoipa::path(post, path = "/api/v1/projects/{slug}/tasks", operation_id = "createTask", tag = "tasks", security(("bearer" = [])),
    params(SlugPath),
    request_body = CreateTaskRequest,
    responses((status = 201, description = "Created", body = TaskDto), WriteErrors))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let new = body.required::<CreateTaskRequest>()?.into_domain()?;
    let task = state.tasks.create(&caller.actor, &slug, new).await?;
    Ok(HttpResponse::Created().json(TaskDto::from(task)))
}

/// Tasks by number, optionally filtered by `status` and `source`.
#[utoipa::path(get, path = "/api/v1/projects/{slug}/tasks", operation_id = "listTasks", tag = "tasks", security(("bearer" = [])),
    params(SlugPath, TaskListQuery),
    responses((status = 200, description = "OK", body = TaskList), ReadErrors))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    Query(query): Query<TaskListQuery>,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let limit = Limit::new(query.limit)?;
    let cursor = number_cursor(query.cursor.as_deref())?;
    let filter = TaskFilter {
        status: query.status.map(Into::into),
        source: query.source.map(Into::into),
    };
    let page = state
        .tasks
        .list(&caller.actor, &slug, filter, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(TaskList::from(page)))
}

#[utoipa::path(get, path = "/api/v1/projects/{slug}/tasks/{number}", operation_id = "getTask", tag = "tasks", security(("bearer" = [])),
    params(TaskPath),
    responses((status = 200, description = "OK", body = TaskDto), ReadErrors))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, number_raw) = path.into_inner();
    let task = state
        .tasks
        .get(&caller.actor, &slug(&slug_raw)?, task_number(&number_raw)?)
        .await?;
    Ok(HttpResponse::Ok().json(TaskDto::from(task)))
}

#[utoipa::path(patch, path = "/api/v1/projects/{slug}/tasks/{number}", operation_id = "updateTask", tag = "tasks", security(("bearer" = [])),
    params(TaskPath),
    request_body = PatchTaskRequest,
    responses((status = 200, description = "OK", body = TaskDto), WriteErrors))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let (slug_raw, number_raw) = path.into_inner();
    let (slug, number) = (slug(&slug_raw)?, task_number(&number_raw)?);
    let patch = body.required::<PatchTaskRequest>()?.into_domain()?;
    let task = state
        .tasks
        .update(&caller.actor, &slug, number, patch)
        .await?;
    Ok(HttpResponse::Ok().json(TaskDto::from(task)))
}

#[utoipa::path(delete, path = "/api/v1/projects/{slug}/tasks/{number}", operation_id = "deleteTask", tag = "tasks", security(("bearer" = [])),
    params(TaskPath),
    responses((status = 204, description = "No content"), ReadErrors))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, number_raw) = path.into_inner();
    state
        .tasks
        .delete(&caller.actor, &slug(&slug_raw)?, task_number(&number_raw)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
