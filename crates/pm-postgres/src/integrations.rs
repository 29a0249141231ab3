//! Integration stores: see issue 3.
pub struct PgCredentialStore;
pub struct PgSyncStore;
