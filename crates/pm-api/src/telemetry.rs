//! Structured logs. Each request runs in a span carrying its `request_id`, so every
//! line logged while serving it carries the id too; `PMHUB_LOG_FORMAT=json` gives
//! one JSON object per line.

use crate::config::LogSettings;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // One line when each request's span closes: the access log.
        .with_span_events(FmtSpan::CLOSE);
    let result = if settings.format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
