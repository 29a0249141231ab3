//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the
//! offline Swagger UI (assets vendored into the binary: no CDN needed).

use crate::{dto, problem, routes};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pmhub API",
        version = "1",
        description = "Projects, specs and tasks kept in step with GitHub. Errors are \
            `application/problem+json` with a stable `code`. Authenticate with \
            `Authorization: Bearer <token>`."
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::accounts::me,
        routes::accounts::create_user,
        routes::accounts::list_users,
        routes::accounts::delete_user,
        routes::accounts::create_token,
        routes::accounts::list_tokens,
        routes::accounts::delete_token,
        routes::projects::create,
        routes::projects::list,
        routes::projects::get,
        routes::projects::update,
        routes::projects::delete,
        routes::specs::get,
        routes::specs::put,
        routes::specs::submit,
        routes::specs::approve,
        routes::tasks::create,
        routes::tasks::list,
        routes::tasks::get,
        routes::tasks::update,
        routes::tasks::delete,
        routes::github::connect,
        routes::github::show,
        routes::github::disconnect,
        routes::github::list_repos,
        routes::github::set_repo,
        routes::github::clear_repo,
        routes::github::sync,
        routes::github::sync_runs,
        routes::github::push,
        routes::github::sync_run,
        routes::github::cancel_sync_run,
        routes::sync::get_settings,
        routes::sync::update_settings,
        routes::sync::run_events,
        routes::sync::task_events,
        routes::sync::conflicts,
        routes::sync::acknowledge_conflict,
        routes::sync::health,
    ),
    components(schemas(
        problem::Problem,
        problem::ProblemField,
        dto::MeDto,
        dto::WorkspaceDto,
        dto::RoleDto,
        dto::CreateUserRequest,
        dto::CreatedUserDto,
        dto::UserDto,
        dto::UserList,
        dto::CreateTokenRequest,
        dto::TokenDto,
        dto::TokenList,
        dto::CreatedTokenDto,
        dto::ProjectDto,
        dto::ProjectList,
        dto::CreateProjectRequest,
        dto::PatchProjectRequest,
        dto::SpecDto,
        dto::SpecStatusDto,
        dto::PutSpecRequest,
        dto::ApproveResponse,
        dto::RepositoryDto,
        dto::RepositoryOutcomeKind,
        dto::TaskDto,
        dto::TaskList,
        dto::TaskStatusDto,
        dto::PriorityDto,
        dto::TaskSourceDto,
        dto::ExternalLinkDto,
        dto::CreateTaskRequest,
        dto::PatchTaskRequest,
        dto::ConnectRequest,
        dto::ConnectionDto,
        dto::RepoDto,
        dto::RepoList,
        dto::SetRepoRequest,
        dto::SyncRequest,
        dto::SyncResponse,
        dto::SyncRunDto,
        dto::SyncProgressDto,
        dto::SyncRunList,
        dto::SyncKindDto,
        dto::SyncStatusDto,
        dto::PushResponse,
        dto::LinkRepoResponse,
        dto::WebhookDto,
        dto::WebhookStatusDto,
        dto::SyncSettingsDto,
        dto::PatchSyncSettingsRequest,
        dto::SyncDirectionDto,
        dto::ConflictPolicyDto,
        dto::SyncEventDto,
        dto::SyncEventList,
        dto::SyncEventKindDto,
        dto::ChangeDirectionDto,
        dto::SyncFieldDto,
        dto::ConflictDto,
        dto::ConflictList,
        dto::ConflictWinnerDto,
        dto::ConflictStatusDto,
        dto::SyncHealthDto,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "accounts", description = "The caller, the workspace's users and API tokens"),
        (name = "projects", description = "Projects"),
        (name = "specs", description = "A project's spec: draft → interviewing → review"),
        (name = "tasks", description = "A project's numbered tasks"),
        (name = "github", description = "GitHub connection, repositories, import and push"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi().merge_from(routes::webhooks::WebhookDoc::openapi())
}
