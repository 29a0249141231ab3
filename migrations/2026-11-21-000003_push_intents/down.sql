ALTER TABLE projects DROP COLUMN push_lease_until;
DROP TABLE push_intents;
