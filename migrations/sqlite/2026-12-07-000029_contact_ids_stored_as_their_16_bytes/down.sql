-- Back to text, in the canonical spelling Hafen wrote (lower case, hyphenated), in the same
-- order as on the way up.

CREATE TABLE contacts_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel TEXT NOT NULL,
    address_index BLOB NOT NULL,
    address_sealed BLOB NOT NULL,
    display_name_sealed BLOB,
    first_seen_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL,
    closed_at BIGINT,
    restricted_at BIGINT,
    restriction_sealed BLOB,
    name_index BLOB,
    handed_over_at BIGINT
);

INSERT INTO contacts_old (id, tenant_id, channel, address_index, address_sealed,
    display_name_sealed, first_seen_at, last_message_at, closed_at, restricted_at,
    restriction_sealed, name_index, handed_over_at)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, channel, address_index, address_sealed, display_name_sealed, first_seen_at,
       last_message_at, closed_at, restricted_at, restriction_sealed, name_index, handed_over_at
FROM (SELECT nullif(lower(hex(id)), '') AS h, * FROM contacts);

CREATE TABLE contact_keys_old (
    contact_id TEXT PRIMARY KEY NOT NULL REFERENCES contacts_old(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    wrapped_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO contact_keys_old (contact_id, tenant_id, wrapped_key, created_at)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, wrapped_key, created_at
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM contact_keys);

CREATE TABLE consents_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL REFERENCES contacts_old(id),
    purpose_id TEXT NOT NULL REFERENCES consent_purposes(id),
    state TEXT NOT NULL,
    text_id TEXT NOT NULL REFERENCES consent_texts(id),
    requested_at BIGINT NOT NULL,
    expires_at BIGINT,
    confirmed_at BIGINT,
    withdrawn_at BIGINT,
    last_used_at BIGINT,
    updated_at BIGINT NOT NULL
);

INSERT INTO consents_old (id, tenant_id, contact_id, purpose_id, state, text_id, requested_at,
    expires_at, confirmed_at, withdrawn_at, last_used_at, updated_at)
SELECT id, tenant_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       purpose_id, state, text_id, requested_at, expires_at, confirmed_at, withdrawn_at,
       last_used_at, updated_at
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM consents);

CREATE TABLE legal_holds_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT REFERENCES contacts_old(id),
    data_from BIGINT,
    data_until BIGINT,
    reason_sealed BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    hold_until BIGINT,
    released_at BIGINT,
    released_by TEXT
);

INSERT INTO legal_holds_old (id, tenant_id, contact_id, data_from, data_until, reason_sealed,
    created_by, created_at, hold_until, released_at, released_by)
SELECT id, tenant_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       data_from, data_until, reason_sealed, created_by, created_at, hold_until, released_at,
       released_by
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM legal_holds);

CREATE TABLE messages_old (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL REFERENCES contacts_old(id),
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

INSERT INTO messages_old (id, tenant_id, contact_id, channel, direction, kind, occurred_at,
    received_at, external_index, external_id_sealed, body_sealed, raw_sealed, channel_id,
    delivery_status, delivery_status_at, idempotency_index, period_key_id, content_deleted_at,
    business_letter, sent_by_bot)
SELECT id, tenant_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       channel, direction, kind, occurred_at, received_at, external_index, external_id_sealed,
       body_sealed, raw_sealed, channel_id, delivery_status, delivery_status_at, idempotency_index,
       period_key_id, content_deleted_at, business_letter, sent_by_bot
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM messages);

