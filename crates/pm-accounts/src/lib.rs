//! Workspaces (tenants), their users and the bearer tokens users authenticate with.
//! Tokens are random, shown once, and stored only as a hash; hashing and random
//! generation sit behind the [`TokenIssuer`] port so this crate stays pure.
//!
//! A token may expire (`expires_in_days`) and can be revoked; removing a user
//! (soft delete) revokes all its tokens. An expired, revoked or removed user's
//! token fails authentication exactly like an unknown one.

#![warn(missing_docs)]

/// The entities and value types.
pub mod models;
/// The ports (traits) adapters implement.
pub mod ports;
/// The use cases.
pub mod service;

pub use models::{
    ApiToken, Authenticated, Email, IssuedToken, NewToken, RemovalCheck, TOKEN_HINT_LEN, TokenHash,
    TokenLifetime, TokenName, TokenUse, User, Workspace, WorkspaceName,
};
pub use ports::{AccountStore, TokenIssuer};
pub use service::{AccountService, Bootstrapped, CreatedToken, NewUserWithToken, TokenRequest};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockAccountStore, MockTokenIssuer};
