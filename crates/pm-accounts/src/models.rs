use pm_kernel::validation::text;
use pm_kernel::{ConflictReason, Error, Role, Timestamp, TokenId, UserId, WorkspaceId};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
/// A tenant: every user, project and task belongs to one.
pub struct Workspace {
    /// The id.
    pub id: WorkspaceId,
    /// The unique name.
    pub name: WorkspaceName,
    /// When it was created.
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A user of a workspace.
pub struct User {
    /// The id.
    pub id: UserId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The e-mail (lowercased).
    pub email: Email,
    /// The role in the workspace.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
}

/// 1 to 100 characters; unique across the installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    /// Validates `value` (trimmed where the type says so); fails with a validation error naming the field.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("workspace", value, 1, 100).map(Self)
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, lowercased. Checked for shape only (one `@`, a dot in the
/// domain, no spaces): deliverability is not pmhub's concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest e-mail accepted (RFC 5321).
    pub const MAX_LEN: usize = 254;

    /// Lowercases, trims and checks the shape of an e-mail.
    pub fn new(value: &str) -> Result<Self, Error> {
        let value = value.trim().to_lowercase();
        let valid = value.len() <= Self::MAX_LEN
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && match value.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(value))
        } else {
            Err(Error::invalid("email", "must be an e-mail address"))
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of an API token: what is stored and looked up. Its `Debug` shows
/// only a prefix, enough to correlate without helping an attacker.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// A freshly generated token: the plaintext to show once, and the hash to store.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token itself, shown once and never stored.
    pub plaintext: SecretString,
    /// The token's SHA-256 hash, the only form stored.
    pub hash: TokenHash,
}

impl IssuedToken {
    /// The last [`TOKEN_HINT_LEN`] characters of the token, stored so that a user
    /// can tell its tokens apart. Never more: the rest stays secret.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.plaintext.expose_secret().chars().collect();
        chars[chars.len().saturating_sub(TOKEN_HINT_LEN)..]
            .iter()
            .collect()
    }
}

/// How many trailing characters of a token its hint shows.
pub const TOKEN_HINT_LEN: usize = 4;

/// A label a user gives a token ("CI", "laptop"): 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    /// Validates a token name.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("name", value, 1, 100).map(Self)
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long a new token lives: `1..=3650` days, or forever when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime(Option<u16>);

impl TokenLifetime {
    /// The longest lifetime, in days (ten years).
    pub const MAX_DAYS: i64 = 3650;

    /// A token that never expires (until revoked).
    pub const FOREVER: Self = Self(None);

    /// A lifetime of `value` days (1..=MAX_DAYS), or none when absent.
    pub fn days(value: Option<i64>) -> Result<Self, Error> {
        match value {
            None => Ok(Self(None)),
            Some(d) if (1..=Self::MAX_DAYS).contains(&d) => Ok(Self(Some(d as u16))),
            Some(_) => Err(Error::invalid(
                "expires_in_days",
                format!("must be between 1 and {}", Self::MAX_DAYS),
            )),
        }
    }

    /// The expiry of a token issued at `now`.
    pub fn expires_at(self, now: Timestamp) -> Option<Timestamp> {
        self.0
            .map(|days| now + time::Duration::days(i64::from(days)))
    }
}

/// What a store writes for a new token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The token's SHA-256 hash, the only form stored.
    pub hash: TokenHash,
    /// The last four characters, to recognise the token by.
    pub hint: String,
    /// A name the user gave it.
    pub name: Option<TokenName>,
    /// When it stops working; never when absent.
    pub expires_at: Option<Timestamp>,
}

impl NewToken {
    /// The stored part of a freshly issued token, with no name and no expiry.
    pub fn of(issued: &IssuedToken) -> Self {
        Self {
            hash: issued.hash,
            hint: issued.hint(),
            name: None,
            expires_at: None,
        }
    }
}

/// An API token as its owner sees it: metadata only (no token, no hash). Revoked
/// tokens are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The id.
    pub id: TokenId,
    /// The user it belongs to.
    pub user_id: UserId,
    /// A name the user gave it.
    pub name: Option<TokenName>,
    /// The token's last 4 characters; `None` for tokens issued before hints were
    /// stored.
    pub hint: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Updated at most once a minute (see [`TokenUse::needs_touch`]).
    pub last_used_at: Option<Timestamp>,
    /// When it stops working; never when absent.
    pub expires_at: Option<Timestamp>,
}

/// The token part of a successful look-up: what authentication needs to decide
/// whether to record the use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUse {
    /// The id.
    pub id: TokenId,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// When it stops working; never when absent.
    pub expires_at: Option<Timestamp>,
}

