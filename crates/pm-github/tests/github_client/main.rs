//! Integration tests of `pm_github::GithubClient` against a local HTTP double
//! (wiremock) serving GitHub's real payloads from `tests/fixtures/github/`.
//! One test binary with modules, to keep link time down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed unwrap, expect, index or panic is the failure report we want"
)]

mod create;
mod failures;
mod list_issues;
mod shared;
mod support;
mod two_way;
mod user_and_repos;
