//! A project's spec and its workflow.

use crate::dto::{ApproveResponse, PutSpecRequest, SlugPath, SpecDto};
use crate::extract::{Caller, JsonBody, slug};
use crate::problem::ApiResult;
use crate::responses::{AdminErrors, Conflict, ReadErrors, WriteErrors};
use crate::state::AppState;
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/projects/{slug}/spec", "GET, PUT")
            .route(web::get().to(get))
            .route(web::put().to(put)),
    )
    .service(super::resource("/projects/{slug}/spec/submit", "POST").route(web::post().to(submit)))
    .service(super::resource("/projects/{slug}/approve", "POST").route(web::post().to(approve)));
}

#[utoipa::path(get, path = "/api/v1/projects/{slug}/spec", operation_id = "getSpec", tag = "specs", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = SpecDto), ReadErrors))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let spec = state.specs.get(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(SpecDto::from(spec)))
}

/// Replaces the content (not once the spec is approved).
#[utoipa::path(put, path = "/api/v1/projects/{slug}/spec", operation_id = "putSpec", tag = "specs", security(("bearer" = [])),
    params(SlugPath),
    request_body = PutSpecRequest,
    responses((status = 200, description = "OK", body = SpecDto), WriteErrors, Conflict))]
pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let content = body.required::<PutSpecRequest>()?.into_domain()?;
    let spec = state.specs.edit(&caller.actor, &slug, content).await?;
    Ok(HttpResponse::Ok().json(SpecDto::from(spec)))
}

/// `draft` → `interviewing`.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/spec/submit", operation_id = "submitSpec", tag = "specs", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = SpecDto), ReadErrors, Conflict))]
pub async fn submit(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let spec = state.specs.submit(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(SpecDto::from(spec)))
}

/// `interviewing` → `review` (admins only; 200 again when already in review).
/// When the project has no repository, a private one is created under the
/// configured org; a failure there is reported in `repository` and never undoes
/// the approval.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/approve", operation_id = "approveSpec", tag = "specs", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = ApproveResponse), AdminErrors, Conflict))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let approval = state.specs.approve(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(ApproveResponse::from(approval)))
}
