//! Helpers for tests of crates built on pm-kernel (the `testing` feature).

use crate::{Actor, Role, UserId, WorkspaceId};

/// An actor with `role`, a fresh user and a fresh workspace.
pub fn actor(role: Role) -> Actor {
    Actor {
        user_id: UserId::new(),
        workspace_id: WorkspaceId::new(),
        role,
    }
}
