//! Which GitHub token a workspace's calls use: its own connection's (decrypted on
//! demand, never cached), else the server-wide `GITHUB_TOKEN`, else none.

use crate::{CredentialStore, GithubCredential, SecretCipher};
use pm_kernel::{Error, Result, WorkspaceId};
use secrecy::SecretString;
use std::sync::Arc;

/// The associated data a credential's ciphertext is bound to: its workspace and
/// row. A ciphertext copied to another row or workspace fails to decrypt.
pub fn credential_context(credential: &GithubCredential) -> Vec<u8> {
    context_for(credential.workspace_id, credential.id)
}

/// The associated data a workspace's credential is sealed with.
pub fn context_for(workspace_id: WorkspaceId, credential_id: uuid::Uuid) -> Vec<u8> {
    format!("pmhub:github_credential:v1:{workspace_id}:{credential_id}").into_bytes()
}

#[derive(Clone)]
/// Chooses the token a GitHub call uses (see `token_for`).
pub struct TokenSource {
    credentials: Arc<dyn CredentialStore>,
    cipher: Arc<dyn SecretCipher>,
    fallback: Option<SecretString>,
}

impl TokenSource {
    /// Wires the service to its ports.
    pub fn new(
        credentials: Arc<dyn CredentialStore>,
        cipher: Arc<dyn SecretCipher>,
        fallback: Option<SecretString>,
    ) -> Self {
        Self {
            credentials,
            cipher,
            fallback,
        }
    }

    /// The token for the workspace's GitHub calls, or `IntegrationNotConnected`.
    pub async fn token_for(&self, workspace_id: WorkspaceId) -> Result<SecretString> {
        if let Some(credential) = self.credentials.get(workspace_id).await? {
            return self
                .cipher
                .open(&credential.sealed, &credential_context(&credential));
        }
        self.fallback.clone().ok_or(Error::IntegrationNotConnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockCredentialStore, MockSecretCipher, SealedSecret};
    use secrecy::ExposeSecret;

    fn credential(workspace_id: WorkspaceId) -> GithubCredential {
        GithubCredential {
            id: uuid::Uuid::now_v7(),
            workspace_id,
            account_login: "octocat".into(),
            token_hint: "abcd".into(),
            sealed: SealedSecret {
                key_id: "k1".into(),
                nonce: vec![0; 12],
                ciphertext: vec![1, 2, 3],
            },
            connected_at: pm_kernel::now(),
        }
    }

    #[tokio::test]
    async fn workspace_connection_wins_over_the_server_token() {
        let ws = WorkspaceId::new();
        let cred = credential(ws);
        let expected_context = credential_context(&cred);
        let mut store = MockCredentialStore::new();
        store
            .expect_get()
            .returning(move |_| Ok(Some(cred.clone())));
        let mut cipher = MockSecretCipher::new();
        cipher
            .expect_open()
            .withf(move |_, ctx| ctx == expected_context.as_slice())
            .returning(|_, _| Ok(SecretString::from("ws-token")));
        let source = TokenSource::new(
            Arc::new(store),
            Arc::new(cipher),
            Some(SecretString::from("server-token")),
        );
        assert_eq!(
            source.token_for(ws).await.unwrap().expose_secret(),
            "ws-token"
        );
    }

    #[tokio::test]
    async fn falls_back_to_the_server_token_then_fails() {
        let mut store = MockCredentialStore::new();
        store.expect_get().returning(|_| Ok(None));
        let store = Arc::new(store);
        let mut cipher = MockSecretCipher::new();
        cipher.expect_open().never();
        let cipher = Arc::new(cipher);
        let with = TokenSource::new(
            store.clone(),
            cipher.clone(),
            Some(SecretString::from("srv")),
        );
        assert_eq!(
            with.token_for(WorkspaceId::new())
                .await
                .unwrap()
                .expose_secret(),
            "srv"
        );
        let without = TokenSource::new(store, cipher, None);
        assert!(matches!(
            without.token_for(WorkspaceId::new()).await.unwrap_err(),
            Error::IntegrationNotConnected
        ));
    }

    #[test]
    fn context_binds_workspace_and_row() {
        let ws = WorkspaceId::new();
        let a = context_for(ws, uuid::Uuid::now_v7());
        let b = context_for(ws, uuid::Uuid::now_v7());
        let c = context_for(WorkspaceId::new(), uuid::Uuid::now_v7());
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
