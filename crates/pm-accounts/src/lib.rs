//! Workspaces (tenants), their users and the bearer tokens users authenticate with.
//! Tokens are random, shown once, and stored only as a hash; hashing and random
//! generation sit behind the [`TokenIssuer`] port so this crate stays pure.

pub mod models;
pub mod ports;
pub mod service;

pub use models::{Email, IssuedToken, TokenHash, User, Workspace, WorkspaceName};
pub use ports::{AccountStore, TokenIssuer};
pub use service::{AccountService, Bootstrapped, NewUserWithToken};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockAccountStore, MockTokenIssuer};
