//! The GitHub integration: connection, repositories, import and run history.

use crate::dto::{
    ConnectRequest, ConnectionDto, LinkRepoResponse, PageQuery, ProjectDto, PushResponse, RepoDto,
    RepoList, SetRepoRequest, SlugPath, SyncRequest, SyncResponse, SyncRunDto, SyncRunList,
};
use crate::extract::{Caller, JsonBody, Query, id_cursor, slug};
use crate::problem::{ApiError, ApiResult};
use crate::responses::{
    AdminErrors, AdminWriteErrors, AuthErrors, BodyErrors, Conflict, Forbidden, GithubErrors,
    Invalid, NotFound, ReadErrors, WriteErrors,
};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use pm_integrations::{SyncKind, SyncRun, SyncStatus};
use pm_kernel::{Error, Limit, SyncRunId};
use std::time::{Duration, Instant};

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
    )
    .service(
        super::resource("/projects/{slug}/github/sync-runs/{id}", "GET, DELETE")
            .route(web::get().to(sync_run))
            .route(web::delete().to(cancel_sync_run)),
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
/// GitHub shows it to the token. With `server.public_url` and a webhook secret
/// configured, then registers the repository's webhook; `webhook` says what
/// happened (`registered`, `already_exists`, `manual` with how to add it by hand,
/// `failed` with GitHub's status: the repository is linked all the same).
#[utoipa::path(put, path = "/api/v1/projects/{slug}/github-repo", operation_id = "setProjectGithubRepo", tag = "github", security(("bearer" = [])),
    params(SlugPath),
    request_body = SetRepoRequest,
    responses((status = 200, description = "OK", body = LinkRepoResponse), AdminWriteErrors, Conflict, GithubErrors))]
pub async fn set_repo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    caller.actor.require_admin()?;
    let repo = body.required::<SetRepoRequest>()?.into_domain()?;
    let slug = slug(&path)?;
    let linked = state.repos.link(&caller.actor, &slug, &repo).await?;
    Ok(HttpResponse::Ok().json(LinkRepoResponse::from(linked)))
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
/// tasks, in the background: answers 202 with the run (and its URL in `Location`)
/// at once; while an import of the project is queued or running, answers 202 with
/// that run. With `Prefer: wait=N` (N ≤ 60) waits up to N seconds and answers 200
/// with the counts if the run has finished by then. Idempotent: issues already
/// linked are skipped; pull requests are ignored. Checked before queueing: the
/// body, the token, and that GitHub shows the repository to it.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/github/sync", operation_id = "syncGithubIssues", tag = "github", security(("bearer" = [])),
    params(SlugPath,
           ("Prefer" = Option<String>, Header, description = "`wait=N` (RFC 7240): wait up to N seconds (at most 60) for the run to finish")),
    request_body(content = Option<SyncRequest>, description = "Optional; `{}` or no body uses the project's repository"),
    responses((status = 200, description = "With `Prefer: wait`: the run finished in time (`Preference-Applied: wait=N`)", body = SyncResponse),
              (status = 202, description = "Accepted: the run (new, or the one already queued or running); `Location` is its URL", body = SyncRunDto,
               headers(("Location" = String, description = "/api/v1/projects/{slug}/github/sync-runs/{id}"))),
              WriteErrors, Conflict, GithubErrors))]
pub async fn sync(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let repo = body
        .optional::<SyncRequest>()?
        .unwrap_or_default()
        .into_domain()?;
    let wait = prefer_wait(&req);
    let (run, _joined) = state
        .sync_jobs
        .start(&caller.actor, &slug, SyncKind::Import, repo)
        .await?;
    answer(&state, &caller, &slug, run, wait, |run| {
        HttpResponse::Ok().json(SyncResponse::from(run))
    })
    .await
}

