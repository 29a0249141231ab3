-- Revoked tokens and removed users would come back to life, and expiring tokens
-- would never expire: delete them first.
DELETE FROM api_tokens WHERE revoked_at IS NOT NULL OR expires_at IS NOT NULL
    OR user_id IN (SELECT id FROM users WHERE deleted_at IS NOT NULL);
DELETE FROM users WHERE deleted_at IS NOT NULL;

DROP INDEX api_tokens_user_id_id_idx;
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
ALTER TABLE api_tokens
    DROP COLUMN id,
    DROP COLUMN name,
    DROP COLUMN hint,
    DROP COLUMN expires_at,
    DROP COLUMN last_used_at,
    DROP COLUMN revoked_at;

DROP INDEX users_workspace_id_id_idx;
DROP INDEX users_workspace_id_email_live_idx;
ALTER TABLE users ADD CONSTRAINT users_workspace_id_email_key UNIQUE (workspace_id, email);
ALTER TABLE users DROP COLUMN deleted_at;
