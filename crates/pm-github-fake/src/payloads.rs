//! Response bodies, rendered from GitHub's own examples (`templates/`).
//!
//! Each renderer starts from the example document and overrides what identifies the object
//! (ids, names, URLs, timestamps) and what would be misleading if copied (e.g. the example's
//! milestone or licence), so every key of the real example stays present. Issues are the hot
//! path (pages of 100 for the benchmark): their constant fields are serialised once, and each
//! item is written straight into the page buffer.

use std::{collections::HashMap, sync::LazyLock};

use serde_json::{Map, Value, json};

use crate::{
    state::{Account, AccountId, AccountKind, IssueRec, RepoRec, State},
    util::{ObjWriter, encode_segment, format_ts, json_escaped, node_id},
};

const EXAMPLE_LOGIN: &str = "octocat";
const EXAMPLE_REPO: &str = "octocat/Hello-World";

struct Templates {
    private_user: Map<String, Value>,
    simple_user: Map<String, Value>,
    repo_full: Map<String, Value>,
    repo_item: Map<String, Value>,
    repo_webhook: Map<String, Value>,
    org_webhook: Map<String, Value>,
    hook: Map<String, Value>,
    /// `"key":value` pairs of the issue example that are the same for every issue.
    issue_constant_fields: Vec<u8>,
}

/// Parses an embedded template. The templates are compiled in, so a failure is a build defect
/// (caught by the `templates_load` unit test), not a runtime condition: panicking is right.
fn object(raw: &str, what: &str) -> Map<String, Value> {
    let value: Value = serde_json::from_str(raw)
        .unwrap_or_else(|e| panic!("embedded template {what} is not JSON: {e}"));
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    match value {
        Value::Object(map) => map,
        _ => panic!("embedded template {what} is not an object"),
    }
}

/// An object member of an embedded template (e.g. the `repository` of a webhook example).
fn member(raw: &str, key: &str) -> Map<String, Value> {
    match object(raw, key).remove(key) {
        Some(Value::Object(map)) => map,
        _ => panic!("embedded template has no `{key}` object"),
    }
}

/// Issue keys written per item; everything else in the example is constant.
const ISSUE_PER_ITEM_KEYS: &[&str] = &[
    "id",
    "node_id",
    "url",
    "repository_url",
    "labels_url",
    "comments_url",
    "events_url",
    "html_url",
    "timeline_url",
    "number",
    "state",
    "state_reason",
    "title",
    "body",
    "user",
    "labels",
    "pull_request",
    "draft",
    "closed_at",
    "created_at",
    "updated_at",
    "closed_by",
    "author_association",
    "reactions",
];