/// The longest `Prefer: wait` honoured.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks at its run.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// `wait=N` from the `Prefer` headers (RFC 7240), capped at [`MAX_WAIT`];
/// preferences it does not understand are ignored, as the RFC says.
pub fn prefer_wait(req: &HttpRequest) -> Option<Duration> {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pref| {
            let (name, value) = pref.split(';').next()?.split_once('=')?;
            (name.trim().eq_ignore_ascii_case("wait"))
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
        .next()
        .map(|secs| Duration::from_secs(secs).min(MAX_WAIT))
}

fn location(slug: &pm_projects::Slug, run: &SyncRun) -> String {
    format!("/api/v1/projects/{slug}/github/sync-runs/{}", run.id)
}

fn accepted(slug: &pm_projects::Slug, run: SyncRun) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("location", location(slug, &run)))
        .json(SyncRunDto::from(run))
}

/// 202 with the run, or, with `Prefer: wait`, the finished run's answer: `done`
/// for a success, the run's error as a problem for a failure. A run parked past
/// the wait (a rate limit) or waiting for a retry answers 202 at once.
async fn answer(
    state: &AppState,
    caller: &Caller,
    slug: &pm_projects::Slug,
    mut run: SyncRun,
    wait: Option<Duration>,
    done: impl FnOnce(&SyncRun) -> HttpResponse,
) -> ApiResult<HttpResponse> {
    let Some(wait) = wait else {
        return Ok(accepted(slug, run));
    };
    let applied = ("preference-applied", format!("wait={}", wait.as_secs()));
    let deadline = Instant::now() + wait;
    let wall_deadline = pm_kernel::now() + wait;
    loop {
        let parked_past_deadline = run.status == SyncStatus::Waiting
            && run.resumes_at.is_some_and(|at| at > wall_deadline);
        // An attempt failed and the run waits for its retry (GitHub unavailable):
        // answer now with the run and its error rather than hold the request.
        let retrying = run.status == SyncStatus::Queued && run.error_code.is_some();
        if run.status.is_finished()
            || parked_past_deadline
            || retrying
            || Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(WAIT_POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        run = state.sync_jobs.get(&caller.actor, slug, run.id).await?;
    }
    let mut response = match run.status {
        SyncStatus::Succeeded => done(&run),
        SyncStatus::Failed | SyncStatus::Canceled => {
            use actix_web::ResponseError;
            run_error(&run).error_response()
        }
        _ => accepted(slug, run),
    };
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&applied.1) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(applied.0),
            value,
        );
    }
    Ok(response)
}

/// The problem a failed or canceled run answers a waiting request with: the
/// error its last attempt ended with, as the request would have answered before
/// runs were jobs.
fn run_error(run: &SyncRun) -> ApiError {
    use pm_kernel::GithubError;
    if run.status == SyncStatus::Canceled {
        return Error::conflict(
            pm_kernel::ConflictReason::RunFinished,
            format!("the run {} was canceled", run.id),
        )
        .into();
    }
    let detail = format!("the run {} failed; see its sync-runs URL", run.id);
    let err = match run.error_code.as_deref().unwrap_or_default() {
        "GITHUB_UNAUTHORIZED" => Error::Github(GithubError::Unauthorized),
        "GITHUB_FORBIDDEN" => Error::Github(GithubError::Forbidden { message: detail }),
        "GITHUB_NOT_FOUND" => Error::Github(GithubError::NotFound { message: detail }),
        "GITHUB_RATE_LIMITED" => Error::Github(GithubError::RateLimited {
            retry_after_secs: 60,
        }),
        "GITHUB_UNAVAILABLE" | "LEASE_EXPIRED" => Error::Github(GithubError::Unavailable {
            status: None,
            reason: detail,
        }),
        "GITHUB_REJECTED" => Error::Github(GithubError::Rejected {
            status: None,
            message: detail,
        }),
        "CONFLICT" => Error::conflict(pm_kernel::ConflictReason::LeaseHeld, detail),
        "NOT_FOUND" => Error::NotFound("project"),
        "INTEGRATION_NOT_CONNECTED" => Error::IntegrationNotConnected,
        "VALIDATION_FAILED" => Error::invalid("repo", detail),
        "DATABASE_UNAVAILABLE" => Error::Unavailable(detail),
        _ => Error::internal(detail),
    };
    err.into()
}

