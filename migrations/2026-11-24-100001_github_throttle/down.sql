DROP TABLE github_throttle;
