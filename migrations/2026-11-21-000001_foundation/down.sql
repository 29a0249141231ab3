DROP TABLE tasks;
DROP TABLE specs;
DROP TABLE projects;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE workspaces;
