-- The settings each running `hafen serve` reports (TLS, approval, schedules, backups …), so
-- that records generated anywhere -- the API, the CLI on another shell -- describe the server
-- that actually runs, not the environment of whoever asks. `seen_at` is a heartbeat.
CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL,
    stopped_at BIGINT,
    posture TEXT NOT NULL
);
CREATE INDEX instances_seen ON instances (seen_at);
