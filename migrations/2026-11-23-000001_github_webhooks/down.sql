DROP INDEX IF EXISTS projects_github_repo_lower_idx;
DROP TABLE IF EXISTS github_dirty_issues;
DROP TABLE IF EXISTS github_deliveries;
