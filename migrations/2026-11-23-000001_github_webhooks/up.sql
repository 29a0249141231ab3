-- GitHub webhook deliveries, stored once each by GitHub's delivery GUID
-- (`X-GitHub-Delivery`; a redelivery carries the same one, so it inserts nothing).
-- Deliveries belong to no workspace: one repository may be linked by projects of
-- several workspaces, and the processing job decides which ones it concerns.
CREATE TABLE github_deliveries (
    delivery_id     text PRIMARY KEY CHECK (length(delivery_id) BETWEEN 1 AND 200),
    event           text NOT NULL CHECK (length(event) BETWEEN 1 AND 100),
    action          text,
    repository_id   bigint,
    repo_full_name  text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    outcome         text CHECK (outcome IN ('ping', 'unlinked', 'ignored', 'marked_dirty',
                                            'repository_renamed', 'malformed')),
    payload         jsonb NOT NULL,
    CHECK ((processed_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX github_deliveries_received_at_idx ON github_deliveries (received_at);

-- Issues a delivery said changed, per project, for the merge job: it re-reads each
-- from GitHub and merges, then deletes the row only if `generation` is still the
-- one it read (a mark that arrived meanwhile survives and is merged again).
CREATE TABLE github_dirty_issues (
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    github_issue_id  bigint NOT NULL,
    issue_number     bigint NOT NULL,
    repo_full_name   text NOT NULL,
    reason           text NOT NULL,
    delivery_id      text NOT NULL,
    generation       bigint NOT NULL DEFAULT 1,
    marked_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, github_issue_id)
);
CREATE INDEX github_dirty_issues_project_marked_idx
    ON github_dirty_issues (project_id, marked_at);

-- Deliveries name repositories as GitHub spells them; links are matched
-- case-insensitively, as GitHub's names are.
CREATE INDEX projects_github_repo_lower_idx
    ON projects (lower(github_repo)) WHERE github_repo IS NOT NULL;
