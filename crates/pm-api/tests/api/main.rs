//! HTTP tests: the real server on a random port, a real PostgreSQL database of its
//! own per test. One binary with modules, so the app is linked once.

mod accounts;
mod conventions;
mod helpers;
mod projects;
mod specs;
mod tasks;
