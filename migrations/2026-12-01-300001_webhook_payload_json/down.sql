ALTER TABLE github_deliveries
    ALTER COLUMN payload SET COMPRESSION default,
    ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
