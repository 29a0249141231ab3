DROP INDEX external_links_task_id_provider_idx;
CREATE INDEX external_links_task_id_idx ON external_links (task_id);
ALTER TABLE projects ADD COLUMN push_lease_until timestamptz;
DROP TABLE project_leases;
