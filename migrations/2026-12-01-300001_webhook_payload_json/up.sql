-- Webhook payloads are kept as GitHub sent them (ADR 0026): `json` (the text, checked
-- to be JSON) instead of `jsonb` (parsed into a binary tree on every delivery, which
-- the receive path paid for and nothing queries), compressed with lz4 instead of pglz
-- (several times faster for a little more space). Rewrites the table once; stored
-- payloads keep their content (jsonb's rendering of it).
ALTER TABLE github_deliveries
    ALTER COLUMN payload TYPE json USING payload::json;
-- A server built without lz4 (rare: Debian's, RDS's and Cloud SQL's have it) keeps
-- the default pglz rather than failing the migration.
DO $$
BEGIN
    ALTER TABLE github_deliveries ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server; webhook payloads stay compressed with pglz';
END
$$;
