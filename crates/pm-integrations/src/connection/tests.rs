use super::*;
use crate::{GithubUser, MockCredentialStore, MockGithubApi, MockSecretCipher, SealedSecret};
use pm_kernel::{GithubError, Role, WorkspaceId};

fn actor(role: Role) -> Actor {
    pm_kernel::testing::actor(role)
}

fn sealed(key_id: &str) -> SealedSecret {
    SealedSecret {
        key_id: key_id.into(),
        nonce: vec![0; 12],
        ciphertext: vec![9; 20],
    }
}

fn cipher() -> MockSecretCipher {
    let mut cipher = MockSecretCipher::new();
    cipher.expect_seal().returning(|_, _| Ok(sealed("new")));
    cipher.expect_current_key_id().returning(|| "new".into());
    cipher
        .expect_open()
        .returning(|_, _| Ok(SecretString::from("ghp_token1234")));
    cipher
}

#[tokio::test]
async fn connect_verifies_then_stores_sealed_with_a_hint() {
    let actor = actor(Role::Admin);
    let mut github = MockGithubApi::new();
    github
        .expect_current_user()
        .withf(|t| t.expose_secret() == "ghp_token1234")
        .returning(|_| {
            Ok(GithubUser {
                id: 1,
                login: "octocat".into(),
            })
        });
    let mut store = MockCredentialStore::new();
    let ws = actor.workspace_id;
    store
        .expect_put()
        .withf(move |c| {
            c.workspace_id == ws
                && c.token_hint == "1234"
                && c.account_login == "octocat"
                && c.sealed.key_id == "new"
        })
        .times(1)
        .returning(|_| Ok(()));
    let service = ConnectionService::new(Arc::new(github), Arc::new(store), Arc::new(cipher()));
    let info = service
        .connect(&actor, SecretString::from("ghp_token1234"))
        .await
        .unwrap();
    assert_eq!(
        (info.account_login.as_str(), info.token_hint.as_str()),
        ("octocat", "1234")
    );
}

#[tokio::test]
async fn a_token_github_rejects_is_not_stored() {
    let mut github = MockGithubApi::new();
    github
        .expect_current_user()
        .returning(|_| Err(GithubError::Unauthorized));
    let mut store = MockCredentialStore::new();
    store.expect_put().never();
    let service = ConnectionService::new(Arc::new(github), Arc::new(store), Arc::new(cipher()));
    let err = service
        .connect(&actor(Role::Admin), SecretString::from("ghp_bad"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Github(GithubError::Unauthorized)));
}

#[tokio::test]
async fn members_cannot_connect_and_bad_tokens_never_reach_github() {
    let mut github = MockGithubApi::new();
    github.expect_current_user().never();
    let mut store = MockCredentialStore::new();
    store.expect_put().never();
    let service = ConnectionService::new(Arc::new(github), Arc::new(store), Arc::new(cipher()));
    let err = service
        .connect(&actor(Role::Member), SecretString::from("ghp_x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden));
    for bad in ["", "has space", &"x".repeat(2000)] {
        let err = service
            .connect(&actor(Role::Admin), SecretString::from(bad.to_string()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{bad:?}");
    }
}

#[tokio::test]
async fn show_and_disconnect_without_a_connection() {
    let mut store = MockCredentialStore::new();
    store.expect_get().returning(|_| Ok(None));
    store.expect_delete().returning(|_| Ok(false));
    let service = ConnectionService::new(
        Arc::new(MockGithubApi::new()),
        Arc::new(store),
        Arc::new(cipher()),
    );
    assert!(matches!(
        service.show(&actor(Role::Member)).await.unwrap_err(),
        Error::IntegrationNotConnected
    ));
    assert!(matches!(
        service.disconnect(&actor(Role::Admin)).await.unwrap_err(),
        Error::IntegrationNotConnected
    ));
    assert!(matches!(
        service.disconnect(&actor(Role::Member)).await.unwrap_err(),
        Error::Forbidden
    ));
}

#[tokio::test]
async fn rotation_reseals_only_old_keys() {
    let ws = WorkspaceId::new();
    let make = |key: &str| GithubCredential {
        id: uuid::Uuid::now_v7(),
        workspace_id: ws,
        account_login: "o".into(),
        token_hint: "1234".into(),
        sealed: sealed(key),
        connected_at: pm_kernel::now(),
    };
    let creds = vec![make("old"), make("new"), make("old")];
    let mut store = MockCredentialStore::new();
    store.expect_all().returning(move || Ok(creds.clone()));
    let mut calls = 0;
    store
        .expect_reseal()
        .withf(|_, expected, s| expected == "old" && s.key_id == "new")
        .times(2)
        .returning(move |_, _, _| {
            calls += 1;
            Ok(calls == 1)
        });
    let service = ConnectionService::new(
        Arc::new(MockGithubApi::new()),
        Arc::new(store),
        Arc::new(cipher()),
    );
    let report = service.rotate_keys().await.unwrap();
    assert_eq!(
        report,
        RotationReport {
            resealed: 1,
            already_current: 1,
            skipped: 1
        }
    );
}

#[test]
fn hint_is_the_last_four_characters() {
    assert_eq!(hint("ghp_abcdef"), "cdef");
    assert_eq!(hint("ab"), "ab");
}
