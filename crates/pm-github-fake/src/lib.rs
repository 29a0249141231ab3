//! An in-memory GitHub serving the REST subset pmhub uses.
//!
//! There is no internet where pmhub is developed and tested, so this fake *is* GitHub for demos,
//! end-to-end tests and the 10,000-issue benchmark. It aims to be faithful where a client can
//! tell the difference: response shapes (rendered from GitHub's own examples, see
//! `templates/README.md`), `Link` pagination, `ETag`/`304`, rate-limit headers, error bodies,
//! renamed-repository redirects, and injectable faults (5xx, latency, primary and secondary rate
//! limits, revoked tokens).
//!
//! Two ways to drive it:
//! * as a library: [`FakeGithub::new`], seed it with [`FakeGithub::add_user`] & co., then
//!   [`FakeGithub::start`] it on `127.0.0.1:0` and point the client at [`Running::base_url`];
//! * as the `github-fake` binary, controlled over HTTP under `/_fake/...` (see [`admin`]).

// A test double: it indexes its own in-memory maps by ids it handed out, and its embedded
// templates are build inputs (checked by a unit test). A panic there fails the test driving it.
#![allow(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test double, see above"
)]

pub mod admin;
mod errors;
mod events;
mod fake;
mod faults;
mod gate;
mod model;
mod pagination;
mod payloads;
mod routes;
mod state;
mod util;
mod webhooks;

pub use fake::{FakeGithub, Running};
pub use faults::FaultSettings;
pub use model::{
    FakeError, GenerateIssues, Issue, IssueEdit, IssuePatches, IssueState, NewIssue, PatchCounts,
    Repo, RequestRecord, Seed, SeedOrg, SeedRepo, SeedUser, StateReason, Stats,
};
pub use webhooks::{Delivery, DeliveryFaults, DeliveryStatus, NewHook, ReorderMode, signature_256};
