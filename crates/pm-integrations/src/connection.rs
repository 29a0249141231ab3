//! Connecting a workspace to GitHub: verify the token, store it sealed, show only
//! its hint and account; rotate the encryption key of every stored token.

use crate::tokens::{context_for, credential_context};
use crate::{CredentialStore, GithubApi, GithubCredential, SecretCipher};
use pm_kernel::{Actor, Error, Result, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// What the API shows of a connection: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The GitHub login the token belongs to.
    pub account_login: String,
    /// The token's last four characters.
    pub token_hint: String,
    /// When it was connected.
    pub connected_at: Timestamp,
}

impl From<&GithubCredential> for ConnectionInfo {
    fn from(c: &GithubCredential) -> Self {
        Self {
            account_login: c.account_login.clone(),
            token_hint: c.token_hint.clone(),
            connected_at: c.connected_at,
        }
    }
}

/// The outcome of `rotate_keys`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Credentials sealed again under the current key.
    pub resealed: usize,
    /// Credentials already under the current key.
    pub already_current: usize,
    /// Changed concurrently (e.g. reconnected) while rotating; already current.
    pub skipped: usize,
}

#[derive(Clone)]
/// Connecting and disconnecting a workspace's GitHub token, and key rotation.
pub struct ConnectionService {
    github: Arc<dyn GithubApi>,
    credentials: Arc<dyn CredentialStore>,
    cipher: Arc<dyn SecretCipher>,
}

/// GitHub tokens are at most a few hundred characters; anything longer is not one.
const MAX_TOKEN_LEN: usize = 1024;

impl ConnectionService {
    /// Wires the service to its ports.
    pub fn new(
        github: Arc<dyn GithubApi>,
        credentials: Arc<dyn CredentialStore>,
        cipher: Arc<dyn SecretCipher>,
    ) -> Self {
        Self {
            github,
            credentials,
            cipher,
        }
    }

    /// Verifies the token with `GET /user`, then stores it sealed, replacing any
    /// previous connection. Admins only. Nothing is stored if GitHub says no.
    pub async fn connect(&self, actor: &Actor, token: SecretString) -> Result<ConnectionInfo> {
        actor.require_admin()?;
        let plain = token.expose_secret();
        if plain.is_empty()
            || plain.len() > MAX_TOKEN_LEN
            || plain.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "token",
                "must be a GitHub token: 1-1024 characters without spaces",
            ));
        }
        let user = self.github.current_user(&token).await?;
        let id = uuid::Uuid::now_v7();
        let sealed = self
            .cipher
            .seal(&token, &context_for(actor.workspace_id, id))?;
        let credential = GithubCredential {
            id,
            workspace_id: actor.workspace_id,
            account_login: user.login,
            token_hint: hint(plain),
            sealed,
            connected_at: pm_kernel::now(),
        };
        self.credentials.put(&credential).await?;
        tracing::info!(
            workspace_id = %actor.workspace_id,
            account = %credential.account_login,
            "GitHub connected"
        );
        Ok(ConnectionInfo::from(&credential))
    }

    /// The workspace's connection, or `IntegrationNotConnected`.
    pub async fn show(&self, actor: &Actor) -> Result<ConnectionInfo> {
        self.credentials
            .get(actor.workspace_id)
            .await?
            .map(|c| ConnectionInfo::from(&c))
            .ok_or(Error::IntegrationNotConnected)
    }

    /// Deletes the stored credential. Admins only.
    pub async fn disconnect(&self, actor: &Actor) -> Result<()> {
        actor.require_admin()?;
        if self.credentials.delete(actor.workspace_id).await? {
            tracing::info!(workspace_id = %actor.workspace_id, "GitHub disconnected");
            Ok(())
        } else {
            Err(Error::IntegrationNotConnected)
        }
    }

    /// Re-encrypts every credential not sealed with the current key. Safe to run
    /// while serving: each row is replaced only if it still has the key it was
    /// read with.
    pub async fn rotate_keys(&self) -> Result<RotationReport> {
        let current = self.cipher.current_key_id();
        let mut report = RotationReport::default();
        for credential in self.credentials.all().await? {
            if credential.sealed.key_id == current {
                report.already_current += 1;
                continue;
            }
            let context = credential_context(&credential);
            let token = self.cipher.open(&credential.sealed, &context)?;
            let sealed = self.cipher.seal(&token, &context)?;
            if self
                .credentials
                .reseal(credential.id, &credential.sealed.key_id, &sealed)
                .await?
            {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
        }
        Ok(report)
    }
}

/// The last four characters, or fewer for a very short token.
fn hint(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

#[cfg(test)]
mod tests;
