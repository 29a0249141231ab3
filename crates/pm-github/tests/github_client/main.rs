//! Integration tests of `pm_github::GithubClient` against a local HTTP double
//! (wiremock) serving GitHub's real payloads from `tests/fixtures/github/`.
//! One test binary with modules, to keep link time down.

mod create;
mod failures;
mod list_issues;
mod shared;
mod support;
mod user_and_repos;
