//! The GitHub integration: connection, repositories, import and run history.

use crate::dto::{
    ConnectRequest, ConnectionDto, PageQuery, ProjectDto, PushResponse, RepoDto, RepoList,
    SetRepoRequest, SlugPath, SyncRequest, SyncResponse, SyncRunList,
};
use crate::extract::{Caller, JsonBody, Query, id_cursor, slug};
use crate::problem::{ApiError, ApiResult};
use crate::responses::{
    AdminErrors, AdminWriteErrors, AuthErrors, BodyErrors, Conflict, Forbidden, GithubErrors,
    Invalid, NotFound, ReadErrors, WriteErrors,
};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use pm_kernel::{Error, Limit};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/integrations/github", "GET, POST, DELETE")
            .route(web::post().to(connect))
            .route(web::get().to(show))
            .route(web::delete().to(disconnect)),
    )
    .service(super::resource("/github/repos", "GET").route(web::get().to(list_repos)))
    .service(
        super::resource("/projects/{slug}/github-repo", "PUT, DELETE")
            .route(web::put().to(set_repo))
            .route(web::delete().to(clear_repo)),
    )
    .service(super::resource("/projects/{slug}/github/sync", "POST").route(web::post().to(sync)))
    .service(super::resource("/projects/{slug}/github/push", "POST").route(web::post().to(push)))
    .service(
        super::resource("/projects/{slug}/github/sync-runs", "GET").route(web::get().to(sync_runs)),
    );
}

/// Connects the workspace to GitHub with a personal access token (admins only).
/// The token is verified with GitHub's `GET /user`, stored encrypted, and never
/// shown again; reconnecting replaces it.
#[utoipa::path(post, path = "/api/v1/integrations/github", operation_id = "connectGithub", tag = "github", security(("bearer" = [])),
    request_body = ConnectRequest,
    responses((status = 201, description = "Created", body = ConnectionDto), AuthErrors, Invalid, BodyErrors, Forbidden, GithubErrors))]
pub async fn connect(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let request: ConnectRequest = body.secret(r#"{"token": "<GitHub token>"}"#)?;
    let info = state
        .connections
        .connect(&caller.actor, request.token)
        .await?;
    Ok(HttpResponse::Created().json(ConnectionDto::from(info)))
}

/// The workspace's connection: the account and the token's last 4 characters.
#[utoipa::path(get, path = "/api/v1/integrations/github", operation_id = "getGithubConnection", tag = "github", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = ConnectionDto), AuthErrors, NotFound))]
pub async fn show(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    match state.connections.show(&caller.actor).await {
        Ok(info) => Ok(HttpResponse::Ok().json(ConnectionDto::from(info))),
        Err(Error::IntegrationNotConnected) => Err(ApiError::NotConnected),
        Err(other) => Err(other.into()),
    }
}

/// Deletes the stored credential (admins only).
#[utoipa::path(delete, path = "/api/v1/integrations/github", operation_id = "disconnectGithub", tag = "github", security(("bearer" = [])),
    responses((status = 204, description = "No content"), AuthErrors, NotFound, Forbidden))]
pub async fn disconnect(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    match state.connections.disconnect(&caller.actor).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(Error::IntegrationNotConnected) => Err(ApiError::NotConnected),
        Err(other) => Err(other.into()),
    }
}

/// Every repository the token can access (all of GitHub's pages; one page here).
#[utoipa::path(get, path = "/api/v1/github/repos", operation_id = "listGithubRepos", tag = "github", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = RepoList), AuthErrors, Conflict, Invalid, GithubErrors))]
pub async fn list_repos(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let repos = state.repos.list(&caller.actor).await?;
    Ok(HttpResponse::Ok().json(RepoList {
        items: repos.into_iter().map(RepoDto::from).collect(),
        next_cursor: None,
    }))
}

/// Links a repository to the project by hand (admins only), after checking that
/// GitHub shows it to the token.
#[utoipa::path(put, path = "/api/v1/projects/{slug}/github-repo", operation_id = "setProjectGithubRepo", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    request_body = SetRepoRequest,
    responses((status = 200, description = "OK", body = ProjectDto), AdminWriteErrors, Conflict, GithubErrors))]
pub async fn set_repo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let repo = body.required::<SetRepoRequest>()?.into_domain()?;
    let slug = slug(&path)?;
    let project = state.repos.link(&caller.actor, &slug, &repo).await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(project)))
}

/// Unlinks the project's repository (admins only).
#[utoipa::path(delete, path = "/api/v1/projects/{slug}/github-repo", operation_id = "clearProjectGithubRepo", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = ProjectDto), AdminErrors))]
pub async fn clear_repo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let project = state
        .projects
        .clear_github_repo(&caller.actor, &slug(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(project)))
}

/// Imports the repository's issues (default: the project's `github_repo`) as
/// tasks. Idempotent: issues already linked are skipped; pull requests are ignored.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/github/sync", operation_id = "syncGithubIssues", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    request_body(content = Option<SyncRequest>, description = "Optional; `{}` or no body uses the project's repository"),
    responses((status = 200, description = "OK", body = SyncResponse), WriteErrors, Conflict, GithubErrors))]
pub async fn sync(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let repo = body
        .optional::<SyncRequest>()?
        .unwrap_or_default()
        .into_domain()?;
    let report = state.importer.run(&caller.actor, &slug, repo).await?;
    Ok(HttpResponse::Ok().json(SyncResponse::from(report)))
}

/// The project's imports and pushes, newest first.
#[utoipa::path(get, path = "/api/v1/projects/{slug}/github/sync-runs", operation_id = "listSyncRuns", tag = "github", security(("bearer" = [])),
    params(SlugPath, PageQuery),
    responses((status = 200, description = "OK", body = SyncRunList), ReadErrors))]
pub async fn sync_runs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let Query(query) = query;
    let limit = Limit::new(query.limit)?;
    let cursor = id_cursor(query.cursor.as_deref())?;
    let page = state
        .importer
        .history(&caller.actor, &slug, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(SyncRunList::from(page)))
}

/// Creates an issue in the project's repository for each task that has no GitHub
/// link, and links it. Repeating it creates nothing new, also after an
/// interrupted push. Creates are spaced about a second apart.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/github/push", operation_id = "pushTasksToGithub", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    responses((status = 200, description = "OK", body = PushResponse), ReadErrors, Conflict, GithubErrors))]
pub async fn push(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let report = state.pusher.run(&caller.actor, &slug(&path)?).await?;
    Ok(HttpResponse::Ok().json(PushResponse::from(report)))
}
