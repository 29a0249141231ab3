//! Prometheus metrics: the process-wide recorder, the HTTP middleware, and the
//! sampling of the `jobs` table that `GET /metrics` (`routes::metrics`) renders.
//!
//! Series (see docs/architecture.md, "Metrics"):
//! - `http_requests_total{method, route, status}` and
//!   `http_request_duration_seconds{method, route}` (histogram), `route` being
//!   actix's match pattern (`/api/v1/projects/{slug}/tasks`) or `unmatched`;
//! - `pmhub_jobs{kind, status}` and `pmhub_jobs_oldest_queued_age_seconds`,
//!   sampled from the database at most every [`JOB_SAMPLE_EVERY`];
//! - `pmhub_job_runs_total{kind, outcome}` (pm-worker);
//! - `pmhub_github_requests_total{method, outcome}` and
//!   `pmhub_github_rate_limit_remaining{connection, resource}` (pm-github).
//!
//! No label ever holds a token, a raw path or an id.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pm_postgres::Database;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const JOBS: &str = "pmhub_jobs";
pub const JOBS_OLDEST_QUEUED: &str = "pmhub_jobs_oldest_queued_age_seconds";
pub const JOBS_SAMPLE_ERRORS: &str = "pmhub_jobs_sample_errors_total";

/// Request latency buckets, in seconds: 1 ms to 60 s (`Prefer: wait` answers).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// Scrapes closer together than this reuse the last jobs sample: a busy
/// Prometheus (or several) cannot load the database through `/metrics`.
pub const JOB_SAMPLE_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use (one per process,
/// however many `Application`s a test builds).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
            .expect("the latency buckets are not empty");
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                // Another recorder was installed first (an embedding program):
                // render an empty one rather than fail.
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics stays empty");
                PrometheusBuilder::new().build_recorder().handle()
            }
        };
        describe();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request (until the head), by method and route pattern"
    );
    describe_gauge!(
        JOBS,
        "Jobs in the database by kind and status (queued, waiting, running, failed); the same on every instance"
    );
    describe_gauge!(
        JOBS_OLDEST_QUEUED,
        Unit::Seconds,
        "How long the oldest due queued job has waited to be claimed"
    );
    describe_counter!(
        JOBS_SAMPLE_ERRORS,
        "Samples of the jobs table that failed (the last values stay)"
    );
    describe_counter!(
        "pmhub_job_runs_total",
        "Job runs (attempts) settled by this instance, by kind and outcome"
    );
    describe_counter!(
        "pmhub_github_requests_total",
        "HTTP requests sent to GitHub (each attempt), by method and outcome"
    );
    describe_gauge!(
        "pmhub_github_rate_limit_remaining",
        "The last x-ratelimit-remaining GitHub sent, per connection (short token fingerprint) and resource"
    );
}

/// Counts and times every request. Wrapped outermost, so the status is the one
/// the client gets (problem answers included).
pub async fn record_http(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (route_label(res.request().match_pattern()), res.status()),
        Err(e) => ("unmatched".to_string(), e.as_response_error().status_code()),
    };
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route.clone(),
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed);
    result
}

/// The route's pattern as registered (`/api/v1/projects/{slug}`), never the
/// path itself: one series per route, whatever the slugs and numbers.
fn route_label(pattern: Option<String>) -> String {
    pattern.unwrap_or_else(|| "unmatched".to_string())
}

/// Known methods by name; anything a client invents is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Samples the `jobs` table into the job gauges, at most every
/// [`JOB_SAMPLE_EVERY`]. Series that were reported before and are gone now go
/// to zero instead of staying at their last value.
#[derive(Default)]
pub struct JobSampler {
    state: tokio::sync::Mutex<SamplerState>,
}

#[derive(Default)]
struct SamplerState {
    last: Option<Instant>,
    seen: BTreeSet<(String, String)>,
}

impl JobSampler {
    pub async fn sample(&self, db: &Database) {
        let mut state = self.state.lock().await;
        if state.last.is_some_and(|t| t.elapsed() < JOB_SAMPLE_EVERY) {
            return;
        }
        state.last = Some(Instant::now());
        match pm_postgres::job_snapshot(db).await {
            Ok(snapshot) => {
                let mut now_seen = BTreeSet::new();
                for (kind, status, n) in snapshot.counts {
                    metrics::gauge!(JOBS, "kind" => kind.clone(), "status" => status.clone())
                        .set(n as f64);
                    now_seen.insert((kind, status));
                }
                for (kind, status) in state.seen.difference(&now_seen) {
                    metrics::gauge!(JOBS, "kind" => kind.clone(), "status" => status.clone())
                        .set(0.0);
                }
                state.seen.extend(now_seen);
                metrics::gauge!(JOBS_OLDEST_QUEUED).set(snapshot.oldest_queued_age.as_secs_f64());
            }
            Err(e) => {
                tracing::warn!(error = %e, "the jobs table could not be sampled for /metrics");
                metrics::counter!(JOBS_SAMPLE_ERRORS).increment(1);
            }
        }
    }
}

/// One sampler per process (the gauges are process-wide too).
pub fn job_sampler() -> &'static JobSampler {
    static SAMPLER: OnceLock<JobSampler> = OnceLock::new();
    SAMPLER.get_or_init(JobSampler::default)
}

/// Constant-time comparison of the presented and configured metrics tokens.
pub(crate) fn same_token(presented: &[u8], expected: &[u8]) -> bool {
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(route_label(None), "unmatched");
        assert_eq!(
            route_label(Some("/api/v1/projects/{slug}".into())),
            "/api/v1/projects/{slug}"
        );
    }

    #[test]
    fn token_comparison() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abd", b"abc"));
        assert!(!same_token(b"ab", b"abc"));
    }
}
