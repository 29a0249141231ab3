-- Pushing tasks to GitHub as issues.
--
-- A push records its intent for a task before asking GitHub to create the issue.
-- If the process dies between GitHub's 201 and the link being stored, the intent
-- survives; the next push looks for the hidden marker with the task id in the
-- repository's issues and links the issue it finds instead of creating another.
CREATE TABLE push_intents (
    task_id     uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id      uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_intents_project_id_idx ON push_intents (project_id);

-- One push at a time per project: a lease, so a crashed push does not block the
-- project for longer than the lease.
ALTER TABLE projects ADD COLUMN push_lease_until timestamptz;
