//! Token lifecycle and user removal against a real PostgreSQL: what the store
//! filters, what it locks, and what authentication costs in statements.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_accounts::{
    AccountService, AccountStore, Email, NewToken, TokenHash, TokenName, TokenRequest, User,
    Workspace, WorkspaceName,
};
use pm_crypto::RingTokenIssuer;
use pm_kernel::{Actor, ConflictReason, Error, Limit, Role, Timestamp};
use pm_postgres::PgAccountStore;
use pm_postgres::testing::TestDb;
use secrecy::ExposeSecret;
use std::sync::Arc;
use time::Duration;

fn token(byte: u8) -> NewToken {
    NewToken {
        hash: TokenHash([byte; 32]),
        hint: format!("h{byte:03}"),
        name: None,
        expires_at: None,
    }
}

async fn sql(db: &TestDb, statement: &str) {
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn acme(store: &PgAccountStore) -> (Workspace, User) {
    store
        .create_workspace(
            &WorkspaceName::new("acme").unwrap(),
            &Email::new("a@acme.io").unwrap(),
            &token(1),
        )
        .await
        .unwrap()
}

fn actor(user: &User) -> Actor {
    Actor {
        user_id: user.id,
        workspace_id: user.workspace_id,
        role: user.role,
    }
}

async fn add(store: &PgAccountStore, ws: &Workspace, email: &str, role: Role, t: u8) -> User {
    store
        .create_user(ws.id, &Email::new(email).unwrap(), role, &token(t))
        .await
        .unwrap()
}

async fn live(store: &PgAccountStore, byte: u8) -> bool {
    store
        .find_by_token(&TokenHash([byte; 32]), pm_kernel::now())
        .await
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_revoked_and_removed_users_tokens_are_not_found() {
    let db = TestDb::new().await;
    let store = PgAccountStore::new(db.db.clone());
    let (ws, admin) = acme(&store).await;
    let member = add(&store, &ws, "m@acme.io", Role::Member, 2).await;

    let now = pm_kernel::now();
    let soon = NewToken {
        expires_at: Some(now + Duration::hours(1)),
        name: Some(TokenName::new("CI").unwrap()),
        ..token(3)
    };
    let created = store.create_token(admin.id, &soon).await.unwrap();
    assert_eq!(created.hint.as_deref(), Some("h003"));
    assert_eq!(created.name.as_ref().map(TokenName::as_str), Some("CI"));
    let found = store
        .find_by_token(&TokenHash([3; 32]), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.user.id, found.token.id), (admin.id, created.id));
    // The store compares with the time it is given…
    let later: Timestamp = now + Duration::hours(2);
    assert!(
        store
            .find_by_token(&TokenHash([3; 32]), later)
            .await
            .unwrap()
            .is_none()
    );
    // …and with an expiry in the past, now.
    sql(
        &db,
        &format!(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = '{}'",
            created.id
        ),
    )
    .await;
    assert!(!live(&store, 3).await);

    // Revoked: gone from the look-up and the owner's list; revoking again is false.
    let second = store.create_token(admin.id, &token(4)).await.unwrap();
    assert!(live(&store, 4).await);
    assert!(store.revoke_token(admin.id, second.id).await.unwrap());
    assert!(!live(&store, 4).await);
    assert!(!store.revoke_token(admin.id, second.id).await.unwrap());
    let listed: Vec<_> = store
        .list_tokens(admin.id, None, Limit::default())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(!listed.contains(&second.id));
    assert!(listed.contains(&created.id), "expired tokens stay listed");
    assert_eq!(listed.len(), 2, "bootstrap token and the expired one");

    // Someone else's token cannot be revoked by id.
    let members = store.create_token(member.id, &token(5)).await.unwrap();
    assert!(!store.revoke_token(admin.id, members.id).await.unwrap());
    assert!(live(&store, 5).await);

    // A removed user's tokens all stop working, its row stays, and its e-mail
    // can be added again.
    store.remove_user(ws.id, admin.id, member.id).await.unwrap();
    assert!(!live(&store, 2).await && !live(&store, 5).await);
    let users = store
        .list_users(ws.id, None, Limit::default())
        .await
        .unwrap();
    assert_eq!(
        users.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![admin.id]
    );
    let again = add(&store, &ws, "m@acme.io", Role::Member, 6).await;
    assert_ne!(again.id, member.id);
    assert!(live(&store, 6).await);
    assert!(matches!(
        store
            .create_user(
                ws.id,
                &Email::new("m@acme.io").unwrap(),
                Role::Member,
                &token(7)
            )
            .await
            .unwrap_err(),
        Error::Conflict {
            reason: ConflictReason::EmailTaken,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn removal_keeps_the_last_admin_and_stays_in_the_workspace() {
    let db = TestDb::new().await;
    let store = PgAccountStore::new(db.db.clone());
    let (ws, admin) = acme(&store).await;
    let (other_ws, stranger) = store
        .create_workspace(
            &WorkspaceName::new("globex").unwrap(),
            &Email::new("s@globex.io").unwrap(),
            &token(9),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.remove_user(ws.id, admin.id, admin.id).await,
        Err(Error::Conflict {
            reason: ConflictReason::LastAdmin,
            ..
        })
    ));
    assert!(matches!(
        store.remove_user(ws.id, admin.id, stranger.id).await,
        Err(Error::NotFound("user"))
    ));
    assert!(live(&store, 1).await && live(&store, 9).await);
    assert_eq!(
        store
            .list_users(other_ws.id, None, Limit::default())
            .await
            .unwrap()
            .len(),
        1
    );
    // With a second admin, an admin may remove itself.
    let second = add(&store, &ws, "b@acme.io", Role::Admin, 2).await;
    store.remove_user(ws.id, admin.id, admin.id).await.unwrap();
    assert!(!live(&store, 1).await);
    // The removed admin can no longer remove anyone.
    assert!(matches!(
        store.remove_user(ws.id, admin.id, second.id).await,
        Err(Error::Forbidden)
    ));
    assert!(live(&store, 2).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_admins_removing_each_other_at_once_leave_one() {
    let db = TestDb::new().await;
    let store = PgAccountStore::new(db.db.clone());
    // Open connections up front, so both removals start at once rather than one
    // waiting for a new connection while the other finishes.
    let warm = |_| store.list_users(pm_kernel::WorkspaceId::new(), None, Limit::default());
    let _ = futures_util::future::join_all((0..4).map(warm)).await;
    for round in 0..20u8 {
        let (ws, a) = store
            .create_workspace(
                &WorkspaceName::new(&format!("ws{round}")).unwrap(),
                &Email::new("a@acme.io").unwrap(),
                &token(100 + round),
            )
            .await
            .unwrap();
        let b = add(&store, &ws, "b@acme.io", Role::Admin, 200 + round).await;
        let (s1, s2) = (store.clone(), store.clone());
        let (ws_id, a_id, b_id) = (ws.id, a.id, b.id);
        let one = tokio::spawn(async move { s1.remove_user(ws_id, a_id, b_id).await });
        let two = tokio::spawn(async move { s2.remove_user(ws_id, b_id, a_id).await });
        let outcomes = [one.await.unwrap(), two.await.unwrap()];
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .any(|r| matches!(r, Err(Error::Forbidden | Error::Conflict { .. }))),
            "{outcomes:?}"
        );
        let admins = store
            .list_users(ws.id, None, Limit::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin)
            .count();
        assert_eq!(admins, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hot_token_costs_the_look_up_alone() {
    let db = TestDb::new().await;
    let store = Arc::new(PgAccountStore::new(db.db.clone()));
    let service = AccountService::new(store.clone(), Arc::new(RingTokenIssuer::new()));
    let created = service.bootstrap("acme", "a@acme.io").await.unwrap();
    let token = created.token.expose_secret().to_string();
    let counter = || db.db.statements_executed();

    // The baseline: the look-up alone, as before tokens had a lifecycle (it
    // includes the pool's check of the connection it hands out, if any).
    let before = counter();
    store
        .find_by_token(&TokenHash([0; 32]), pm_kernel::now())
        .await
        .unwrap();
    let lookup = counter() - before;

    // First use: the look-up and one conditional UPDATE of last_used_at.
    let before = counter();
    service.authenticate(&token).await.unwrap();
    let first = counter() - before;
    let listed = service
        .list_tokens(&actor(&created.admin), None, Limit::default())
        .await
        .unwrap();
    let used = listed.items[0].last_used_at.expect("use recorded");

    // Then, within the minute: the look-up alone, and nothing written.
    let mut hot = Vec::new();
    for _ in 0..5 {
        let before = counter();
        service.authenticate(&token).await.unwrap();
        hot.push(counter() - before);
    }
    println!("statements: look-up {lookup}, first use {first}, hot {hot:?}");
    assert!(hot.iter().all(|n| *n == lookup), "{hot:?} vs {lookup}");
    assert!(first > lookup, "the first use writes last_used_at");
    let listed = service
        .list_tokens(&actor(&created.admin), None, Limit::default())
        .await
        .unwrap();
    assert_eq!(listed.items[0].last_used_at, Some(used));

    // Over a minute later, the use is recorded again.
    sql(
        &db,
        "UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'",
    )
    .await;
    let before = counter();
    service.authenticate(&token).await.unwrap();
    assert_eq!(counter() - before, first);
    let listed = service
        .list_tokens(&actor(&created.admin), None, Limit::default())
        .await
        .unwrap();
    assert!(listed.items[0].last_used_at.unwrap() > used);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_conditional_update_writes_at_most_once_a_minute() {
    let db = TestDb::new().await;
    let store = PgAccountStore::new(db.db.clone());
    let (_, admin) = acme(&store).await;
    let t = store.create_token(admin.id, &token(2)).await.unwrap();
    store.touch_token(t.id).await.unwrap();
    let first = store
        .list_tokens(admin.id, None, Limit::default())
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == t.id)
        .unwrap()
        .last_used_at
        .unwrap();
    // A second touch at once (another request, another server) changes nothing.
    store.touch_token(t.id).await.unwrap();
    let second = store
        .list_tokens(admin.id, None, Limit::default())
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == t.id)
        .unwrap()
        .last_used_at
        .unwrap();
    assert_eq!(first, second);
}

#[tokio::test(flavor = "multi_thread")]
async fn issued_tokens_authenticate_until_revoked() {
    let db = TestDb::new().await;
    let store = Arc::new(PgAccountStore::new(db.db.clone()));
    let service = AccountService::new(store.clone(), Arc::new(RingTokenIssuer::new()));
    let created = service.bootstrap("acme", "a@acme.io").await.unwrap();
    let me = actor(&created.admin);
    let issued = service
        .issue_token(
            &me,
            TokenRequest {
                name: Some("laptop".into()),
                expires_in_days: Some(7),
            },
        )
        .await
        .unwrap();
    let plaintext = issued.plaintext.expose_secret().to_string();
    assert!(plaintext.ends_with(issued.token.hint.as_deref().unwrap()));
    let expires = issued.token.expires_at.unwrap();
    assert!(expires > pm_kernel::now() + Duration::days(6));
    service.authenticate(&plaintext).await.unwrap();
    service.revoke_token(&me, issued.token.id).await.unwrap();
    assert!(matches!(
        service.authenticate(&plaintext).await.unwrap_err(),
        Error::Unauthenticated
    ));
    // The bootstrap token is untouched and has an id and hint too.
    let (_, user, _) = service
        .authenticate(created.token.expose_secret())
        .await
        .unwrap();
    assert_eq!(user.id, created.admin.id);
    let page = service
        .list_tokens(&me, None, Limit::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        created
            .token
            .expose_secret()
            .ends_with(page.items[0].hint.as_deref().unwrap())
    );
}
