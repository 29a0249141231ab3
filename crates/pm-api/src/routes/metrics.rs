//! `GET /metrics`: Prometheus' text format (see `crate::metrics`).

use crate::metrics;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use pm_kernel::Error;
use secrecy::{ExposeSecret, SecretString};

/// The `metrics.token` setting: when set, a scrape must send it as a bearer token.
#[derive(Clone)]
pub struct MetricsToken(pub Option<SecretString>);

pub fn configure(cfg: &mut web::ServiceConfig) {
    metrics::handle();
    cfg.service(super::resource("/metrics", "GET").route(web::get().to(scrape)));
}

/// Every series of this process, plus the jobs table's (sampled at most every 5 s).
/// Not in the OpenAPI document: it is for Prometheus, not for API clients.
pub async fn scrape(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: Option<web::Data<MetricsToken>>,
) -> ApiResult<HttpResponse> {
    if let Some(expected) = token.as_ref().and_then(|t| t.0.as_ref()) {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !metrics::same_token(presented.as_bytes(), expected.expose_secret().as_bytes()) {
            return Err(ApiError::Domain(Error::Unauthenticated));
        }
    }
    metrics::job_sampler().sample(&state.db).await;
    let handle = metrics::handle();
    handle.run_upkeep();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(handle.render()))
}
