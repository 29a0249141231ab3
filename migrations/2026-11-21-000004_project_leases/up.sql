-- Exclusive, expiring claims on a project for long-running work: a push, or
-- creating the project's repository on approval. A holder renews its lease while
-- it works and releases it when done; a crashed holder's lease simply expires.
-- Replaces the single push lease column of the previous migration.
CREATE TABLE project_leases (
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('push', 'provision')),
    holder      uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, purpose)
);

ALTER TABLE projects DROP COLUMN push_lease_until;

-- A task has at most one GitHub issue: two pushes (or an import and a push) can
-- never both link one.
DROP INDEX external_links_task_id_idx;
CREATE UNIQUE INDEX external_links_task_id_provider_idx ON external_links (task_id, provider);
