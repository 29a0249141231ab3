//! Projects.

use crate::dto::{
    CreateProjectRequest, PageQuery, PatchProjectRequest, ProjectDto, ProjectList, SlugPath,
};
use crate::extract::{Caller, JsonBody, Query, id_cursor, slug};
use crate::problem::ApiResult;
use crate::responses::{AdminErrors, BodyErrors, ListErrors, ReadErrors, WriteErrors};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use pm_kernel::Limit;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/projects", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        super::resource("/projects/{slug}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// Creates a project (and its spec, in `draft`).
#[utoipa::path(post, path = "/api/v1/projects", operation_id = "createProject", tag = "projects", security(("bearer" = [])),
    request_body = CreateProjectRequest,
    responses((status = 201, description = "Created", body = ProjectDto), ListErrors, BodyErrors))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let new = body.required::<CreateProjectRequest>()?.into_domain()?;
    let project = state.projects.create(&caller.actor, new).await?;
    Ok(HttpResponse::Created().json(ProjectDto::from(project)))
}

/// The workspace's projects, oldest first.
#[utoipa::path(get, path = "/api/v1/projects", operation_id = "listProjects", tag = "projects", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "OK", body = ProjectList), ListErrors))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let limit = Limit::new(query.limit)?;
    let cursor = id_cursor(query.cursor.as_deref())?;
    let page = state
        .projects
        .list(&caller.actor, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(ProjectList::from(page)))
}

#[utoipa::path(get, path = "/api/v1/projects/{slug}", operation_id = "getProject", tag = "projects", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = ProjectDto), ReadErrors))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = state.projects.get(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(project)))
}

/// Changes the name and/or description.
#[utoipa::path(patch, path = "/api/v1/projects/{slug}", operation_id = "updateProject", tag = "projects", security(("bearer" = [])),
    params(SlugPath),
    request_body = PatchProjectRequest,
    responses((status = 200, description = "OK", body = ProjectDto), WriteErrors))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let patch = body.required::<PatchProjectRequest>()?.into_domain()?;
    let project = state.projects.update(&caller.actor, &slug, patch).await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(project)))
}

/// Deletes the project with its spec, tasks and links (admins only).
#[utoipa::path(delete, path = "/api/v1/projects/{slug}", operation_id = "deleteProject", tag = "projects", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 204, description = "No content"), AdminErrors))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    state.projects.delete(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
