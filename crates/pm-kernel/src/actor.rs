//! Who is making a request: an authenticated user, its workspace and its role.

use crate::{Error, UserId, WorkspaceId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(Error::invalid("role", "must be `admin` or `member`")),
        }
    }
}

/// The authenticated caller. Services take it as their first argument so that every
/// read and write is scoped to the caller's workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
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
