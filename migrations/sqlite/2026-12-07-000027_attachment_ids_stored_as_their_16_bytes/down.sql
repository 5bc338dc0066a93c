-- Back to text, in the canonical spelling Hafen wrote (lower case, hyphenated).
CREATE TABLE attachments_old (
    id TEXT PRIMARY KEY NOT NULL,
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

INSERT INTO attachments_old (id, tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type, expected_sha256, size, state, attempts, next_attempt_at, last_error, content_sealed, created_at, period_key_id)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type, expected_sha256, size,
       state, attempts, next_attempt_at, last_error, content_sealed, created_at, period_key_id
FROM (SELECT lower(hex(id)) AS h, * FROM attachments);

DROP TABLE attachments;
ALTER TABLE attachments_old RENAME TO attachments;

CREATE UNIQUE INDEX attachments_message ON attachments (tenant_id, message_id, n);
CREATE INDEX attachments_due ON attachments (state, next_attempt_at);
CREATE INDEX attachments_period_key ON attachments (period_key_id);
CREATE INDEX attachments_of_message ON attachments (message_id);