CREATE TABLE outbox_old (
    message_id UUID PRIMARY KEY NOT NULL REFERENCES messages_old(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel_id TEXT NOT NULL,
    purpose_id TEXT,
    request_sealed BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT
);

INSERT INTO outbox_old (message_id, tenant_id, channel_id, purpose_id, request_sealed, attempts,
    next_attempt_at, last_error)
SELECT message_id, tenant_id, channel_id, purpose_id, request_sealed, attempts, next_attempt_at,
       last_error
FROM outbox;

CREATE TABLE attachments_old (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    message_id UUID NOT NULL REFERENCES messages_old(id),
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

INSERT INTO attachments_old (id, tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type,
    expected_sha256, size, state, attempts, next_attempt_at, last_error, content_sealed,
    created_at, period_key_id)
SELECT id, tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type, expected_sha256,
       size, state, attempts, next_attempt_at, last_error, content_sealed, created_at,
       period_key_id
FROM attachments;

DROP TABLE attachments;
DROP TABLE outbox;
DROP TABLE messages;
DROP TABLE legal_holds;
DROP TABLE consents;
DROP TABLE contact_keys;
DROP TABLE contacts;

ALTER TABLE contacts_old RENAME TO contacts;
ALTER TABLE contact_keys_old RENAME TO contact_keys;
ALTER TABLE consents_old RENAME TO consents;
ALTER TABLE legal_holds_old RENAME TO legal_holds;
ALTER TABLE messages_old RENAME TO messages;
ALTER TABLE outbox_old RENAME TO outbox;
ALTER TABLE attachments_old RENAME TO attachments;

CREATE INDEX contacts_tenant_id ON contacts (tenant_id, id);
CREATE INDEX contacts_name_index ON contacts (tenant_id, name_index) WHERE name_index IS NOT NULL;
CREATE UNIQUE INDEX contacts_address ON contacts (address_index, channel, tenant_id);
CREATE INDEX consents_purpose_state ON consents (tenant_id, purpose_id, state);
CREATE INDEX consents_expiry ON consents (state, expires_at);
CREATE UNIQUE INDEX consents_contact_purpose ON consents (contact_id, tenant_id, purpose_id);
CREATE INDEX legal_holds_tenant ON legal_holds (tenant_id, released_at);
CREATE INDEX legal_holds_contact ON legal_holds (contact_id);
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

CREATE TABLE subject_requests_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    -- No foreign key: the request is kept as a record after the contact is erased.
    contact_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    extended_due_on TEXT,
    extension_sealed BLOB,
    status TEXT NOT NULL,
    outcome TEXT,
    certificate_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    handled_by TEXT,
    completed_at BIGINT
);

INSERT INTO subject_requests_old (id, tenant_id, contact_id, kind, received_on, due_on,
    extended_due_on, extension_sealed, status, outcome, certificate_id, created_by, created_at,
    handled_by, completed_at)
SELECT id, tenant_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       kind, received_on, due_on, extended_due_on, extension_sealed, status, outcome,
       certificate_id, created_by, created_at, handled_by, completed_at
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM subject_requests);

CREATE TABLE erasure_items_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    request_id TEXT NOT NULL REFERENCES subject_requests_old(id),
    -- No foreign key: the row outlives the contact it erased.
    contact_id TEXT NOT NULL,
    category TEXT NOT NULL,
    -- For messages: business_letter or other.
    class TEXT,
    rule TEXT NOT NULL,
    start_at BIGINT,
    requested_at BIGINT NOT NULL,
    kept INTEGER NOT NULL,
    held INTEGER NOT NULL,
    until BIGINT,
    state TEXT NOT NULL,
    decision TEXT,
    decision_reason_sealed BLOB,
    decided_by TEXT,
    decided_at BIGINT,
    done_at BIGINT,
    UNIQUE (request_id, category, class)
);

INSERT INTO erasure_items_old (id, tenant_id, request_id, contact_id, category, class, rule,
    start_at, requested_at, kept, held, until, state, decision, decision_reason_sealed, decided_by,
    decided_at, done_at)
SELECT id, tenant_id, request_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       category, class, rule, start_at, requested_at, kept, held, until, state, decision,
       decision_reason_sealed, decided_by, decided_at, done_at
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM erasure_items);

DROP TABLE erasure_items;
DROP TABLE subject_requests;

ALTER TABLE subject_requests_old RENAME TO subject_requests;
ALTER TABLE erasure_items_old RENAME TO erasure_items;

CREATE INDEX subject_requests_tenant ON subject_requests (tenant_id, status, due_on);
CREATE INDEX subject_requests_contact ON subject_requests (contact_id);
CREATE INDEX erasure_items_state ON erasure_items (tenant_id, state);

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
    message_id UUID,
    evidence_sealed BLOB,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    redacted_at BIGINT
);

INSERT INTO consent_ledger_old (seq, tenant_id, consent_id, contact_id, purpose_id, event, at,
    source, text_id, text_hash, message_id, evidence_sealed, prev_hash, hash, redacted_at)
SELECT seq, tenant_id, consent_id,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)
         || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
       purpose_id, event, at, source, text_id, text_hash, message_id, evidence_sealed, prev_hash,
       hash, redacted_at
FROM (SELECT nullif(lower(hex(contact_id)), '') AS h, * FROM consent_ledger);

DROP TABLE consent_ledger;

ALTER TABLE consent_ledger_old RENAME TO consent_ledger;

CREATE INDEX consent_ledger_consent ON consent_ledger (consent_id, seq);

