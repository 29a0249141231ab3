//! End-to-end tests: the real pmhub HTTP server (`pm_api::Application`, in-process on a
//! random port, with its own PostgreSQL database) talking over HTTP to the in-memory GitHub
//! (`pm_github_fake`, its own instance per test). Nothing is mocked between the two: these
//! tests see what a user of the API and an operator of GitHub would see.
//!
//! Run with `make test` (or `DATABASE_URL=… cargo test -p pm-e2e`). Each test is independent
//! and builds its own world, so they run in parallel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "tests: counts of a few thousand issues compared across integer types"
)]

mod approval;
mod faults;
mod fleet;
mod flow;
mod github_contract;
mod jobs;
mod push;
mod support;
mod two_way;
mod webhooks;
