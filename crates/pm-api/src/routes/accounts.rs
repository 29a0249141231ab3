//! The caller, the workspace's users and the caller's API tokens.

use crate::dto::{
    CreateTokenRequest, CreateUserRequest, CreatedTokenDto, CreatedUserDto, MeDto, PageQuery,
    TokenDto, TokenList, UserList,
};
use crate::extract::{Caller, JsonBody, Query, id_cursor};
use crate::problem::{ApiError, ApiResult};
use crate::responses::{
    AdminErrors, AdminWriteErrors, AuthErrors, BodyErrors, Conflict, Forbidden, ListErrors,
    ReadErrors,
};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use pm_kernel::{Cursor, Error, Limit, TokenId, UserId};
use secrecy::ExposeSecret;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/me", "GET").route(web::get().to(me)))
        .service(
            super::resource("/users", "GET, POST")
                .route(web::get().to(list_users))
                .route(web::post().to(create_user)),
        )
        .service(super::resource("/users/{id}", "DELETE").route(web::delete().to(delete_user)))
        .service(
            super::resource("/tokens", "GET, POST")
                .route(web::get().to(list_tokens))
                .route(web::post().to(create_token)),
        )
        .service(super::resource("/tokens/{id}", "DELETE").route(web::delete().to(delete_token)));
}

/// A path id: a UUID.
fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| Error::invalid("id", "must be a UUID").into())
}

/// `limit` and `cursor` from the query string, read after the role check so a
/// member gets 403 whatever it sent.
fn page_query(req: &HttpRequest) -> Result<(Limit, Option<Cursor>), ApiError> {
    let query = Query::<PageQuery>::parse(req.query_string())?;
    let limit = Limit::new(query.limit)?;
    let cursor = id_cursor(query.cursor.as_deref())?;
    Ok((limit, cursor))
}

/// The caller, its workspace and role.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "getMe", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = MeDto), AuthErrors))]
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(MeDto::new(&caller.user, &caller.workspace))
}

/// Adds a user to the caller's workspace (admins only) and returns its token once.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "createUser", tag = "accounts", security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, description = "Created", body = CreatedUserDto), AdminWriteErrors, Conflict))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let (email, role) = body.required::<CreateUserRequest>()?.into_domain()?;
    let created = state.accounts.add_user(&caller.actor, email, role).await?;
    Ok(HttpResponse::Created().json(CreatedUserDto {
        id: created.user.id.into_uuid(),
        email: created.user.email.to_string(),
        role: created.user.role.into(),
        token: created.token.expose_secret().to_string(),
    }))
}

/// The workspace's users, oldest first (admins only). Removed users are not listed.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "listUsers", tag = "accounts", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "OK", body = UserList), ListErrors, Forbidden))]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let (limit, cursor) = page_query(&req)?;
    let page = state
        .accounts
        .list_users(&caller.actor, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(UserList::from(page)))
}

/// Removes a user from the workspace and revokes all its tokens (admins only).
/// An admin may remove itself unless it is the workspace's last admin (409).
/// The user's row is kept (soft delete); its e-mail can be added again.
#[utoipa::path(delete, path = "/api/v1/users/{id}", operation_id = "deleteUser", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted"), AdminErrors, Conflict))]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let id = UserId::from_uuid(path_id(&path)?);
    state.accounts.remove_user(&caller.actor, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issues the caller a new API token, shown this once. The body is optional.
#[utoipa::path(post, path = "/api/v1/tokens", operation_id = "createToken", tag = "accounts", security(("bearer" = [])),
    request_body(content = Option<CreateTokenRequest>, description = "Optional; empty means `{}`"),
    responses((status = 201, description = "Created", body = CreatedTokenDto), ListErrors, BodyErrors))]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let request = body
        .optional::<CreateTokenRequest>()?
        .unwrap_or_default()
        .into_domain()?;
    let created = state.accounts.issue_token(&caller.actor, request).await?;
    Ok(HttpResponse::Created().json(CreatedTokenDto {
        meta: TokenDto::from(created.token),
        token: created.plaintext.expose_secret().to_string(),
    }))
}

/// The caller's API tokens, oldest first: revoked ones are not listed, expired
/// ones are (with their past `expires_at`). Never the tokens themselves.
#[utoipa::path(get, path = "/api/v1/tokens", operation_id = "listTokens", tag = "accounts", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "OK", body = TokenList), ListErrors))]
pub async fn list_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let (limit, cursor) = page_query(&req)?;
    let page = state
        .accounts
        .list_tokens(&caller.actor, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(TokenList::from(page)))
}

/// Revokes one of the caller's tokens (the one in use included): it answers 401
/// from then on. Another user's token, or one already revoked, is 404.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", operation_id = "deleteToken", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "Deleted"), ReadErrors))]
pub async fn delete_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = TokenId::from_uuid(path_id(&path)?);
    state.accounts.revoke_token(&caller.actor, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
