//! Typed ids. Each is a UUID v7 (time-ordered, so keyset pagination by id follows
//! creation order) wrapped in its own type so a `TaskId` can never be passed where a
//! `ProjectId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (read from storage, say).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The UUID, by value.
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

id_type!(
    /// A tenant. Every row in pmhub belongs to exactly one workspace.
    WorkspaceId
);
id_type!(
    /// A user of a workspace.
    UserId
);
id_type!(
    /// A project.
    ProjectId
);
id_type!(
    /// A task (its number is per project; this id is global).
    TaskId
);
id_type!(
    /// One recorded GitHub import or push.
    SyncRunId
);
id_type!(
    /// One API token (its id, never the token: the token is shown once).
    TokenId
);
