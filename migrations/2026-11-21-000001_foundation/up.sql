-- Tenancy, users and API tokens; projects with their spec; tasks.
-- Every tenant-owned row reaches its workspace through a foreign key, and deleting a
-- workspace or project removes what belongs to it.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, email)
);

-- Only the SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE api_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE projects (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug              text NOT NULL UNIQUE,
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    github_repo       text,
    -- The last task number handed out. Incremented under the row lock of the
    -- UPDATE that reserves numbers, so concurrent creates never repeat or skip one.
    last_task_number  bigint NOT NULL DEFAULT 0 CHECK (last_task_number >= 0),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
-- Listing a workspace's projects in id (creation) order.
CREATE INDEX projects_workspace_id_id_idx ON projects (workspace_id, id);

CREATE TABLE specs (
    project_id  uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    status      text NOT NULL CHECK (status IN ('draft', 'interviewing', 'review')),
    content     text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL
);

CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number       bigint NOT NULL CHECK (number > 0),
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    status       text NOT NULL CHECK (status IN ('todo', 'in_progress', 'done', 'canceled')),
    priority     text NOT NULL CHECK (priority IN ('none', 'low', 'medium', 'high', 'urgent')),
    labels       text[] NOT NULL DEFAULT '{}',
    source       text NOT NULL CHECK (source IN ('manual', 'github')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (project_id, number)
);
-- Filtered listings (status) keep number order.
CREATE INDEX tasks_project_status_number_idx ON tasks (project_id, status, number);
