-- Finished backups (hafen backup, or the scheduled job): for the last-backup metric and the
-- TOM annex. The backup itself lives outside the database.
CREATE TABLE backups (
    id TEXT PRIMARY KEY NOT NULL,
    finished_at BIGINT NOT NULL,
    location TEXT NOT NULL,
    data_sha256 TEXT NOT NULL,
    keystore_sha256 TEXT NOT NULL
);
CREATE INDEX backups_finished ON backups (finished_at);