fn run_id(raw: &str) -> Result<SyncRunId, Error> {
    raw.parse::<uuid::Uuid>()
        .map(SyncRunId::from_uuid)
        .map_err(|_| Error::NotFound("sync run"))
}

/// One import or push: its status (`queued`, `running`, `waiting` with
/// `resumes_at`, `succeeded`, `failed`, `canceled`), live counts, progress,
/// attempts and error code.
#[utoipa::path(get, path = "/api/v1/projects/{slug}/github/sync-runs/{id}", operation_id = "getSyncRun", tag = "github", security(("bearer" = [])),
    params(SlugPath, ("id" = uuid::Uuid, Path, description = "The run's id")),
    responses((status = 200, description = "OK", body = SyncRunDto), ReadErrors))]
pub async fn sync_run(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, id) = path.into_inner();
    let slug = slug(&slug_raw)?;
    let run = state
        .sync_jobs
        .get(&caller.actor, &slug, run_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(SyncRunDto::from(run)))
}

/// Cancels a queued or waiting run at once (200), or asks a running one to stop at
/// its next page or create (202; its status turns `canceled` then). What was stored
/// or created stays.
#[utoipa::path(delete, path = "/api/v1/projects/{slug}/github/sync-runs/{id}", operation_id = "cancelSyncRun", tag = "github", security(("bearer" = [])),
    params(SlugPath, ("id" = uuid::Uuid, Path, description = "The run's id")),
    responses((status = 200, description = "Canceled", body = SyncRunDto),
              (status = 202, description = "Accepted: the running run stops at its next safe point", body = SyncRunDto),
              ReadErrors, Conflict))]
pub async fn cancel_sync_run(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug_raw, id) = path.into_inner();
    let slug = slug(&slug_raw)?;
    let (run, canceled) = state
        .sync_jobs
        .cancel(&caller.actor, &slug, run_id(&id)?)
        .await?;
    let dto = SyncRunDto::from(run);
    Ok(if canceled {
        HttpResponse::Ok().json(dto)
    } else {
        HttpResponse::Accepted().json(dto)
    })
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
        .sync_jobs
        .history(&caller.actor, &slug, cursor.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(SyncRunList::from(page)))
}

/// Creates an issue in the project's repository for each task that has no GitHub
/// link, and links it, in the background: answers 202 with the run at once (or
/// with the push already queued or running). With `Prefer: wait=N` (N ≤ 60)
/// answers 200 with the counts if it finished in time. Repeating it creates
/// nothing new, also after an interrupted push. Creates are spaced about a second
/// apart.
#[utoipa::path(post, path = "/api/v1/projects/{slug}/github/push", operation_id = "pushTasksToGithub", tag = "github", security(("bearer" = [])),
    params(SlugPath,
           ("Prefer" = Option<String>, Header, description = "`wait=N` (RFC 7240): wait up to N seconds (at most 60) for the run to finish")),
    responses((status = 200, description = "With `Prefer: wait`: the push finished in time (`Preference-Applied: wait=N`)", body = PushResponse),
              (status = 202, description = "Accepted: the run (new, or the one already queued or running); `Location` is its URL", body = SyncRunDto,
               headers(("Location" = String, description = "/api/v1/projects/{slug}/github/sync-runs/{id}"))),
              ReadErrors, Conflict, GithubErrors))]
pub async fn push(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = slug(&path)?;
    let wait = prefer_wait(&req);
    let (run, _joined) = state
        .sync_jobs
        .start(&caller.actor, &slug, SyncKind::Push, None)
        .await?;
    answer(&state, &caller, &slug, run, wait, |run| {
        HttpResponse::Ok().json(PushResponse::from(run))
    })
    .await
}
