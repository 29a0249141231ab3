use super::*;
use serde_json::json;

fn verifier(configured: bool, valid: bool) -> MockWebhookVerifier {
    let mut v = MockWebhookVerifier::new();
    v.expect_is_configured().return_const(configured);
    v.expect_verify().returning(move |_, _| valid);
    v
}

fn headers<'a>(event: &'a str, id: &'a str) -> DeliveryHeaders<'a> {
    DeliveryHeaders {
        event: Some(event),
        delivery_id: Some(id),
        signature: Some("sha256=00"),
    }
}

fn service(v: MockWebhookVerifier, store: MockDeliveryStore) -> WebhookService {
    WebhookService::new(Arc::new(v), Arc::new(store))
}

fn stored(event: &str, payload: Value) -> StoredDelivery {
    StoredDelivery {
        delivery: NewDelivery {
            delivery_id: "d-1".into(),
            event: event.into(),
            action: payload["action"].as_str().map(str::to_string),
            repository_id: payload["repository"]["id"].as_i64(),
            repo_full_name: payload["repository"]["full_name"]
                .as_str()
                .map(str::to_string),
            payload: payload.to_string(),
        },
        received_at: pm_kernel::now(),
        processed_at: None,
        outcome: None,
    }
}

fn issue_payload(action: &str) -> Value {
    json!({
        "action": action,
        "issue": {"id": 444, "number": 7},
        "repository": {"id": 99, "full_name": "Acme/Widgets", "owner": {"login": "Acme"}}
    })
}

#[tokio::test]
async fn nothing_is_stored_without_a_secret_or_with_a_bad_signature() {
    let body = br#"{"zen":"x"}"#;
    for (configured, valid, signature) in [
        (false, true, Some("sha256=00")),
        (true, false, Some("sha256=00")),
        (true, true, None),
    ] {
        let mut store = MockDeliveryStore::new();
        store.expect_record().never();
        let svc = service(verifier(configured, valid), store);
        let h = DeliveryHeaders {
            signature,
            ..headers("ping", "d-1")
        };
        let err = svc.receive(h, body).await.unwrap_err();
        if configured {
            assert!(matches!(err, WebhookError::BadSignature), "{err}");
        } else {
            assert!(matches!(err, WebhookError::NotConfigured), "{err}");
        }
    }
}

#[tokio::test]
async fn missing_headers_and_non_json_bodies_are_refused_before_storage() {
    let mut store = MockDeliveryStore::new();
    store.expect_record().never();
    let svc = service(verifier(true, true), store);
    let err = svc
        .receive(
            DeliveryHeaders {
                event: None,
                ..headers("x", "d")
            },
            b"{}",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("X-GitHub-Event"), "{err}");
    let err = svc
        .receive(
            DeliveryHeaders {
                delivery_id: Some("  "),
                ..headers("ping", "d")
            },
            b"{}",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("X-GitHub-Delivery"), "{err}");
    let err = svc
        .receive(headers("ping", "d"), b"payload=%7B%7D")
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::BadPayload(_)), "{err}");
    let err = svc.receive(headers("ping", "d"), b"[1]").await.unwrap_err();
    assert!(matches!(err, WebhookError::BadPayload(_)), "{err}");
}

#[tokio::test]
async fn a_verified_delivery_is_stored_with_its_repository() {
    let mut store = MockDeliveryStore::new();
    store
        .expect_record()
        .withf(|d| {
            d.delivery_id == "d-1"
                && d.event == "issues"
                && d.action.as_deref() == Some("closed")
                && d.repository_id == Some(99)
                && d.repo_full_name.as_deref() == Some("Acme/Widgets")
        })
        .times(1)
        .returning(|_| Ok(false));
    let svc = service(verifier(true, true), store);
    let body = serde_json::to_vec(&issue_payload("closed")).unwrap();
    let received = svc.receive(headers("issues", "d-1"), &body).await.unwrap();
    assert!(!received.stored, "the store said it was a redelivery");
}

#[tokio::test]
async fn the_payload_is_handed_to_the_store_exactly_as_received() {
    // Formatting, escapes and a number beyond f64: a parse and re-serialisation
    // would change each of them.
    let body = "\t{ \"action\":\"clo\\u0073ed\" ,\n \"repository\": {\"id\": 99, \"full_name\": \"Acme\\/Widgets\"},\
                \"n\": 123456789012345678901234567890 }\r\n";
    let mut store = MockDeliveryStore::new();
    store
        .expect_record()
        .withf(move |d| {
            d.payload == body
                && d.action.as_deref() == Some("closed")
                && d.repository_id == Some(99)
                && d.repo_full_name.as_deref() == Some("Acme/Widgets")
        })
        .times(1)
        .returning(|_| Ok(true));
    let svc = service(verifier(true, true), store);
    let received = svc
        .receive(headers("issues", "d-1"), body.as_bytes())
        .await
        .unwrap();
    assert!(received.stored);
}

