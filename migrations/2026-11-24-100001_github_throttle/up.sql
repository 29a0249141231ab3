-- GitHub state shared by every pmhub instance (ADR 0018): per token, until when
-- GitHub said it is rate limited, and when its next content-creating call may go.
-- Keyed by the token's SHA-256 (hex), never the token. One row per token used.
CREATE TABLE github_throttle (
    token_key       text PRIMARY KEY CHECK (token_key ~ '^[0-9a-f]{64}$'),
    blocked_until   timestamptz,
    next_create_at  timestamptz,
    updated_at      timestamptz NOT NULL
);
