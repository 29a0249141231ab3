//! pmhub's HTTP API (actix-web) and the wiring of adapters to domain services.
//! Handlers are thin: parse → call a service → map the result. No SQL, no GitHub
//! calls here.

pub mod config;
pub mod deadline;
pub mod dto;
pub mod extract;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod pacer;
pub mod problem;
pub mod responses;
pub mod routes;
pub mod server;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod transport_errors;
pub mod webhooks;

pub use config::Settings;
pub use startup::Application;
