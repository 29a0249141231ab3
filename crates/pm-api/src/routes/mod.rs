//! Route modules, one per area, each exposing `configure`.

pub mod accounts;
pub mod github;
pub mod health;
pub mod metrics;
pub mod projects;
pub mod specs;
pub mod sync;
pub mod tasks;
pub mod webhooks;

use crate::problem::ApiError;
use actix_web::{HttpResponse, Resource, web};

/// A resource whose unmatched methods answer 405 with `Allow: {allow}`.
pub(crate) fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow))
    }))
}
