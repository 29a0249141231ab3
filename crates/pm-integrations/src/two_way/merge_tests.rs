use super::*;
use crate::IssueState;
use crate::two_way::IssueStatus;
use pm_kernel::ProjectId;
use pm_tasks::{Priority, TaskSource};
use serde_json::{Value, json};

const STATUSES: [IssueStatus; 3] = [
    IssueStatus::Open,
    IssueStatus::Completed,
    IssueStatus::NotPlanned,
];

fn labels(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

fn fields(title: &str, body: &str, status: IssueStatus, names: &[&str]) -> IssueFields {
    IssueFields {
        title: title.into(),
        body: body.into(),
        status,
        labels: labels(names),
    }
}

fn base() -> IssueFields {
    fields("Base", "base body", IssueStatus::Open, &["bug"])
}

fn task_status(status: IssueStatus) -> TaskStatus {
    match status {
        IssueStatus::Open => TaskStatus::Todo,
        IssueStatus::Completed => TaskStatus::Done,
        IssueStatus::NotPlanned => TaskStatus::Canceled,
    }
}

fn task_of(f: &IssueFields) -> Task {
    let now = pm_kernel::now();
    Task {
        id: TaskId::new(),
        project_id: ProjectId::new(),
        number: 7,
        title: TaskTitle::lenient(&f.title),
        description: TaskDescription::lenient(&f.body),
        status: task_status(f.status),
        priority: Priority::None,
        labels: Labels::lenient(f.labels.iter().map(String::as_str)),
        source: TaskSource::Github,
        external_links: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

fn input<'a>(
    base: Option<&'a IssueFields>,
    task: &'a Task,
    github: &'a IssueFields,
    policy: ConflictPolicy,
) -> MergeInput<'a> {
    MergeInput {
        base,
        task,
        reopen_status: None,
        github,
        marker: None,
        issue_number: 12,
        policy,
        run_id: None,
        cause: "issues.edited",
    }
}

/// `f` with `field` set to variant `v` (0 is the base's value, 1 and 2 differ).
fn with(field: SyncField, f: &IssueFields, v: usize) -> IssueFields {
    let mut out = f.clone();
    match field {
        SyncField::Title => out.title = ["Base", "Title X", "Title Y"][v].into(),
        SyncField::Body => out.body = ["base body", "body X", "body Y"][v].into(),
        SyncField::Status => out.status = STATUSES[v],
        SyncField::Labels => unreachable!("labels merge as sets"),
    }
    out
}

fn task_patch_value(field: SyncField, p: &TaskPatch) -> Option<Value> {
    match field {
        SyncField::Title => p.title.as_ref().map(|t| json!(t.as_str())),
        SyncField::Body => p.description.as_ref().map(|d| json!(d.as_str())),
        SyncField::Status => p.status.map(|s| json!(IssueStatus::of_task(s).as_str())),
        SyncField::Labels => p.labels.as_ref().map(|l| json!(l.as_slice())),
    }
}

fn issue_patch_value(field: SyncField, p: &IssuePatch) -> Option<Value> {
    match field {
        SyncField::Title => p.title.as_ref().map(|t| json!(t)),
        SyncField::Body => p.body.as_ref().map(|b| json!(b)),
        SyncField::Status => p
            .state
            .map(|s| json!(IssueStatus::of_issue(s, p.state_reason.as_deref()).as_str())),
        SyncField::Labels => p.labels.as_ref().map(|l| json!(l)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Row {
    OnlyGithubChanged,
    OnlyPmhubChanged,
    BothSame,
    BothDifferent,
}

/// Every row of the table × both policies × title, body and status.
#[test]
fn every_row_for_every_field_under_both_policies() {
    let b = base();
    for field in [SyncField::Title, SyncField::Body, SyncField::Status] {
        for policy in [ConflictPolicy::PmhubWins, ConflictPolicy::GithubWins] {
            for row in [
                Row::OnlyGithubChanged,
                Row::OnlyPmhubChanged,
                Row::BothSame,
                Row::BothDifferent,
            ] {
                let (tv, gv) = match row {
                    Row::OnlyGithubChanged => (0, 1),
                    Row::OnlyPmhubChanged => (1, 0),
                    Row::BothSame => (1, 1),
                    Row::BothDifferent => (1, 2),
                };
                let t = with(field, &b, tv);
                let g = with(field, &b, gv);
                let task = task_of(&t);
                let m = merge(input(Some(&b), &task, &g, policy));
                let case = format!("{field:?} {row:?} {policy:?}");
                let (tval, gval) = (field.value_in(&t), field.value_in(&g));
                // Which side is written, and with what.
                let github_wins = match row {
                    Row::OnlyGithubChanged => Some(true),
                    Row::OnlyPmhubChanged => Some(false),
                    Row::BothSame => None,
                    Row::BothDifferent => Some(policy == ConflictPolicy::GithubWins),
                };
                match github_wins {
                    Some(true) => {
                        assert_eq!(
                            task_patch_value(field, &m.task_patch),
                            Some(gval.clone()),
                            "{case}"
                        );
                        assert!(m.issue_patch.is_empty(), "{case}");
                        assert_eq!(field.value_in(&m.target), gval, "{case}");
                    }
                    Some(false) => {
                        assert!(m.task_patch.is_empty(), "{case}");
                        assert_eq!(
                            issue_patch_value(field, &m.issue_patch),
                            Some(tval.clone()),
                            "{case}"
                        );
                        assert_eq!(field.value_in(&m.target), tval, "{case}");
                    }
                    None => {
                        assert!(m.task_patch.is_empty(), "{case}");
                        assert!(m.issue_patch.is_empty(), "{case}");
                        assert_eq!(m.verdict, Verdict::Unchanged, "{case}");
                        assert!(m.events.is_empty(), "{case}");
                        assert_eq!(m.target, g, "{case}: the snapshot catches up");
                    }
                }
                if github_wins.is_some() {
                    assert_eq!(m.verdict, Verdict::Changed, "{case}");
                    assert_eq!(m.events.len(), 1, "{case}: {:?}", m.events);
                    let e = &m.events[0];
                    assert_eq!(e.field, Some(field), "{case}");
                    assert_eq!(e.task_number, Some(7), "{case}");
                    assert_eq!(e.issue_number, Some(12), "{case}");
                    assert_eq!(e.detail.as_deref(), Some("issues.edited"), "{case}");
                    let (dir, from, to) = if github_wins == Some(true) {
                        (SyncDirectionOfChange::ToPmhub, &tval, &gval)
                    } else {
                        (SyncDirectionOfChange::ToGithub, &gval, &tval)
                    };
                    assert_eq!(e.direction, Some(dir), "{case}");
                    assert_eq!(e.from_value.as_ref(), Some(from), "{case}");
                    assert_eq!(e.to_value.as_ref(), Some(to), "{case}");
                }
                if row == Row::BothDifferent {
                    assert_eq!(m.events[0].kind, SyncEventKind::Conflict, "{case}");
                    assert_eq!(
                        m.conflicts,
                        vec![NewConflict {
                            run_id: None,
                            task_id: task.id,
                            task_number: 7,
                            issue_number: 12,
                            field,
                            base_value: Some(field.value_in(&b)),
                            pmhub_value: tval.clone(),
                            github_value: gval.clone(),
                            policy,
                        }],
                        "{case}"
                    );
                } else {
                    assert!(m.conflicts.is_empty(), "{case}");
                    if let Some(e) = m.events.first() {
                        assert_eq!(e.kind, SyncEventKind::Updated, "{case}");
                    }
                }
            }
        }
    }
}

#[test]
fn without_a_snapshot_githubs_differing_values_are_taken() {
    let t = fields("Mine", "mine", IssueStatus::Open, &["a", "b"]);
    let g = fields("Theirs", "theirs", IssueStatus::Completed, &["b", "c"]);
    let task = task_of(&t);
    for policy in [ConflictPolicy::PmhubWins, ConflictPolicy::GithubWins] {
        let m = merge(input(None, &task, &g, policy));
        assert!(m.conflicts.is_empty());
        assert!(m.issue_patch.is_empty(), "{:?}", m.issue_patch);
        assert_eq!(m.target, g);
        assert_eq!(m.task_patch.title.as_ref().unwrap().as_str(), "Theirs");
        assert_eq!(
            m.task_patch.description.as_ref().unwrap().as_str(),
            "theirs"
        );
        assert_eq!(m.task_patch.status, Some(TaskStatus::Done));
        assert_eq!(m.task_patch.labels.as_ref().unwrap().as_slice(), ["b", "c"]);
        assert!(
            m.events
                .iter()
                .all(|e| e.direction == Some(SyncDirectionOfChange::ToPmhub))
        );
        assert_eq!(m.events.len(), 4);
    }
}

#[test]
fn reopening_restores_the_prior_open_status() {
    let b = fields("T", "", IssueStatus::Completed, &[]);
    let g = fields("T", "", IssueStatus::Open, &[]);
    let task = task_of(&b);
    let mut i = input(Some(&b), &task, &g, ConflictPolicy::PmhubWins);
    i.reopen_status = Some(TaskStatus::InProgress);
    assert_eq!(merge(i).task_patch.status, Some(TaskStatus::InProgress));
    i.reopen_status = None;
    assert_eq!(merge(i).task_patch.status, Some(TaskStatus::Todo));
}

#[test]
fn closed_as_not_planned_cancels_and_a_task_closed_in_pmhub_closes_the_issue() {
    let open = fields("T", "", IssueStatus::Open, &[]);
    let not_planned = fields("T", "", IssueStatus::NotPlanned, &[]);
    let task = task_of(&open);
    let m = merge(input(
        Some(&open),
        &task,
        &not_planned,
        ConflictPolicy::PmhubWins,
    ));
    assert_eq!(m.task_patch.status, Some(TaskStatus::Canceled));

    // pmhub: done → closed as completed; canceled → not planned; reopened → open.
    for (to, state, reason) in [
        (
            IssueStatus::Completed,
            IssueState::Closed,
            Some("completed"),
        ),
        (
            IssueStatus::NotPlanned,
            IssueState::Closed,
            Some("not_planned"),
        ),
    ] {
        let task = task_of(&fields("T", "", to, &[]));
        let m = merge(input(Some(&open), &task, &open, ConflictPolicy::GithubWins));
        assert_eq!(m.issue_patch.state, Some(state));
        assert_eq!(m.issue_patch.state_reason.as_deref(), reason);
        assert!(m.task_patch.is_empty());
    }
    let closed = fields("T", "", IssueStatus::Completed, &[]);
    let mut task = task_of(&open);
    task.status = TaskStatus::InProgress;
    let m = merge(input(
        Some(&closed),
        &task,
        &closed,
        ConflictPolicy::PmhubWins,
    ));
    assert_eq!(m.issue_patch.state, Some(IssueState::Open));
    assert_eq!(m.issue_patch.state_reason, None);
}

#[test]
fn a_move_between_open_statuses_is_not_a_change() {
    let open = fields("T", "", IssueStatus::Open, &[]);
    let mut task = task_of(&open);
    task.status = TaskStatus::InProgress;
    let m = merge(input(Some(&open), &task, &open, ConflictPolicy::PmhubWins));
    assert_eq!(m.verdict, Verdict::Unchanged);
    assert!(m.task_patch.is_empty() && m.issue_patch.is_empty() && m.events.is_empty());
}

#[test]
fn labels_added_and_removed_on_both_sides_merge_as_a_set() {
    let b = fields("T", "", IssueStatus::Open, &["a", "b", "c"]);
    // pmhub removed c and added d; GitHub removed b and added e.
    let t = fields("T", "", IssueStatus::Open, &["a", "b", "d"]);
    let g = fields("T", "", IssueStatus::Open, &["a", "c", "e"]);
    let task = task_of(&t);
    for policy in [ConflictPolicy::PmhubWins, ConflictPolicy::GithubWins] {
        let m = merge(input(Some(&b), &task, &g, policy));
        assert!(m.conflicts.is_empty(), "labels never conflict");
        assert_eq!(m.target.labels, labels(&["a", "d", "e"]));
        assert_eq!(
            m.task_patch.labels.as_ref().unwrap().as_slice(),
            ["a", "d", "e"]
        );
        assert_eq!(
            m.issue_patch.labels.as_deref(),
            Some(&["a".to_string(), "d".into(), "e".into()][..])
        );
        let dirs: Vec<_> = m.events.iter().map(|e| (e.field, e.direction)).collect();
        assert_eq!(
            dirs,
            vec![
                (
                    Some(SyncField::Labels),
                    Some(SyncDirectionOfChange::ToPmhub)
                ),
                (
                    Some(SyncField::Labels),
                    Some(SyncDirectionOfChange::ToGithub)
                ),
            ]
        );
        assert_eq!(m.events[0].from_value, Some(json!(["a", "b", "d"])));
        assert_eq!(m.events[0].to_value, Some(json!(["a", "d", "e"])));
        assert_eq!(m.events[1].from_value, Some(json!(["a", "c", "e"])));
    }
}

#[test]
fn labels_changed_on_one_side_go_to_the_other() {
    let b = fields("T", "", IssueStatus::Open, &["a", "b"]);
    let added = fields("T", "", IssueStatus::Open, &["a", "b", "c"]);
    let removed = fields("T", "", IssueStatus::Open, &["a"]);
    for (t, g, task_gets, github_gets) in [
        (&b, &added, Some(vec!["a", "b", "c"]), None),
        (&b, &removed, Some(vec!["a"]), None),
        (&added, &b, None, Some(vec!["a", "b", "c"])),
        (&removed, &b, None, Some(vec!["a"])),
        (&added, &added, None, None),
    ] {
        let task = task_of(t);
        let m = merge(input(Some(&b), &task, g, ConflictPolicy::PmhubWins));
        assert_eq!(
            m.task_patch.labels.map(Labels::into_vec),
            task_gets.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>())
        );
        assert_eq!(
            m.issue_patch.labels,
            github_gets.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>())
        );
    }
}

#[test]
fn a_tasks_labels_keep_their_order_and_new_ones_follow() {
    let b = fields("T", "", IssueStatus::Open, &["z", "a"]);
    let g = fields("T", "", IssueStatus::Open, &["z", "a", "m"]);
    let mut task = task_of(&b);
    task.labels = Labels::lenient(["z", "a"]);
    let m = merge(input(Some(&b), &task, &g, ConflictPolicy::PmhubWins));
    assert_eq!(m.task_patch.labels.unwrap().as_slice(), ["z", "a", "m"]);
}

#[test]
fn githubs_normalised_answer_is_applied_to_the_task_so_both_end_equal() {
    let b = base();
    let t = fields(
        "  My title",
        "base body",
        IssueStatus::Open,
        &["bug", "wontset"],
    );
    let task = task_of(&t);
    let mut m = merge(input(Some(&b), &task, &b, ConflictPolicy::PmhubWins));
    assert_eq!(m.issue_patch.title.as_deref(), Some("My title"));
    assert!(m.task_patch.is_empty());
    // GitHub stores another spelling and drops the label the token may not set.
    let response = fields("My Title", "base body", IssueStatus::Open, &["bug"]);
    m.after_patch(&response);
    assert_eq!(m.target, response, "the snapshot is what GitHub answered");
    assert!(m.issue_patch.is_empty());
    assert_eq!(m.task_patch.title.as_ref().unwrap().as_str(), "My Title");
    assert_eq!(m.task_patch.labels.as_ref().unwrap().as_slice(), ["bug"]);
    assert_eq!(m.task_patch.status, None);
    let back: Vec<_> = m
        .events
        .iter()
        .filter(|e| e.direction == Some(SyncDirectionOfChange::ToPmhub))
        .map(|e| e.field)
        .collect();
    assert_eq!(back, vec![Some(SyncField::Title), Some(SyncField::Labels)]);

    // GitHub keeping what was sent writes nothing back.
    let mut m = merge(input(Some(&b), &task, &b, ConflictPolicy::PmhubWins));
    let sent = m.target.clone();
    let events = m.events.len();
    m.after_patch(&sent);
    assert!(m.task_patch.is_empty());
    assert_eq!(m.events.len(), events);
}

#[test]
fn a_body_patch_keeps_the_marker_when_githubs_body_has_one() {
    let b = base();
    let t = fields("Base", "new body", IssueStatus::Open, &["bug"]);
    let task = task_of(&t);
    let mut i = input(Some(&b), &task, &b, ConflictPolicy::PmhubWins);
    assert_eq!(merge(i).issue_patch.body.as_deref(), Some("new body"));
    i.marker = Some(task.id);
    let body = merge(i).issue_patch.body.unwrap();
    assert_eq!(body, format!("new body\n\n{}", marker(task.id)));
    assert_eq!(crate::link::strip_marker(&body), "new body");
    assert_eq!(body_with_marker("", Some(task.id)), marker(task.id));
    let long = "x".repeat(70_000);
    assert_eq!(
        body_with_marker(&long, Some(task.id)).chars().count(),
        65_536
    );
    assert_eq!(body_with_marker(&long, None).chars().count(), 65_536);
}

#[test]
fn both_sides_changed_to_the_same_value_is_unchanged_with_a_new_snapshot() {
    let b = base();
    let same = fields("New", "new", IssueStatus::Completed, &["x"]);
    let task = task_of(&same);
    let m = merge(input(Some(&b), &task, &same, ConflictPolicy::GithubWins));
    assert_eq!(m.verdict, Verdict::Unchanged);
    assert!(m.events.is_empty() && m.conflicts.is_empty());
    assert_eq!(m.target, same);
    assert_ne!(m.base(), &m.target, "the snapshot must be written");
}

#[test]
fn the_base_after_a_stale_write_takes_the_sent_fields_from_the_task() {
    let b = base();
    // pmhub retitled; GitHub closed it and added a label.
    let t = fields("Mine", "base body", IssueStatus::Open, &["bug"]);
    let g = fields("Base", "base body", IssueStatus::Completed, &["bug", "gh"]);
    let task = task_of(&t);
    let m = merge(input(Some(&b), &task, &g, ConflictPolicy::PmhubWins));
    assert_eq!(m.issue_patch.title.as_deref(), Some("Mine"));
    let next = m.base_after_stale(&m.issue_patch);
    assert_eq!(next.title, "Mine", "sent: both agreed on the task's value");
    assert_eq!(
        next.status,
        IssueStatus::Open,
        "not written to the task yet"
    );
    assert_eq!(next.labels, labels(&["bug"]));
    assert_eq!(m.task_fields(), &t);
}
