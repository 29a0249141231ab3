//! HTTP tests: the real server on a random port, a real PostgreSQL database of its
//! own per test. One binary with modules, so the app is linked once.

mod accounts;
mod conventions;
mod github;
mod helpers;
mod projects;
mod secrets;
mod specs;
mod tasks;
