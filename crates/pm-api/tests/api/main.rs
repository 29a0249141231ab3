//! HTTP tests: the real server on a random port, a real PostgreSQL database of its
//! own per test. One binary with modules, so the app is linked once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

mod accounts;
mod approve;
mod bootstrap;
mod conventions;
mod github;
mod github_double;
mod helpers;
mod metrics;
mod projects;
mod proxy;
mod push;
mod read_path;
mod resilience;
mod specs;
mod tasks;
mod tokens;
mod two_way;
mod webhooks;
