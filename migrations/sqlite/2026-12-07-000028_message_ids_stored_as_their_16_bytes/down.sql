-- Back to text, in the canonical spelling Hafen wrote (lower case, hyphenated), in the same
-- order as on the way up.

CREATE TABLE messages_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    external_index BLOB,
    external_id_sealed BLOB,
    body_sealed BLOB,
    raw_sealed BLOB,
    channel_id TEXT,
    delivery_status TEXT,
    delivery_status_at BIGINT,
    idempotency_index BLOB,
    period_key_id TEXT,
    content_deleted_at BIGINT,
    business_letter BOOLEAN NOT NULL DEFAULT 0,
    sent_by_bot TEXT
);

INSERT INTO messages_old (
    id, tenant_id, contact_id, channel, direction, kind, occurred_at, received_at,
    external_index, external_id_sealed, body_sealed, raw_sealed, channel_id, delivery_status,
    delivery_status_at, idempotency_index, period_key_id, content_deleted_at, business_letter,
    sent_by_bot)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, contact_id, channel, direction, kind, occurred_at, received_at,
       external_index, external_id_sealed, body_sealed, raw_sealed, channel_id, delivery_status,
       delivery_status_at, idempotency_index, period_key_id, content_deleted_at,
       business_letter, sent_by_bot
FROM (SELECT nullif(lower(hex(id)), '') AS h, * FROM messages);

CREATE TABLE outbox_old (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages_old(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel_id TEXT NOT NULL,
    purpose_id TEXT,
    request_sealed BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT
);

INSERT INTO outbox_old (
    message_id, tenant_id, channel_id, purpose_id, request_sealed, attempts, next_attempt_at,
    last_error)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, channel_id, purpose_id, request_sealed, attempts, next_attempt_at, last_error
FROM (SELECT nullif(lower(hex(message_id)), '') AS h, * FROM outbox);

CREATE TABLE attachments_old (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    message_id TEXT NOT NULL REFERENCES messages_old(id),
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

INSERT INTO attachments_old (
    id, tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type, expected_sha256,
    size, state, attempts, next_attempt_at, last_error, content_sealed, created_at,
    period_key_id)
SELECT id, tenant_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       n, channel_id, media_ref_sealed, mime_type, expected_sha256, size, state, attempts,
       next_attempt_at, last_error, content_sealed, created_at, period_key_id
FROM (SELECT nullif(lower(hex(message_id)), '') AS h, * FROM attachments);

DROP TABLE outbox;
DROP TABLE attachments;
DROP TABLE messages;

ALTER TABLE messages_old RENAME TO messages;
ALTER TABLE outbox_old RENAME TO outbox;
ALTER TABLE attachments_old RENAME TO attachments;

CREATE INDEX messages_tenant_time ON messages (tenant_id, occurred_at);
CREATE INDEX messages_period_key ON messages (period_key_id);
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_index)
    WHERE idempotency_index IS NOT NULL;
CREATE INDEX messages_letters_by_period ON messages (period_key_id) WHERE business_letter;
CREATE UNIQUE INDEX messages_external ON messages (external_index, tenant_id);
CREATE INDEX messages_contact_time ON messages (contact_id, tenant_id, occurred_at, id);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE UNIQUE INDEX attachments_message ON attachments (tenant_id, message_id, n);
CREATE INDEX attachments_due ON attachments (state, next_attempt_at);
CREATE INDEX attachments_period_key ON attachments (period_key_id);
CREATE INDEX attachments_of_message ON attachments (message_id);

CREATE TABLE message_statuses_old (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel TEXT NOT NULL,
    external_index BLOB NOT NULL,
    message_id TEXT,
    status TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    errors_sealed BLOB,
    raw_sealed BLOB,
    period_key_id TEXT
);

INSERT INTO message_statuses_old (
    id, tenant_id, channel, external_index, message_id, status, occurred_at, received_at,
    errors_sealed, raw_sealed, period_key_id)
SELECT id, tenant_id, channel, external_index,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       status, occurred_at, received_at, errors_sealed, raw_sealed, period_key_id
FROM (SELECT nullif(lower(hex(message_id)), '') AS h, * FROM message_statuses);

DROP TABLE message_statuses;
ALTER TABLE message_statuses_old RENAME TO message_statuses;

CREATE INDEX message_statuses_period_key ON message_statuses (period_key_id);
CREATE INDEX message_statuses_tenant_time ON message_statuses (tenant_id, received_at);
CREATE INDEX message_statuses_external ON message_statuses (external_index, tenant_id)
    WHERE message_id IS NULL;
CREATE INDEX message_statuses_message ON message_statuses (message_id, tenant_id, occurred_at);

CREATE TABLE consent_ledger_old (
    seq BIGINT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    purpose_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at BIGINT NOT NULL,
    source TEXT NOT NULL,
    text_id TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    message_id TEXT,
    evidence_sealed BLOB,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    redacted_at BIGINT
);

INSERT INTO consent_ledger_old (
    seq, tenant_id, consent_id, contact_id, purpose_id, event, at, source, text_id, text_hash,
    message_id, evidence_sealed, prev_hash, hash, redacted_at)
SELECT seq, tenant_id, consent_id, contact_id, purpose_id, event, at, source, text_id,
       text_hash,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       evidence_sealed, prev_hash, hash, redacted_at
FROM (SELECT nullif(lower(hex(message_id)), '') AS h, * FROM consent_ledger);

DROP TABLE consent_ledger;
ALTER TABLE consent_ledger_old RENAME TO consent_ledger;

CREATE INDEX consent_ledger_consent ON consent_ledger (consent_id, seq);
