-- The durable job queue (ADR 0017-job-queue). One row per job; a claim is one short
-- statement that takes a lease (no transaction stays open while a job runs).
CREATE TABLE jobs (
    id                  uuid PRIMARY KEY,
    kind                text NOT NULL CHECK (kind ~ '^[a-z0-9._:-]{1,100}$'),
    payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
    concurrency_key     text CHECK (char_length(concurrency_key) BETWEEN 1 AND 200),
    workspace_id        uuid REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id          uuid REFERENCES projects (id) ON DELETE CASCADE,
    status              text NOT NULL CHECK (status IN
                            ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled')),
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts        integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    run_at              timestamptz NOT NULL,
    lease_token         uuid,
    lease_until         timestamptz,
    worker              text,
    cancel_requested    boolean NOT NULL DEFAULT false,
    last_error_code     text,
    last_error_message  text,
    progress            jsonb,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    started_at          timestamptz,
    finished_at         timestamptz,
    -- A running job has a lease; no other has one.
    CHECK ((status = 'running') = (lease_token IS NOT NULL AND lease_until IS NOT NULL))
);

-- The singleton: at most one active job per concurrency key, so N processes never run
-- two jobs of one key at once, and a second enqueue joins the active one.
CREATE UNIQUE INDEX jobs_one_active_per_key ON jobs (concurrency_key)
    WHERE status IN ('queued', 'waiting', 'running');
-- Claiming: due jobs by run_at, and running jobs whose lease ran out.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status IN ('queued', 'waiting');
CREATE INDEX jobs_lease_idx ON jobs (lease_until) WHERE status = 'running';
-- Cleanup of finished jobs.
CREATE INDEX jobs_finished_idx ON jobs (finished_at)
    WHERE status IN ('succeeded', 'failed', 'canceled');
-- The API's lists (a project's jobs, newest first).
CREATE INDEX jobs_project_idx ON jobs (project_id, id) WHERE project_id IS NOT NULL;
CREATE INDEX jobs_workspace_idx ON jobs (workspace_id, id) WHERE workspace_id IS NOT NULL;