#[tokio::test]
async fn bodies_that_are_not_utf8_or_nested_too_deeply_are_refused_before_storage() {
    let mut store = MockDeliveryStore::new();
    store.expect_record().never();
    let svc = service(verifier(true, true), store);
    let latin1 = b"{\"zen\":\"caf\xe9\"}";
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(500), "]".repeat(500));
    for body in [
        &latin1[..],
        deep.as_bytes(),
        b"{\"a\":1} trailing",
        b"\"zen\"",
    ] {
        let err = svc.receive(headers("ping", "d"), body).await.unwrap_err();
        assert!(matches!(err, WebhookError::BadPayload(_)), "{err}");
    }
}

async fn settle_of(event: &str, payload: Value, linked: Vec<ProjectId>) -> DeliverySettlement {
    let mut store = MockDeliveryStore::new();
    let s = stored(event, payload);
    store.expect_get().returning(move |_| Ok(Some(s.clone())));
    store
        .expect_linked_projects()
        .returning(move |_| Ok(linked.clone()));
    let captured = Arc::new(std::sync::Mutex::new(None));
    let c = captured.clone();
    store.expect_settle().times(1).returning(move |_, s| {
        *c.lock().unwrap() = Some(s.clone());
        Ok(true)
    });
    let svc = service(verifier(true, true), store);
    let outcome = svc.process("d-1").await.unwrap();
    let settlement = captured.lock().unwrap().take().unwrap();
    assert_eq!(outcome, settlement.outcome);
    settlement
}

#[tokio::test]
async fn ping_is_processed_without_a_look_up() {
    let s = settle_of("ping", json!({"zen": "x", "hook_id": 1}), vec![]).await;
    assert_eq!(s.outcome, DeliveryOutcome::Ping);
    assert!(s.dirty.is_empty());
}

#[tokio::test]
async fn every_synced_issue_action_marks_the_issue_dirty_in_every_linked_project() {
    let (a, b) = (ProjectId::new(), ProjectId::new());
    for action in ISSUE_ACTIONS {
        let s = settle_of("issues", issue_payload(action), vec![a, b]).await;
        assert_eq!(s.outcome, DeliveryOutcome::MarkedDirty, "{action}");
        assert_eq!(s.dirty.len(), 2);
        assert_eq!(s.dirty[0].project_id, a);
        assert_eq!(s.dirty[1].project_id, b);
        assert_eq!(s.dirty[0].github_issue_id, 444);
        assert_eq!(s.dirty[0].issue_number, 7);
        assert_eq!(s.dirty[0].reason, format!("issues.{action}"));
    }
}

#[tokio::test]
async fn unlinked_repositories_and_other_actions_are_recorded_and_ignored() {
    let s = settle_of("issues", issue_payload("closed"), vec![]).await;
    assert_eq!(s.outcome, DeliveryOutcome::Unlinked);
    let s = settle_of("issues", issue_payload("assigned"), vec![ProjectId::new()]).await;
    assert_eq!(s.outcome, DeliveryOutcome::Ignored);
    let s = settle_of("push", json!({"ref": "x"}), vec![ProjectId::new()]).await;
    assert_eq!(s.outcome, DeliveryOutcome::Ignored);
    let mut p = issue_payload("closed");
    p["issue"] = json!({});
    let s = settle_of("issues", p, vec![ProjectId::new()]).await;
    assert_eq!(s.outcome, DeliveryOutcome::Malformed);
}

#[tokio::test]
async fn a_rename_of_a_linked_repository_relinks_by_the_old_name() {
    let payload = json!({
        "action": "renamed",
        "changes": {"repository": {"name": {"from": "old"}}},
        "repository": {"id": 99, "full_name": "Acme/new", "owner": {"login": "Acme"}}
    });
    let s = settle_of("repository", payload.clone(), vec![ProjectId::new()]).await;
    assert_eq!(s.outcome, DeliveryOutcome::RepositoryRenamed);
    assert_eq!(
        s.rename,
        Some(RepoRename {
            from: "Acme/old".into(),
            to: "Acme/new".into()
        })
    );
    let s = settle_of("repository", payload, vec![]).await;
    assert_eq!(s.outcome, DeliveryOutcome::Unlinked);
}

#[tokio::test]
async fn a_processed_delivery_is_not_settled_again() {
    let mut store = MockDeliveryStore::new();
    let mut s = stored("issues", issue_payload("closed"));
    s.processed_at = Some(pm_kernel::now());
    s.outcome = Some(DeliveryOutcome::MarkedDirty);
    store.expect_get().returning(move |_| Ok(Some(s.clone())));
    store.expect_linked_projects().never();
    store.expect_settle().never();
    let svc = service(verifier(true, true), store);
    assert_eq!(
        svc.process("d-1").await.unwrap(),
        DeliveryOutcome::MarkedDirty
    );
}

#[test]
fn outcomes_round_trip() {
    use DeliveryOutcome::*;
    for o in [
        Ping,
        Unlinked,
        Ignored,
        MarkedDirty,
        RepositoryRenamed,
        Malformed,
    ] {
        assert_eq!(DeliveryOutcome::parse(o.as_str()), Some(o));
    }
    assert_eq!(DeliveryOutcome::parse("other"), None);
}
