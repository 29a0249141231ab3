-- A workspace's GitHub connection. The token is stored only sealed with
-- AES-256-GCM; `key_id` names the key, the row id is part of the associated data.
CREATE TABLE github_credentials (
    id             uuid PRIMARY KEY,
    workspace_id   uuid NOT NULL UNIQUE REFERENCES workspaces (id) ON DELETE CASCADE,
    account_login  text NOT NULL,
    token_hint     text NOT NULL,
    key_id         text NOT NULL,
    nonce          bytea NOT NULL,
    ciphertext     bytea NOT NULL,
    connected_at   timestamptz NOT NULL
);

-- Links from tasks to where they live outside pmhub. The unique key is what makes
-- imports idempotent under concurrency: a look-up before the insert alone races.
-- An import inserts the links first (ON CONFLICT DO NOTHING) and then only the
-- tasks whose link it won, so the task foreign key is checked at commit.
CREATE TABLE external_links (
    id          uuid PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE
                DEFERRABLE INITIALLY DEFERRED,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    provider    text NOT NULL,
    dedup_key   text NOT NULL,
    reference   text NOT NULL,
    url         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, provider, dedup_key)
);
CREATE INDEX external_links_task_id_idx ON external_links (task_id);

CREATE TABLE sync_runs (
    id                     uuid PRIMARY KEY,
    project_id             uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind                   text NOT NULL CHECK (kind IN ('import', 'push')),
    repo                   text NOT NULL,
    status                 text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    created                integer NOT NULL DEFAULT 0,
    skipped                integer NOT NULL DEFAULT 0,
    pull_requests_ignored  integer NOT NULL DEFAULT 0,
    total_seen             integer NOT NULL DEFAULT 0,
    error_code             text,
    started_at             timestamptz NOT NULL,
    finished_at            timestamptz
);
CREATE INDEX sync_runs_project_id_id_idx ON sync_runs (project_id, id DESC);
