-- Imports and pushes run as jobs (ADR 0018): the sync run stays the user-visible
-- record and names its job; it gains the states of a background run and its progress.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled'));
ALTER TABLE sync_runs
    ADD COLUMN job_id          uuid,
    -- {"pages": issue pages stored, "next_page": the `rel="next"` link after the
    --  last stored page (where a resumed import continues), "tasks_remaining": a push's}
    ADD COLUMN progress        jsonb NOT NULL DEFAULT '{}',
    -- while `waiting`: when GitHub allows the run to continue
    ADD COLUMN resumes_at      timestamptz;
CREATE UNIQUE INDEX sync_runs_job_id_idx ON sync_runs (job_id) WHERE job_id IS NOT NULL;
