//! pmhub's HTTP API served in-process from an [`AppState`] the caller keeps a clone of, so a
//! measurement can read what the server's services did (e.g. the statements its database
//! pool ran) while requests still go through HTTP, routing, extraction and JSON.
//!
//! The routes, middleware stack and extractor configuration are pmhub's own
//! ([`pm_api::startup::app`], which `pm_api::Application` serves too, with request ids, the
//! problem+json fallback and the body deadline); only the server around it is this
//! module's, since `pm_api::Application` hides the database pool it builds.

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;
use anyhow::Context;
use pm_api::state::AppState;
use std::time::Duration;

/// pmhub's default `server.body_timeout_secs`.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running in-process server; stopped on [`InProcessServer::stop`] or drop.
#[derive(Debug)]
pub struct InProcessServer {
    /// E.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    handle: ServerHandle,
}

impl InProcessServer {
    /// Serves `state` on a free loopback port with `workers` worker threads. Must be called
    /// inside a Tokio runtime.
    pub fn start(state: AppState, workers: usize) -> anyhow::Result<Self> {
        let server = HttpServer::new(move || {
            pm_api::startup::app(
                state.clone(),
                BODY_TIMEOUT,
                pm_api::routes::metrics::MetricsToken(None),
            )
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1)
        .bind("127.0.0.1:0")
        .context("binding 127.0.0.1:0")?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .context("the server bound no address")?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            base_url: format!("http://{addr}"),
            handle,
        })
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        // Sends the stop command now; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}
