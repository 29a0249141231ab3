-- API tokens that expire and can be revoked; users that can be removed.
--
-- A removed user keeps its row (`deleted_at` set), so nothing that names it is
-- lost, and its e-mail can be added again. Its tokens are revoked, not deleted.
-- Authentication stays one look-up by the token hash's primary key, with the
-- lifecycle conditions added to it.

ALTER TABLE users ADD COLUMN deleted_at timestamptz;
-- E-mails are unique among the workspace's live users only.
ALTER TABLE users DROP CONSTRAINT users_workspace_id_email_key;
CREATE UNIQUE INDEX users_workspace_id_email_live_idx
    ON users (workspace_id, email) WHERE deleted_at IS NULL;
-- Listing a workspace's users in id (creation) order.
CREATE INDEX users_workspace_id_id_idx ON users (workspace_id, id);

-- `id` names a token in the API (the hash never leaves the database). `hint` is
-- the token's last 4 characters, stored when it is issued; tokens issued before
-- this migration have none.
ALTER TABLE api_tokens
    ADD COLUMN id            uuid,
    ADD COLUMN name          text CHECK (char_length(name) BETWEEN 1 AND 100),
    ADD COLUMN hint          text CHECK (char_length(hint) BETWEEN 1 AND 8),
    ADD COLUMN expires_at    timestamptz,
    ADD COLUMN last_used_at  timestamptz,
    ADD COLUMN revoked_at    timestamptz;
-- Existing tokens get UUID v7-shaped ids from their creation time (48-bit
-- milliseconds, version 7, variant 8, random rest), so id order stays creation
-- order, as for ids the application makes.
UPDATE api_tokens SET id = (
    lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0')
    || '7' || substr(md5(random()::text || encode(token_hash, 'hex')), 1, 3)
    || '8' || substr(md5(random()::text || encode(token_hash, 'hex')), 1, 15)
)::uuid;
ALTER TABLE api_tokens ALTER COLUMN id SET NOT NULL;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_id_key UNIQUE (id);
-- A user's tokens in id order, and revoking all of a user's tokens.
DROP INDEX api_tokens_user_id_idx;
CREATE INDEX api_tokens_user_id_id_idx ON api_tokens (user_id, id);
