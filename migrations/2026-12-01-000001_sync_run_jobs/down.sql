DROP INDEX sync_runs_job_id_idx;
ALTER TABLE sync_runs
    DROP COLUMN job_id, DROP COLUMN progress, DROP COLUMN resumes_at;
UPDATE sync_runs SET status = 'failed' WHERE status NOT IN ('running', 'succeeded', 'failed');
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed'));
