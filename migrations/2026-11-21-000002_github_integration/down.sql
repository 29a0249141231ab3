DROP TABLE sync_runs;
DROP TABLE external_links;
DROP TABLE github_credentials;
