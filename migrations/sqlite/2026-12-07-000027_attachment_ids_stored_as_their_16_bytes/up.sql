-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the fourth table: an attachment's own id. Nothing refers to it; its message and tenant follow
-- with the tables they refer to. The table is made anew (SQLite cannot change a column's type),
-- with its references and indexes as they were; an id that is no UUID stops the upgrade.
CREATE TABLE attachments_new (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    message_id TEXT NOT NULL REFERENCES messages(id),
    n INTEGER NOT NULL,
    channel_id TEXT,
    media_ref_sealed BLOB NOT NULL,
    mime_type TEXT,
    expected_sha256 TEXT,
    size BIGINT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    content_sealed BLOB,
    created_at BIGINT NOT NULL,
    period_key_id TEXT
);

INSERT INTO attachments_new (id, tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type, expected_sha256, size, state, attempts, next_attempt_at, last_error, content_sealed, created_at, period_key_id)
SELECT unhex(replace(id, '-', '')), tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type, expected_sha256, size,
       state, attempts, next_attempt_at, last_error, content_sealed, created_at, period_key_id
FROM attachments;

DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;

CREATE UNIQUE INDEX attachments_message ON attachments (tenant_id, message_id, n);
CREATE INDEX attachments_due ON attachments (state, next_attempt_at);
CREATE INDEX attachments_period_key ON attachments (period_key_id);
CREATE INDEX attachments_of_message ON attachments (message_id);
