//! The HTTP server: `actix-server` accepting connections and `actix-http`'s
//! `HttpService` speaking HTTP/1.1 on them, set up the way actix-web's own
//! `HttpServer::listen` does it (same builder calls, same service chain), with one
//! difference: each accepted socket is wrapped in a
//! [`ProblemWriter`], so the errors the h1
//! dispatcher answers before the application runs (400, 408, 431) are
//! problem+json too. `HttpServer` offers no hook for the socket type, hence this
//! module.

use crate::config::ServerSettings;
use crate::transport_errors::ProblemWriter;
use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive, Protocol, Request, Response};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, Service, ServiceFactory};
use actix_web::rt::net::TcpStream;
use std::fmt;
use std::net::TcpListener;
use std::time::Duration;

/// Serves the application built by `factory` (called once per worker, like
/// `HttpServer::new`'s) on `listener`, which is used as bound.
///
/// From `settings`: `workers` (default: one per core), `max_connections` (per
/// worker; past it new connections wait in the listen backlog),
/// `keep_alive_secs`, `head_timeout_secs` (actix's client request timeout),
/// `client_disconnect_timeout_secs` and `shutdown_timeout_secs` (in-flight
/// requests get that long after SIGINT/SIGTERM, which the server handles itself).
pub fn serve<F, I, S, B>(
    settings: &ServerSettings,
    listener: TcpListener,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = actix_server::Server::build()
        .max_concurrent_connections(settings.max_connections)
        .shutdown_timeout(settings.shutdown_timeout_secs);
    if let Some(workers) = settings.workers {
        builder = builder.workers(workers);
    }
    let graceful_shutdown = builder.graceful_shutdown_signal();
    let keep_alive = KeepAlive::from(Duration::from_secs(settings.keep_alive_secs));
    let head_timeout = Duration::from_secs(settings.head_timeout_secs);
    let disconnect_timeout = Duration::from_secs(settings.client_disconnect_timeout_secs);

    let server = builder
        .listen(format!("pmhub-http-{addr}"), listener, move || {
            let shutdown = graceful_shutdown.clone();
            let app = factory()
                .into_factory()
                .map_err(|err| err.into().error_response());
            let http = HttpService::build()
                // In-flight keep-alive connections close once a stop begins.
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(keep_alive)
                .client_request_timeout(head_timeout)
                .client_disconnect_timeout(disconnect_timeout)
                .h1_allow_half_closed(true)
                .local_addr(addr)
                // `HttpServer` passes `AppConfig::new(false, addr, addr)`, which is
                // crate-private; the default differs only in the host used for
                // requests that carry no `Host` header (`localhost:8080`).
                .finish(map_config(app, |_| AppConfig::default()));
            // As `HttpService::tcp()` does, with the socket wrapped: the peer
            // address feeds `connection_info()` (and the access log's client ip).
            fn_service(|io: TcpStream| async move {
                let peer_addr = io.peer_addr().ok();
                Ok::<_, DispatchError>((ProblemWriter::new(io), Protocol::Http1, peer_addr))
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}
