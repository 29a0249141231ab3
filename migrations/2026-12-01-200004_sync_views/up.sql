-- Indexes of the two-way sync's read views (issue 11): `GET …/github/health` and
-- the journal's last error.

-- The last delivery for a repository, matched case-insensitively as GitHub's
-- names are: one backward index step.
CREATE INDEX github_deliveries_repo_received_idx
    ON github_deliveries (lower(repo_full_name), received_at DESC)
    WHERE repo_full_name IS NOT NULL;

-- A project's sync jobs by kind and status (pending and failed counts) and the
-- last finished reconcile.
CREATE INDEX jobs_project_kind_idx
    ON jobs (project_id, kind, status, finished_at DESC)
    WHERE project_id IS NOT NULL;

-- The project's last failed journal entry, without reading its other entries.
CREATE INDEX github_sync_events_failed_idx
    ON github_sync_events (project_id, id DESC)
    WHERE kind = 'failed';
