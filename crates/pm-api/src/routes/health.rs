//! Liveness and readiness.

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz", "GET").route(web::get().to(healthz)))
        .service(super::resource("/readyz", "GET").route(web::get().to(readyz)));
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health",
    responses((status = 200, description = "OK", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The process can serve: the database answers.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health",
    responses((status = 200, description = "OK", body = Health),
              (status = 503, description = "the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    match state.db.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(Health { status: "ready" })),
        Err(err) => {
            tracing::warn!(error = %err, "not ready: the database does not answer");
            Err(ApiError::NotReady)
        }
    }
}
