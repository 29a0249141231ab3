//! The caller and the workspace's users.

use crate::dto::{CreateUserRequest, CreatedUserDto, MeDto};
use crate::extract::{Caller, required_json};
use crate::problem::ApiResult;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use pm_accounts::Email;
use secrecy::ExposeSecret;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/me", "GET").route(web::get().to(me)))
        .service(super::resource("/users", "POST").route(web::post().to(create_user)));
}

/// The caller, its workspace and role.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "getMe", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = MeDto),
              (status = 401, description = "UNAUTHENTICATED: no or bad API token", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(MeDto::new(&caller.user, &caller.workspace))
}

/// Adds a user to the caller's workspace (admins only) and returns its token once.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "createUser", tag = "accounts", security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, description = "Created", body = CreatedUserDto),
              (status = 400, description = "VALIDATION_FAILED: the body is not JSON", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 401, description = "UNAUTHENTICATED: no or bad API token", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 403, description = "FORBIDDEN: the caller is not an admin", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, description = "CONFLICT", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "VALIDATION_FAILED: invalid values or unknown fields", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let body: CreateUserRequest = required_json(&body)?;
    let email = Email::new(&body.email)?;
    let created = state
        .accounts
        .add_user(&caller.actor, email, body.role.into())
        .await?;
    Ok(HttpResponse::Created().json(CreatedUserDto {
        id: created.user.id.into_uuid(),
        email: created.user.email.to_string(),
        role: created.user.role.into(),
        token: created.token.expose_secret().to_string(),
    }))
}
