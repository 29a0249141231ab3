-- Two-way sync (issue 11, ADR 0024): per-project settings, a snapshot of each
-- linked issue as last synced (the base of the three-way merge), the task's open
-- status before it was closed, a journal of every decision and the conflicts.

-- How a project syncs with its repository. A project with a repository and no row
-- syncs with the defaults (two_way, pmhub_wins, no automatic push); projects that
-- were linked before two-way sync existed get an `import_only` row below, so they
-- behave exactly as they did.
CREATE TABLE github_sync_settings (
    project_id       uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    direction        text NOT NULL DEFAULT 'two_way'
                     CHECK (direction IN ('import_only', 'two_way')),
    conflict_policy  text NOT NULL DEFAULT 'pmhub_wins'
                     CHECK (conflict_policy IN ('pmhub_wins', 'github_wins')),
    push_new_tasks   boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO github_sync_settings (project_id, direction)
SELECT id, 'import_only' FROM projects WHERE github_repo IS NOT NULL;

-- Where the periodic reconcile of a project's repository stands. Written only when
-- a reconcile saw a change, so an idle repository's reconcile writes no row.
CREATE TABLE github_reconcile_state (
    project_id       uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    repo_full_name   text NOT NULL,
    -- the newest `updated_at` merged; the next reconcile lists `since` this minus
    -- an overlap (GitHub's timestamps have one-second resolution and arrive late)
    watermark        timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The issue behind a link and the state of the link itself. `snapshot` is the
-- issue's synced fields as pmhub last saw them agree on both sides
-- ({"title", "body", "status": open|completed|not_planned, "labels": [...]});
-- NULL for links made before two-way sync (the merge then takes the task as base).
ALTER TABLE external_links
    ADD COLUMN github_issue_id  bigint,
    ADD COLUMN issue_number     bigint,
    ADD COLUMN snapshot         jsonb,
    ADD COLUMN etag             text,
    ADD COLUMN link_state       text NOT NULL DEFAULT 'active'
                                CHECK (link_state IN ('active', 'deleted', 'transferred')),
    ADD COLUMN synced_at        timestamptz;
-- Existing GitHub links: the issue id is the dedup key's tail
-- (`github:{host}:issue:{id}`), the number the reference's (`owner/name#N`).
UPDATE external_links
   SET github_issue_id = substring(dedup_key FROM ':issue:([0-9]+)$')::bigint,
       issue_number = substring(reference FROM '#([0-9]+)$')::bigint
 WHERE provider = 'github';
CREATE INDEX external_links_project_issue_idx
    ON external_links (project_id, github_issue_id) WHERE github_issue_id IS NOT NULL;

-- The open status (todo, in_progress) a task had before it was closed, so a
-- reopened issue returns it there. Kept by the task update statements.
ALTER TABLE tasks
    ADD COLUMN reopen_status text CHECK (reopen_status IN ('todo', 'in_progress'));

-- What a merge decided: runs of kind `reconcile` and the new counts.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_kind_check
    CHECK (kind IN ('import', 'push', 'reconcile'));
ALTER TABLE sync_runs
    ADD COLUMN updated    integer NOT NULL DEFAULT 0,
    ADD COLUMN unchanged  integer NOT NULL DEFAULT 0,
    ADD COLUMN conflicts  integer NOT NULL DEFAULT 0;

-- The sync journal: every decision, per run and per task. Tasks and runs may be
-- deleted; their events stay (task_number says which task it was).
CREATE TABLE github_sync_events (
    id            uuid PRIMARY KEY,            -- UUIDv7: time-ordered
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id        uuid,
    task_id       uuid,
    task_number   bigint,
    issue_number  bigint,
    kind          text NOT NULL CHECK (kind IN ('created', 'updated', 'echo_ignored',
                       'conflict', 'skipped', 'failed', 'link_removed', 'link_deleted',
                       'link_transferred')),
    -- for `updated` and `conflict`: which side was written
    direction     text CHECK (direction IN ('to_pmhub', 'to_github')),
    field         text CHECK (field IN ('title', 'body', 'status', 'labels')),
    from_value    jsonb,
    to_value      jsonb,
    -- a skip's reason, a failure's error code, what caused the merge (`issues.closed`,
    -- `task.edited`, `reconcile`, `sync`)
    detail        text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_sync_events_project_idx ON github_sync_events (project_id, id DESC);
CREATE INDEX github_sync_events_run_idx ON github_sync_events (run_id, id) WHERE run_id IS NOT NULL;
CREATE INDEX github_sync_events_task_idx ON github_sync_events (project_id, task_number, id DESC);

-- Both sides changed a field to different values: the policy chose one; the other
-- is kept here so a person can look and restore it. Open until acknowledged.
CREATE TABLE github_conflicts (
    id               uuid PRIMARY KEY,         -- UUIDv7
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id           uuid,
    task_id          uuid,
    task_number      bigint NOT NULL,
    issue_number     bigint,
    field            text NOT NULL CHECK (field IN ('title', 'body', 'status', 'labels')),
    base_value       jsonb,
    pmhub_value      jsonb NOT NULL,
    github_value     jsonb NOT NULL,
    policy           text NOT NULL CHECK (policy IN ('pmhub_wins', 'github_wins')),
    detected_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz
);
CREATE INDEX github_conflicts_open_idx ON github_conflicts (project_id, id DESC)
    WHERE acknowledged_at IS NULL;
CREATE INDEX github_conflicts_project_idx ON github_conflicts (project_id, id DESC);

-- A job that is running when it is asked for again (a new dirty mark for a merge
-- that already read its list) runs once more when it finishes, instead of the
-- request being lost in the join. Set by an enqueue that joins a running job.
ALTER TABLE jobs ADD COLUMN rerun boolean NOT NULL DEFAULT false;
