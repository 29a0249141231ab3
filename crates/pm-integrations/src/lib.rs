//! The GitHub integration, in domain terms: a workspace's connection (its token,
//! stored encrypted), importing a repository's issues as tasks, pushing tasks out
//! as issues, and creating a project's repository when its spec is approved.
//!
//! Everything outside the process sits behind a port: [`GithubApi`] (GitHub's REST
//! API), [`CredentialStore`] and [`SyncStore`] (the database) and [`SecretCipher`]
//! (encryption at rest).

#![warn(missing_docs)]

pub mod connection;
pub mod import;
pub mod jobs;
pub mod link;
pub mod models;
pub mod ports;
pub mod push;
pub mod repos;
mod run;
pub mod throttle;
pub mod tokens;
pub mod two_way;
pub mod webhooks;

pub use connection::{ConnectionInfo, ConnectionService, RotationReport};
pub use import::{ImportReport, IssueImporter};
pub use jobs::{RunJobHandler, SyncJobs};
pub use link::GITHUB_PROVIDER;
pub use models::*;
pub use ports::{CredentialStore, GithubApi, Pacer, PushStore, SecretCipher, SyncStore};
pub use push::{PushReport, PushService};
pub use repos::{
    GithubRepoProvisioner, HookConfig, LinkedRepo, ManualReason, RepoService, WebhookOutcome,
};
pub use throttle::{GithubThrottle, TokenFingerprint, TokenKey};
pub use tokens::TokenSource;
pub use webhooks::{DeliveryStore, DirtyIssues, WebhookError, WebhookService, WebhookVerifier};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{
    MockCredentialStore, MockGithubApi, MockPacer, MockPushStore, MockSecretCipher, MockSyncStore,
};
#[cfg(any(test, feature = "mocks"))]
pub use throttle::{MockGithubThrottle, MockTokenFingerprint};