impl TokenUse {
    /// `last_used_at` is written at most this often per token.
    pub const TOUCH_INTERVAL: time::Duration = time::Duration::minutes(1);

    /// True once `expires_at` is past.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether this use should be recorded: never recorded, or recorded over
    /// [`Self::TOUCH_INTERVAL`] ago.
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        self.last_used_at
            .is_none_or(|at| now - at >= Self::TOUCH_INTERVAL)
    }
}

/// A token look-up's answer: the live token, its user and workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The workspace.
    pub workspace: Workspace,
    /// How the token was used.
    pub token: TokenUse,
}

/// What a store sees, under the workspace's lock, when an admin removes a user.
/// [`RemovalCheck::decide`] is the rule; the store calls it inside the
/// transaction that removes the user, so two concurrent removals cannot both pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovalCheck {
    /// The acting admin is still a live admin of the workspace.
    pub actor_is_admin: bool,
    /// The target's role, `None` if it is not a live user of the workspace.
    pub target_role: Option<Role>,
    /// Live admins of the workspace, the target included.
    pub live_admins: usize,
}

impl RemovalCheck {
    /// The conflict message when the target is the workspace's last admin.
    pub const LAST_ADMIN: &'static str =
        "the workspace's last admin cannot be removed: make another user admin first";

    /// Whether the removal may go ahead: `Forbidden`, `NotFound` or a `LastAdmin` conflict otherwise.
    pub fn decide(&self) -> Result<(), Error> {
        if !self.actor_is_admin {
            return Err(Error::Forbidden);
        }
        match self.target_role {
            None => Err(Error::NotFound("user")),
            Some(Role::Admin) if self.live_admins <= 1 => {
                Err(Error::conflict(ConflictReason::LastAdmin, Self::LAST_ADMIN))
            }
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::new(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "", "ada", "ada@", "@x.io", "a@b", "a b@x.io", "a@x.io.", "a@@x.io",
        ] {
            assert!(Email::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hints_are_the_last_four_characters() {
        let issued = IssuedToken {
            plaintext: SecretString::from("pmh_abcdefXYZ9"),
            hash: TokenHash([1; 32]),
        };
        assert_eq!(issued.hint(), "XYZ9");
        let new = NewToken::of(&issued);
        assert_eq!((new.hint.as_str(), new.expires_at), ("XYZ9", None));
        let short = IssuedToken {
            plaintext: SecretString::from("ab"),
            hash: TokenHash([1; 32]),
        };
        assert_eq!(short.hint(), "ab");
    }

    #[test]
    fn lifetimes_are_bounded() {
        let now = pm_kernel::now();
        assert_eq!(TokenLifetime::days(None).unwrap().expires_at(now), None);
        assert_eq!(
            TokenLifetime::days(Some(1)).unwrap().expires_at(now),
            Some(now + time::Duration::days(1))
        );
        assert!(TokenLifetime::days(Some(3650)).is_ok());
        for bad in [0, -1, 3651, i64::MAX] {
            assert!(TokenLifetime::days(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn uses_are_recorded_at_most_once_a_minute() {
        let now = pm_kernel::now();
        let mut token = TokenUse {
            id: TokenId::new(),
            last_used_at: None,
            expires_at: None,
        };
        assert!(token.needs_touch(now));
        token.last_used_at = Some(now - time::Duration::seconds(59));
        assert!(!token.needs_touch(now));
        token.last_used_at = Some(now - time::Duration::seconds(61));
        assert!(token.needs_touch(now));
        assert!(!token.is_expired(now));
        token.expires_at = Some(now);
        assert!(token.is_expired(now));
        token.expires_at = Some(now + time::Duration::seconds(1));
        assert!(!token.is_expired(now));
    }

    #[test]
    fn the_last_admin_stays() {
        let check = |actor_is_admin, target_role, live_admins| {
            RemovalCheck {
                actor_is_admin,
                target_role,
                live_admins,
            }
            .decide()
        };
        assert!(check(true, Some(Role::Member), 1).is_ok());
        assert!(check(true, Some(Role::Admin), 2).is_ok());
        assert!(matches!(
            check(true, Some(Role::Admin), 1),
            Err(Error::Conflict { reason: ConflictReason::LastAdmin, message }) if message == RemovalCheck::LAST_ADMIN
        ));
        assert!(matches!(check(true, None, 3), Err(Error::NotFound("user"))));
        assert!(matches!(
            check(false, Some(Role::Member), 2),
            Err(Error::Forbidden)
        ));
    }

    #[test]
    fn token_hash_debug_is_short() {
        let h = TokenHash([0xab; 32]);
        assert_eq!(format!("{h:?}"), "TokenHash(abab…)");
    }
}
