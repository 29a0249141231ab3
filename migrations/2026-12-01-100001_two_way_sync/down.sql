ALTER TABLE jobs DROP COLUMN rerun;
DROP TABLE github_conflicts;
DROP TABLE github_sync_events;
ALTER TABLE sync_runs DROP COLUMN updated, DROP COLUMN unchanged, DROP COLUMN conflicts;
DELETE FROM sync_runs WHERE kind = 'reconcile';
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_kind_check CHECK (kind IN ('import', 'push'));
ALTER TABLE tasks DROP COLUMN reopen_status;
DROP INDEX external_links_project_issue_idx;
ALTER TABLE external_links
    DROP COLUMN github_issue_id, DROP COLUMN issue_number, DROP COLUMN snapshot,
    DROP COLUMN etag, DROP COLUMN link_state, DROP COLUMN synced_at;
DROP TABLE github_reconcile_state;
DROP TABLE github_sync_settings;