fn issue_constant_fields(template: &Map<String, Value>) -> Vec<u8> {
    // The example's assignee, milestone and lock belong to octocat's demo issue; ours have none.
    let overrides: Map<String, Value> = json!({
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": 0,
        "performed_via_github_app": null,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let mut merged = template.clone();
    merged.retain(|k, _| !ISSUE_PER_ITEM_KEYS.contains(&k.as_str()));
    for (k, v) in overrides {
        merged.insert(k, v);
    }
    let rendered = Value::Object(merged).to_string();
    // Drop the braces: the pairs are spliced into each issue object.
    rendered.as_bytes()[1..rendered.len() - 1].to_vec()
}

static TEMPLATES: LazyLock<Templates> = LazyLock::new(|| {
    let private_user = object(include_str!("../templates/user.private.json"), "user");
    let issue = object(include_str!("../templates/issue.json"), "issue");
    let simple_user = match issue.get("user") {
        Some(Value::Object(u)) => u.clone(),
        _ => panic!("embedded issue template has no user object"),
    };
    Templates {
        issue_constant_fields: issue_constant_fields(&issue),
        private_user,
        simple_user,
        repo_full: object(include_str!("../templates/repository.full.json"), "repo"),
        repo_item: object(
            include_str!("../templates/repository.list.json"),
            "repo item",
        ),
        repo_webhook: member(
            include_str!("../templates/webhook.issues.opened.json"),
            "repository",
        ),
        org_webhook: member(
            include_str!("../templates/webhook.issues.opened.with-organization.json"),
            "organization",
        ),
        hook: member(include_str!("../templates/webhook.ping.json"), "hook"),
    }
});

/// Replaces example URL prefixes in every string of `value`.
fn retarget(value: &mut Value, pairs: &[(&str, &str)]) {
    match value {
        Value::String(s) => {
            for (from, to) in pairs {
                if s.contains(from) {
                    *s = s.replace(from, to);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| retarget(v, pairs)),
        Value::Object(map) => map.values_mut().for_each(|v| retarget(v, pairs)),
        _ => {}
    }
}

fn set(map: &mut Map<String, Value>, entries: Value) {
    if let Value::Object(entries) = entries {
        map.extend(entries);
    }
}

fn avatar_url(id: u64) -> String {
    format!("https://avatars.githubusercontent.com/u/{id}?v=4")
}

fn account_type(a: &Account) -> &'static str {
    match a.kind {
        AccountKind::User => "User",
        AccountKind::Organization => "Organization",
    }
}

fn retarget_account(map: &mut Map<String, Value>, api: &str, a: &Account) {
    let api_prefix = format!("{api}/users/{}", a.login);
    let html_prefix = format!("https://github.com/{}", a.login);
    let pairs: [(&str, &str); 2] = [
        (
            &format!("https://api.github.com/users/{EXAMPLE_LOGIN}"),
            &api_prefix,
        ),
        (&format!("https://github.com/{EXAMPLE_LOGIN}"), &html_prefix),
    ];
    map.values_mut().for_each(|v| retarget(v, &pairs));
    set(
        map,
        json!({
            "login": a.login,
            "id": a.id,
            "node_id": node_id(a.node_kind(), a.id),
            "avatar_url": avatar_url(a.id),
            "gravatar_id": "",
            "type": account_type(a),
            "site_admin": false,
        }),
    );
}

/// The "simple user" object GitHub embeds as `owner`, `user`, `organization`, ...
pub(crate) fn simple_user(api: &str, a: &Account) -> Value {
    let mut map = TEMPLATES.simple_user.clone();
    retarget_account(&mut map, api, a);
    Value::Object(map)
}

/// `GET /user`: the private profile of the token's user.
pub(crate) fn private_user(api: &str, st: &State, a: &Account) -> Value {
    let mut map = TEMPLATES.private_user.clone();
    retarget_account(&mut map, api, a);
    let owned: Vec<&RepoRec> = st.repos.values().filter(|r| r.owner == a.id).collect();
    let public = owned.iter().filter(|r| !r.private).count();
    let private = owned.len() - public;
    let created = format_ts(a.created_at);
    set(
        &mut map,
        json!({
            "name": a.login,
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "hireable": null,
            "bio": null,
            "twitter_username": null,
            "public_repos": public,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": created,
            "updated_at": created,
            "private_gists": 0,
            "total_private_repos": private,
            "owned_private_repos": private,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": true,
            "plan": {"name": "free", "space": 976_562_499, "private_repos": 10_000, "collaborators": 0},
        }),
    );
    Value::Object(map)
}

/// Which repository example to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepoShape {
    /// `GET /repos/{o}/{r}`, `POST /orgs/{org}/repos` (the "full repository").
    Full,
    /// Items of `GET /user/repos`.
    ListItem,
    /// The `repository` of webhook payloads (no `permissions`, has `custom_properties`).
    Webhook,
}

pub(crate) fn repository(
    api: &str,
    st: &State,
    repo: &RepoRec,
    viewer: AccountId,
    shape: RepoShape,
) -> Value {
    let mut map = match shape {
        RepoShape::Full => TEMPLATES.repo_full.clone(),
        RepoShape::ListItem => TEMPLATES.repo_item.clone(),
        RepoShape::Webhook => TEMPLATES.repo_webhook.clone(),
    };
    let example_repo = map
        .get("full_name")
        .and_then(Value::as_str)
        .unwrap_or(EXAMPLE_REPO)
        .to_owned();
    let full = st.full_name(repo);
    let owner = st.account_or_ghost(repo.owner);
    // Fork-only keys: GitHub omits them for repositories that are not forks.
    map.remove("parent");
    map.remove("source");
    let organization = map.remove("organization");

    let api_repo = format!("{api}/repos/{full}");
    let html = format!("https://github.com/{full}");
    let git = format!("git://github.com/{full}");
    let ssh = format!("git@github.com:{full}");
    let pairs: [(&str, &str); 5] = [
        (
            &format!("https://api.github.com/repos/{example_repo}"),
            &api_repo,
        ),
        (&format!("https://svn.github.com/{example_repo}"), &html),
        (&format!("https://github.com/{example_repo}"), &html),
        (&format!("git:github.com/{example_repo}"), &git),
        (&format!("git@github.com:{example_repo}"), &ssh),
    ];
    map.values_mut().for_each(|v| retarget(v, &pairs));
    let access = st.has_access(repo, viewer);
    let open = repo.open_issues_count();
    let created = format_ts(repo.created_at);
    let updated = format_ts(repo.updated_at);
    set(
        &mut map,
        json!({
            "id": repo.id,
            "node_id": repo.node_id,
            "name": repo.name,
            "full_name": full,
            "owner": simple_user(api, &owner),
            "private": repo.private,
            "visibility": if repo.private { "private" } else { "public" },
            "description": repo.description,
            "fork": false,
            "mirror_url": null,
            "homepage": null,
            "license": null,
            "language": null,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": "main",
            "open_issues_count": open,
            "open_issues": open,
            "is_template": false,
            "topics": [],
            "has_issues": true,
            "has_projects": true,
            "has_wiki": true,
            "has_pages": false,
            "has_downloads": true,
            "archived": false,
            "disabled": false,
            "pushed_at": created,
            "created_at": created,
            "updated_at": updated,
            "permissions": {
                "admin": access, "maintain": access, "push": access, "triage": access, "pull": true
            },
            "template_repository": null,
            "temp_clone_token": null,
            "delete_branch_on_merge": false,
            "subscribers_count": 0,
            "network_count": 0,
            "web_commit_signoff_required": false,
        }),
    );
    if shape == RepoShape::Full {
        // Present in the recorded real response (rest/recorded/create-org-repo.201.body.json)
        // though missing from the 2022 example.
        set(
            &mut map,
            json!({
                "allow_forking": true,
                "allow_update_branch": false,
                "use_squash_pr_title_as_default": false,
            }),
        );
    }
    // GitHub names the owning organization only for organization repositories.
    if organization.is_some() && owner.kind == AccountKind::Organization {
        map.insert("organization".to_owned(), simple_user(api, &owner));
    }
    if shape == RepoShape::Webhook {
        // Webhook repositories carry exactly the example's keys (no viewer permissions).
        let template = &TEMPLATES.repo_webhook;
        map.retain(|k, _| template.contains_key(k));
        map.insert("custom_properties".to_owned(), json!({}));
    }
    Value::Object(map)
}

/// The `organization` object of webhook payloads (an organization's summary).
pub(crate) fn webhook_organization(api: &str, org: &Account) -> Value {
    let mut map = TEMPLATES.org_webhook.clone();
    let base = format!("{api}/orgs/{}", org.login);
    set(
        &mut map,
        json!({
            "login": org.login,
            "id": org.id,
            "node_id": node_id(org.node_kind(), org.id),
            "url": base,
            "repos_url": format!("{base}/repos"),
            "events_url": format!("{base}/events"),
            "hooks_url": format!("{base}/hooks"),
            "issues_url": format!("{base}/issues"),
            "members_url": format!("{base}/members{{/member}}"),
            "public_members_url": format!("{base}/public_members{{/member}}"),
            "avatar_url": avatar_url(org.id),
            "description": "",
        }),
    );
    Value::Object(map)
}

/// GitHub's hook object (`POST/GET/PATCH /repos/{o}/{r}/hooks...`, `ping.hook`). The secret is
/// shown as `********`, never echoed.
pub(crate) fn hook(api: &str, full_name: &str, h: &crate::webhooks::HookRec) -> Value {
    let mut map = TEMPLATES.hook.clone();
    let url = format!("{api}/repos/{full_name}/hooks/{}", h.id);
    let mut config = json!({
        "content_type": h.content_type,
        "insecure_ssl": h.insecure_ssl,
        "url": h.url,
    });
    if h.secret.is_some() {
        config["secret"] = json!("********");
    }
    set(
        &mut map,
        json!({
            "type": "Repository",
            "id": h.id,
            "name": "web",
            "active": h.active,
            "events": h.events,
            "config": config,
            "updated_at": format_ts(h.updated_at),
            "created_at": format_ts(h.created_at),
            "url": url,
            "test_url": format!("{url}/test"),
            "ping_url": format!("{url}/pings"),
            "deliveries_url": format!("{url}/deliveries"),
            "last_response": {
                "code": h.last_response.code,
                "status": if h.last_response.status.is_empty() { "unused" } else { h.last_response.status },
                "message": h.last_response.message,
            },
        }),
    );
    Value::Object(map)
}

/// One issue as a JSON value (webhook payloads; the REST path writes bytes directly).
pub(crate) fn issue_value(api: &str, st: &State, repo: &RepoRec, issue: &IssueRec) -> Value {
    let mut out = Vec::with_capacity(4096);
    IssueWriter::new(api, st, repo).write(&mut out, issue);
    let mut v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
    // Webhook issues carry `draft` for plain issues too (see the examples).
    if let Some(map) = v.as_object_mut() {
        map.entry("draft").or_insert(Value::Bool(false));
    }
    v
}

/// A repository label as GitHub renders it (the `label` of `labeled`/`unlabeled` payloads).
pub(crate) fn label_value(api: &str, st: &State, repo: &RepoRec, idx: u32) -> Value {
    let mut w = IssueWriter::new(api, st, repo);
    serde_json::from_slice(w.label_json(idx)).unwrap_or(Value::Null)
}

/// Writes issues of one repository; caches the per-page pieces (escaped URL prefixes, authors,
/// labels) so 100 items cost little more than copying bytes.
pub(crate) struct IssueWriter<'a> {
    api: &'a str,
    st: &'a State,
    repo: &'a RepoRec,
    repo_api: String,
    repo_html: String,
    users: HashMap<AccountId, Vec<u8>>,
    labels: HashMap<u32, Vec<u8>>,
}

impl<'a> IssueWriter<'a> {
    pub(crate) fn new(api: &'a str, st: &'a State, repo: &'a RepoRec) -> Self {
        let full = st.full_name(repo);
        Self {
            api,
            st,
            repo,
            repo_api: json_escaped(&format!("{api}/repos/{full}")),
            repo_html: json_escaped(&format!("https://github.com/{full}")),
            users: HashMap::new(),
            labels: HashMap::new(),
        }
    }

    fn user_json(&mut self, id: AccountId) -> &[u8] {
        let (api, st) = (self.api, self.st);
        self.users.entry(id).or_insert_with(|| {
            serde_json::to_vec(&simple_user(api, &st.account_or_ghost(id))).unwrap_or_default()
        })
    }

    fn label_json(&mut self, idx: u32) -> &[u8] {
        let (repo, repo_api) = (self.repo, &self.repo_api);
        self.labels.entry(idx).or_insert_with(|| {
            let Some(l) = repo.labels.get(idx as usize) else {
                return b"null".to_vec();
            };
            let mut out = Vec::with_capacity(256);
            let mut w = ObjWriter::begin(&mut out);
            w.u64("id", l.id);
            w.str("node_id", &node_id("Label", l.id));
            w.str_parts(
                "url",
                &[
                    repo_api,
                    "/labels/",
                    &json_escaped(&encode_segment(&l.name)),
                ],
            );
            w.str("name", &l.name);
            w.opt_str("description", l.description.as_deref());
            w.str("color", &l.color);
            w.raw("default", if l.default { b"true" } else { b"false" });
            w.end();
            out
        })
    }

    pub(crate) fn write(&mut self, out: &mut Vec<u8>, issue: &IssueRec) {
        let n = issue.number.to_string();
        let user = self.user_json(issue.author).to_vec();
        let closed_by = issue.closed_by.map(|id| self.user_json(id).to_vec());
        let mut labels = Vec::with_capacity(2 + issue.labels.len() * 200);
        labels.push(b'[');
        for (i, &l) in issue.labels.iter().enumerate() {
            if i > 0 {
                labels.push(b',');
            }
            labels.extend_from_slice(self.label_json(l));
        }
        labels.push(b']');

        let (api, html) = (self.repo_api.as_str(), self.repo_html.as_str());
        let mut w = ObjWriter::begin(out);
        w.fields(&TEMPLATES.issue_constant_fields);
        w.u64("id", issue.id);
        w.str("node_id", &issue.node_id);
        w.str_parts("url", &[api, "/issues/", &n]);
        w.str_parts("repository_url", &[api]);
        w.str_parts("labels_url", &[api, "/issues/", &n, "/labels{/name}"]);
        w.str_parts("comments_url", &[api, "/issues/", &n, "/comments"]);
        w.str_parts("events_url", &[api, "/issues/", &n, "/events"]);
        w.str_parts("timeline_url", &[api, "/issues/", &n, "/timeline"]);
        let kind = if issue.pull_request {
            "/pull/"
        } else {
            "/issues/"
        };
        w.str_parts("html_url", &[html, kind, &n]);
        w.u64("number", issue.number);
        w.str("state", issue.state.as_str());
        w.opt_str(
            "state_reason",
            issue.state_reason.map(super::model::StateReason::as_str),
        );
        w.str("title", &issue.title);
        w.opt_str("body", issue.body.as_deref());
        w.raw("user", &user);
        w.raw("labels", &labels);
        match &closed_by {
            Some(u) => w.raw("closed_by", u),
            None => w.null("closed_by"),
        }
        w.ts("created_at", Some(issue.created_at));
        w.ts("updated_at", Some(issue.updated_at));
        w.ts("closed_at", issue.closed_at);
        w.str("author_association", issue.author_association);
        {
            let out = w.key("reactions");
            out.extend_from_slice(b"{\"url\":\"");
            out.extend_from_slice(api.as_bytes());
            out.extend_from_slice(b"/issues/");
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(
                br#"/reactions","total_count":0,"+1":0,"-1":0,"laugh":0,"hooray":0,"confused":0,"heart":0,"rocket":0,"eyes":0}"#,
            );
        }
        if issue.pull_request {
            w.raw("draft", b"false");
            let out = w.key("pull_request");
            let mut pr = ObjWriter::begin(out);
            pr.str_parts("url", &[api, "/pulls/", &n]);
            pr.str_parts("html_url", &[html, "/pull/", &n]);
            pr.str_parts("diff_url", &[html, "/pull/", &n, ".diff"]);
            pr.str_parts("patch_url", &[html, "/pull/", &n, ".patch"]);
            pr.null("merged_at");
            pr.end();
        }
        w.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GenerateIssues, NewIssue};

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    #[test]
    fn templates_load() {
        assert!(TEMPLATES.private_user.contains_key("plan"));
        assert!(TEMPLATES.simple_user.contains_key("received_events_url"));
        assert!(TEMPLATES.repo_full.contains_key("organization"));
        assert!(TEMPLATES.repo_item.contains_key("temp_clone_token"));
        let constant = String::from_utf8(TEMPLATES.issue_constant_fields.clone()).expect("utf8");
        assert!(constant.contains(r#""milestone":null"#), "{constant}");
        assert!(!constant.contains("octocat"), "{constant}");
    }

    #[test]
    fn issues_render_as_valid_json_with_our_values() {
        let mut st = State::default();
        st.add_user("t", "alice").expect("user");
        let repo_id = st.create_repo("alice", "proj", false, None).expect("repo");
        st.generate_issues("alice/proj", &GenerateIssues::new(2).pull_request_every(2))
            .expect("issues");
        st.add_issue(
            "alice/proj",
            NewIssue {
                labels: vec!["bug".into(), "good first issue".into()],
                ..NewIssue::titled("Quote \" and émoji ✓")
            },
        )
        .expect("issue");
        let repo = &st.repos[&repo_id];
        let mut w = IssueWriter::new("http://127.0.0.1:1", &st, repo);
        let mut out = Vec::new();
        out.push(b'[');
        for (i, issue) in repo.issues.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            w.write(&mut out, issue);
        }
        out.push(b']');
        let v: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v[0]["url"], "http://127.0.0.1:1/repos/alice/proj/issues/1");
        assert_eq!(v[0]["html_url"], "https://github.com/alice/proj/issues/1");
        assert!(v[0].get("pull_request").is_none());
        assert_eq!(
            v[1]["pull_request"]["html_url"],
            "https://github.com/alice/proj/pull/2"
        );
        assert_eq!(v[2]["title"], "Quote \" and émoji ✓");
        assert_eq!(v[2]["labels"][1]["name"], "good first issue");
        assert_eq!(
            v[2]["labels"][1]["url"],
            "http://127.0.0.1:1/repos/alice/proj/labels/good%20first%20issue"
        );
        assert_eq!(v[2]["user"]["login"], "alice");
        assert!(!String::from_utf8_lossy(&out).contains("octocat"));
    }

    #[test]
    fn repositories_keep_every_example_key_except_fork_ones() {
        let mut st = State::default();
        let alice = st.add_user("t", "alice").expect("user");
        st.add_org("acme").expect("org");
        st.add_org_member("acme", "alice").expect("member");
        let id = st.create_repo("acme", "web", true, None).expect("repo");
        let v = repository("http://h", &st, &st.repos[&id], alice, RepoShape::Full);
        let mut expected = keys(&Value::Object(TEMPLATES.repo_full.clone()));
        expected.retain(|k| k != "parent" && k != "source");
        let got = keys(&v);
        for k in &expected {
            assert!(got.contains(k), "missing {k}");
        }
        assert_eq!(v["full_name"], "acme/web");
        assert_eq!(v["organization"]["login"], "acme");
        assert_eq!(v["owner"]["type"], "Organization");
        assert_eq!(v["issues_url"], "http://h/repos/acme/web/issues{/number}");
        assert_eq!(v["ssh_url"], "git@github.com:acme/web.git");
        assert!(!v.to_string().contains("octocat"), "{v}");
    }
}
