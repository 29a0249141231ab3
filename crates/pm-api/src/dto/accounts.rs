//! The caller, users and API tokens.

use pm_accounts::{ApiToken, Email, TokenLifetime, TokenName, TokenRequest, User, Workspace};
use pm_kernel::{Error, Role, Validator};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

api_enum!(RoleDto <=> Role { Admin, Member });

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceDto {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeDto {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub workspace: WorkspaceDto,
}

impl MeDto {
    pub fn new(user: &User, workspace: &Workspace) -> Self {
        Self {
            user_id: user.id.into_uuid(),
            email: user.email.to_string(),
            role: user.role.into(),
            workspace: WorkspaceDto {
                id: workspace.id.into_uuid(),
                name: workspace.name.to_string(),
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "role": "member"}))]
pub struct CreateUserRequest {
    /// Compared without case; stored lowercased.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub role: RoleDto,
}

impl CreateUserRequest {
    pub fn into_domain(self) -> Result<(Email, Role), Error> {
        Ok((Email::new(&self.email)?, self.role.into()))
    }
}

/// A new user with its API token, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedUserDto {
    pub id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub token: String,
}

impl std::fmt::Debug for CreatedUserDto {
    /// Never the token: this value exists only to be serialised once.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedUserDto")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A user of the workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub role: RoleDto,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id.into_uuid(),
            email: u.email.to_string(),
            role: u.role.into(),
            created_at: u.created_at,
        }
    }
}

/// Every field is optional; an empty body is the same as `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "CI", "expires_in_days": 30}))]
pub struct CreateTokenRequest {
    #[schema(schema_with = super::schema::token_name)]
    pub name: Option<String>,
    /// 1..=3650. Without it the token does not expire (it can still be revoked).
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(default, deserialize_with = "super::integer")]
    pub expires_in_days: Option<i64>,
}

impl CreateTokenRequest {
    /// Both fields are checked with the domain's `TokenName` and `TokenLifetime`; the
    /// account service checks them again, as it does for any caller.
    pub fn into_domain(self) -> Result<TokenRequest, Error> {
        let mut v = Validator::new();
        if let Some(name) = self.name.as_deref() {
            v.check(TokenName::new(name));
        }
        v.check(TokenLifetime::days(self.expires_in_days));
        v.finish()?;
        Ok(TokenRequest {
            name: self.name,
            expires_in_days: self.expires_in_days,
        })
    }
}

/// An API token's metadata. Never the token or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    pub id: Uuid,
    pub name: Option<String>,
    /// The token's last 4 characters; null for tokens issued before hints existed.
    pub hint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Recorded at most once a minute.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    /// Null: never expires. A past value: expired (the token answers 401).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<ApiToken> for TokenDto {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.into_uuid(),
            name: t.name.map(|n| n.to_string()),
            hint: t.hint,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

/// A new token: its metadata and the token itself, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedTokenDto {
    #[serde(flatten)]
    pub meta: TokenDto,
    pub token: String,
}

impl std::fmt::Debug for CreatedTokenDto {
    /// Never the token: this value exists only to be serialised once.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenDto")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

list_type!(UserList, UserDto);
list_type!(TokenList, TokenDto);
