//! Who is making a request: an authenticated user, its workspace and its role.

use crate::{Error, UserId, WorkspaceId};
crate::string_enum!(
    /// What a user may do in its workspace.
    Role, "role", {
        /// Everything, including managing users, GitHub and approvals.
        Admin => "admin",
        /// Everything else.
        Member => "member",
    }
);

/// The authenticated caller. Services take it as their first argument so that every
/// read and write is scoped to the caller's workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The user making the request.
    pub user_id: UserId,
    /// The user's workspace: everything the actor reads or writes is in it.
    pub workspace_id: WorkspaceId,
    /// The user's role in the workspace.
    pub role: Role,
}

impl Actor {
    /// Fails with [`Error::Forbidden`] unless the actor is an admin.
    pub fn require_admin(&self) -> Result<(), Error> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(Error::Forbidden),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_pass_require_admin() {
        let mut actor = Actor {
            user_id: UserId::new(),
            workspace_id: WorkspaceId::new(),
            role: Role::Admin,
        };
        assert!(actor.require_admin().is_ok());
        actor.role = Role::Member;
        assert!(matches!(actor.require_admin(), Err(Error::Forbidden)));
    }

    #[test]
    fn role_parses_only_known_values() {
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert_eq!("member".parse::<Role>().unwrap(), Role::Member);
        assert!("owner".parse::<Role>().is_err());
    }
}
