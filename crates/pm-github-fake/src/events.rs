//! Webhook payloads for the changes [`State`] makes, built like GitHub's (see the
//! `templates/webhook.*.json` examples) and queued for every subscribed hook.
//!
//! Payloads are only built when a hook of the repository subscribes to the event, so seeding
//! and the benchmark cost nothing extra without hooks.

use serde_json::{Map, Value, json};

use crate::{
    payloads::{self, RepoShape},
    state::{AccountId, AccountKind, IssueRec, RepoId, State},
};

impl State {
    /// `repository`, `organization` (organization repositories only) and `sender`.
    fn envelope(
        &self,
        api: &str,
        repo_id: RepoId,
        actor: AccountId,
        payload: &mut Map<String, Value>,
    ) {
        let Some(repo) = self.repos.get(&repo_id) else {
            return;
        };
        payload.insert(
            "repository".to_owned(),
            payloads::repository(api, self, repo, repo.owner, RepoShape::Webhook),
        );
        let owner = self.account_or_ghost(repo.owner);
        if owner.kind == AccountKind::Organization {
            payload.insert(
                "organization".to_owned(),
                payloads::webhook_organization(api, &owner),
            );
        }
        payload.insert(
            "sender".to_owned(),
            payloads::simple_user(api, &self.account_or_ghost(actor)),
        );
    }

    fn issue_payload(
        &self,
        repo_id: RepoId,
        number: u64,
        action: &str,
        extra: Map<String, Value>,
        actor: AccountId,
    ) -> Option<String> {
        let api = self.webhooks.api_base.clone();
        let repo = self.repos.get(&repo_id)?;
        let issue = repo.issue_any(number)?;
        let mut payload = Map::new();
        payload.insert("action".to_owned(), json!(action));
        payload.insert(
            "issue".to_owned(),
            payloads::issue_value(&api, self, repo, issue),
        );
        payload.extend(extra);
        self.envelope(&api, repo_id, actor, &mut payload);
        Some(Value::Object(payload).to_string())
    }

    /// Queues `issues.<action>` for issue `number` (live or just deleted).
    pub(crate) fn emit_issue(
        &mut self,
        repo_id: RepoId,
        number: u64,
        action: &str,
        extra: Map<String, Value>,
        actor: AccountId,
    ) {
        if !self.webhooks.wants(repo_id, "issues") {
            return;
        }
        if let Some(body) = self.issue_payload(repo_id, number, action, extra, actor) {
            self.webhooks
                .enqueue(repo_id, "issues", Some(action), &body);
        }
    }

    /// Queues what GitHub sends for the difference between `before` and the issue now:
    /// `edited` (with `changes.title.from` / `changes.body.from`), one `unlabeled` or
    /// `labeled` per label removed or added, then `closed` or `reopened`.
    pub(crate) fn emit_issue_diff(&mut self, repo_id: RepoId, before: &IssueRec, actor: AccountId) {
        if !self.webhooks.wants(repo_id, "issues") {
            return;
        }
        let Some(after) = self
            .repos
            .get(&repo_id)
            .and_then(|r| r.issue_any(before.number))
            .cloned()
        else {
            return;
        };
        let number = before.number;
        let mut changes = Map::new();
        if after.title != before.title {
            changes.insert("title".to_owned(), json!({ "from": before.title }));
        }
        if after.body != before.body {
            changes.insert("body".to_owned(), json!({ "from": before.body }));
        }
        if !changes.is_empty() {
            let mut extra = Map::new();
            extra.insert("changes".to_owned(), Value::Object(changes));
            self.emit_issue(repo_id, number, "edited", extra, actor);
        }
        let api = self.webhooks.api_base.clone();
        let removed = before.labels.iter().filter(|l| !after.labels.contains(l));
        let added = after.labels.iter().filter(|l| !before.labels.contains(l));
        let label_events: Vec<(&str, u32)> = removed
            .map(|&l| ("unlabeled", l))
            .chain(added.map(|&l| ("labeled", l)))
            .collect();
        for (action, idx) in label_events {
            let label = match self.repos.get(&repo_id) {
                Some(repo) => payloads::label_value(&api, self, repo, idx),
                None => return,
            };
            let mut extra = Map::new();
            extra.insert("label".to_owned(), label);
            self.emit_issue(repo_id, number, action, extra, actor);
        }
        match (before.state, after.state) {
            (crate::IssueState::Open, crate::IssueState::Closed) => {
                self.emit_issue(repo_id, number, "closed", Map::new(), actor);
            }
            (crate::IssueState::Closed, crate::IssueState::Open) => {
                self.emit_issue(repo_id, number, "reopened", Map::new(), actor);
            }
            _ => {}
        }
    }

    /// `issues.transferred` to the old repository's hooks (with `changes.new_issue` and
    /// `changes.new_repository`).
    pub(crate) fn emit_transferred(
        &mut self,
        from: RepoId,
        number: u64,
        to: RepoId,
        new_number: u64,
        actor: AccountId,
    ) {
        if !self.webhooks.wants(from, "issues") {
            return;
        }
        let api = self.webhooks.api_base.clone();
        let (Some(new_repo), Some(_)) = (self.repos.get(&to), self.repos.get(&from)) else {
            return;
        };
        let Some(new_issue) = new_repo.issue_any(new_number) else {
            return;
        };
        let changes = json!({
            "new_issue": payloads::issue_value(&api, self, new_repo, new_issue),
            "new_repository": payloads::repository(&api, self, new_repo, new_repo.owner, RepoShape::Webhook),
        });
        let mut extra = Map::new();
        extra.insert("changes".to_owned(), changes);
        self.emit_issue(from, number, "transferred", extra, actor);
    }

    /// `repository.<action>` (e.g. `renamed` with `changes.repository.name.from`).
    pub(crate) fn emit_repository(
        &mut self,
        repo_id: RepoId,
        action: &str,
        changes: Value,
        actor: AccountId,
    ) {
        if !self.webhooks.wants(repo_id, "repository") {
            return;
        }
        let api = self.webhooks.api_base.clone();
        let mut payload = Map::new();
        payload.insert("action".to_owned(), json!(action));
        payload.insert("changes".to_owned(), changes);
        self.envelope(&api, repo_id, actor, &mut payload);
        let body = Value::Object(payload).to_string();
        self.webhooks
            .enqueue(repo_id, "repository", Some(action), &body);
    }

    /// A `ping` to one hook (sent on creation and by `POST .../hooks/{id}/pings`), whatever its
    /// events. Returns the delivery record id.
    pub(crate) fn ping(&mut self, hook_id: u64, actor: AccountId) -> Option<u64> {
        let api = self.webhooks.api_base.clone();
        let hook = self.webhooks.hooks.get(&hook_id)?.clone();
        let repo = self.repos.get(&hook.repo)?;
        let full = self.full_name(repo);
        let mut payload = Map::new();
        payload.insert(
            "zen".to_owned(),
            json!("Anything added dilutes everything else."),
        );
        payload.insert("hook_id".to_owned(), json!(hook_id));
        payload.insert("hook".to_owned(), payloads::hook(&api, &full, &hook));
        self.envelope(&api, hook.repo, actor, &mut payload);
        let body = Value::Object(payload).to_string();
        self.webhooks.enqueue_to(
            hook_id,
            "ping",
            None,
            &body,
            uuid::Uuid::new_v4().to_string(),
            false,
        )
    }
}
