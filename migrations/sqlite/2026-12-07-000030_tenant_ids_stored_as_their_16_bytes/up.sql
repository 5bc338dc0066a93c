-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the tenant's id family in one migration: a tenant's id and every column that names it (every
-- table but the install's own; `message_delivery.tenant_id` is 16 bytes since migration 26). One
-- migration, because every reference to a tenant must agree on the type when it commits.
--
-- SQLite cannot change a column's type: each table is made anew, with its references and
-- indexes as they were (written by migrations/sqlite_rebuild.py, family "tenant"), as in
-- migration 29: the new `tenants` first, then every table referring to it, each after the
-- tables it refers to (the web sessions too: they refer to the web users); the old tables are
-- dropped children first and the new ones renamed parents first. The audit log and the consent
-- ledger hold no reference and are made anew on their own. An id that is no UUID has no 16
-- bytes (`iif` gives NULL): the NOT NULL columns (a tenant's own id first) stop the upgrade there
-- and leave the database as it was. The nullable ones (a token's, a register entry's, a web
-- user's tenant) refer to a tenant, whose id has just converted; only the audit log's, which
-- refers to nothing, could turn NULL — from an id Hafen never wrote.

CREATE TABLE tenants_new (
    id UUID PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO tenants_new (id, name, wrapped_key, created_at)
SELECT iif(length(b) = 16, b, NULL), name, wrapped_key, created_at
FROM (SELECT unhex(replace(id, '-', '')) AS b, * FROM tenants);

CREATE TABLE api_tokens_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID REFERENCES tenants_new(id),
    role TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    name TEXT,
    expires_at BIGINT,
    last_used_at BIGINT
);

INSERT INTO api_tokens_new (id, tenant_id, role, secret_hash, created_at, created_by, revoked_at,
    name, expires_at, last_used_at)
SELECT id, iif(length(b) = 16, b, NULL), role, secret_hash, created_at, created_by, revoked_at,
       name, expires_at, last_used_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM api_tokens);

CREATE TABLE channels_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    platform TEXT NOT NULL,
    name TEXT NOT NULL,
    account_id TEXT,
    enabled BOOLEAN NOT NULL,
    secrets_sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    business_letters BOOLEAN NOT NULL DEFAULT 0
);

INSERT INTO channels_new (id, tenant_id, platform, name, account_id, enabled, secrets_sealed,
    created_at, updated_at, business_letters)
SELECT id, iif(length(b) = 16, b, NULL), platform, name, account_id, enabled, secrets_sealed,
       created_at, updated_at, business_letters
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM channels);

CREATE TABLE event_hooks_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    url_sealed BLOB NOT NULL,
    secret_sealed BLOB NOT NULL,
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    channel_id TEXT
);

INSERT INTO event_hooks_new (id, tenant_id, url_sealed, secret_sealed, events, enabled, created_at,
    channel_id)
SELECT id, iif(length(b) = 16, b, NULL), url_sealed, secret_sealed, events, enabled, created_at,
       channel_id
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM event_hooks);

CREATE TABLE bots_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    channel_id TEXT NOT NULL REFERENCES channels_new(id),
    hook_id TEXT NOT NULL REFERENCES event_hooks_new(id),
    token_id TEXT NOT NULL REFERENCES api_tokens_new(id),
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    kinds TEXT NOT NULL,
    decision_logic TEXT,
    decision_effects TEXT,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    removed_at BIGINT
);

INSERT INTO bots_new (id, tenant_id, channel_id, hook_id, token_id, name, purpose, kinds,
    decision_logic, decision_effects, enabled, created_at, removed_at)
SELECT id, iif(length(b) = 16, b, NULL), channel_id, hook_id, token_id, name, purpose, kinds,
       decision_logic, decision_effects, enabled, created_at, removed_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM bots);

CREATE TABLE consent_purposes_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    name TEXT NOT NULL,
    confirm_template TEXT,
    widget TEXT,
    created_at BIGINT NOT NULL
);

INSERT INTO consent_purposes_new (id, tenant_id, name, confirm_template, widget, created_at)
SELECT id, iif(length(b) = 16, b, NULL), name, confirm_template, widget, created_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM consent_purposes);

CREATE TABLE broadcasts_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    purpose_id TEXT NOT NULL REFERENCES consent_purposes_new(id),
    state TEXT NOT NULL,
    targeted INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    request_sealed BLOB NOT NULL,
    scheduled_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);

INSERT INTO broadcasts_new (id, tenant_id, purpose_id, state, targeted, sent, queued, skipped,
    failed, request_sealed, scheduled_at, created_at, finished_at)
SELECT id, iif(length(b) = 16, b, NULL), purpose_id, state, targeted, sent, queued, skipped,
       failed, request_sealed, scheduled_at, created_at, finished_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM broadcasts);

CREATE TABLE consent_settings_new (
    tenant_id UUID PRIMARY KEY NOT NULL REFERENCES tenants_new(id),
    opt_in_keywords TEXT NOT NULL,
    confirm_keywords TEXT NOT NULL,
    opt_out_keywords TEXT NOT NULL,
    request_ttl_secs BIGINT NOT NULL,
    default_purpose_id TEXT,
    updated_at BIGINT NOT NULL
);

INSERT INTO consent_settings_new (tenant_id, opt_in_keywords, confirm_keywords, opt_out_keywords,
    request_ttl_secs, default_purpose_id, updated_at)
SELECT iif(length(b) = 16, b, NULL), opt_in_keywords, confirm_keywords, opt_out_keywords,
       request_ttl_secs, default_purpose_id, updated_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM consent_settings);

CREATE TABLE consent_texts_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    purpose_id TEXT NOT NULL REFERENCES consent_purposes_new(id),
    version INTEGER NOT NULL,
    language TEXT NOT NULL,
    text TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO consent_texts_new (id, tenant_id, purpose_id, version, language, text, text_hash,
    created_at)
SELECT id, iif(length(b) = 16, b, NULL), purpose_id, version, language, text, text_hash, created_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM consent_texts);

CREATE TABLE contacts_new (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
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

INSERT INTO contacts_new (id, tenant_id, channel, address_index, address_sealed,
    display_name_sealed, first_seen_at, last_message_at, closed_at, restricted_at,
    restriction_sealed, name_index, handed_over_at)
SELECT id, iif(length(b) = 16, b, NULL), channel, address_index, address_sealed,
       display_name_sealed, first_seen_at, last_message_at, closed_at, restricted_at,
       restriction_sealed, name_index, handed_over_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM contacts);

CREATE TABLE consents_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    contact_id UUID NOT NULL REFERENCES contacts_new(id),
    purpose_id TEXT NOT NULL REFERENCES consent_purposes_new(id),
    state TEXT NOT NULL,
    text_id TEXT NOT NULL REFERENCES consent_texts_new(id),
    requested_at BIGINT NOT NULL,
    expires_at BIGINT,
    confirmed_at BIGINT,
    withdrawn_at BIGINT,
    last_used_at BIGINT,
    updated_at BIGINT NOT NULL
);

INSERT INTO consents_new (id, tenant_id, contact_id, purpose_id, state, text_id, requested_at,
    expires_at, confirmed_at, withdrawn_at, last_used_at, updated_at)
SELECT id, iif(length(b) = 16, b, NULL), contact_id, purpose_id, state, text_id, requested_at,
       expires_at, confirmed_at, withdrawn_at, last_used_at, updated_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM consents);

CREATE TABLE contact_keys_new (
    contact_id UUID PRIMARY KEY NOT NULL REFERENCES contacts_new(id),
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    wrapped_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO contact_keys_new (contact_id, tenant_id, wrapped_key, created_at)
SELECT contact_id, iif(length(b) = 16, b, NULL), wrapped_key, created_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM contact_keys);

CREATE TABLE legal_holds_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    contact_id UUID REFERENCES contacts_new(id),
    data_from BIGINT,
    data_until BIGINT,
    reason_sealed BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    hold_until BIGINT,
    released_at BIGINT,
    released_by TEXT
);

INSERT INTO legal_holds_new (id, tenant_id, contact_id, data_from, data_until, reason_sealed,
    created_by, created_at, hold_until, released_at, released_by)
SELECT id, iif(length(b) = 16, b, NULL), contact_id, data_from, data_until, reason_sealed,
       created_by, created_at, hold_until, released_at, released_by
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM legal_holds);

CREATE TABLE messages_new (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    contact_id UUID NOT NULL REFERENCES contacts_new(id),
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

INSERT INTO messages_new (id, tenant_id, contact_id, channel, direction, kind, occurred_at,
    received_at, external_index, external_id_sealed, body_sealed, raw_sealed, channel_id,
    delivery_status, delivery_status_at, idempotency_index, period_key_id, content_deleted_at,
    business_letter, sent_by_bot)
SELECT id, iif(length(b) = 16, b, NULL), contact_id, channel, direction, kind, occurred_at,
       received_at, external_index, external_id_sealed, body_sealed, raw_sealed, channel_id,
       delivery_status, delivery_status_at, idempotency_index, period_key_id, content_deleted_at,
       business_letter, sent_by_bot
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM messages);

CREATE TABLE outbox_new (
    message_id UUID PRIMARY KEY NOT NULL REFERENCES messages_new(id),
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    channel_id TEXT NOT NULL,
    purpose_id TEXT,
    request_sealed BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT
);

INSERT INTO outbox_new (message_id, tenant_id, channel_id, purpose_id, request_sealed, attempts,
    next_attempt_at, last_error)
SELECT message_id, iif(length(b) = 16, b, NULL), channel_id, purpose_id, request_sealed, attempts,
       next_attempt_at, last_error
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM outbox);

CREATE TABLE attachments_new (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    message_id UUID NOT NULL REFERENCES messages_new(id),
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

INSERT INTO attachments_new (id, tenant_id, message_id, n, channel_id, media_ref_sealed, mime_type,
    expected_sha256, size, state, attempts, next_attempt_at, last_error, content_sealed,
    created_at, period_key_id)
SELECT id, iif(length(b) = 16, b, NULL), message_id, n, channel_id, media_ref_sealed, mime_type,
       expected_sha256, size, state, attempts, next_attempt_at, last_error, content_sealed,
       created_at, period_key_id
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM attachments);

CREATE TABLE message_statuses_new (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    channel TEXT NOT NULL,
    external_index BLOB NOT NULL,
    message_id UUID,
    status TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    errors_sealed BLOB,
    raw_sealed BLOB,
    period_key_id TEXT
);

INSERT INTO message_statuses_new (id, tenant_id, channel, external_index, message_id, status,
    occurred_at, received_at, errors_sealed, raw_sealed, period_key_id)
SELECT id, iif(length(b) = 16, b, NULL), channel, external_index, message_id, status, occurred_at,
       received_at, errors_sealed, raw_sealed, period_key_id
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM message_statuses);

CREATE TABLE subject_requests_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    -- No foreign key: the request is kept as a record after the contact is erased.
    contact_id UUID NOT NULL,
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

INSERT INTO subject_requests_new (id, tenant_id, contact_id, kind, received_on, due_on,
    extended_due_on, extension_sealed, status, outcome, certificate_id, created_by, created_at,
    handled_by, completed_at)
SELECT id, iif(length(b) = 16, b, NULL), contact_id, kind, received_on, due_on, extended_due_on,
       extension_sealed, status, outcome, certificate_id, created_by, created_at, handled_by,
       completed_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM subject_requests);

CREATE TABLE erasure_items_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    request_id TEXT NOT NULL REFERENCES subject_requests_new(id),
    -- No foreign key: the row outlives the contact it erased.
    contact_id UUID NOT NULL,
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

INSERT INTO erasure_items_new (id, tenant_id, request_id, contact_id, category, class, rule,
    start_at, requested_at, kept, held, until, state, decision, decision_reason_sealed, decided_by,
    decided_at, done_at)
SELECT id, iif(length(b) = 16, b, NULL), request_id, contact_id, category, class, rule, start_at,
       requested_at, kept, held, until, state, decision, decision_reason_sealed, decided_by,
       decided_at, done_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM erasure_items);

CREATE TABLE event_deliveries_new (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    hook_id TEXT NOT NULL REFERENCES event_hooks_new(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload_sealed BLOB NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    period_key_id TEXT
);

INSERT INTO event_deliveries_new (id, tenant_id, hook_id, event, payload_sealed, state, attempts,
    next_attempt_at, last_status, last_error, created_at, delivered_at, period_key_id)
SELECT id, iif(length(b) = 16, b, NULL), hook_id, event, payload_sealed, state, attempts,
       next_attempt_at, last_status, last_error, created_at, delivered_at, period_key_id
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM event_deliveries);

CREATE TABLE period_keys_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    wrapped_key BLOB,
    created_at BIGINT NOT NULL,
    destroyed_at BIGINT
);

INSERT INTO period_keys_new (id, tenant_id, scope, period, wrapped_key, created_at, destroyed_at)
SELECT id, iif(length(b) = 16, b, NULL), scope, period, wrapped_key, created_at, destroyed_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM period_keys);

CREATE TABLE register_entries_new (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    tenant_id UUID REFERENCES tenants_new(id),
    section TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    document_sealed BLOB NOT NULL,
    document_sha256 BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO register_entries_new (id, version, tenant_id, section, wrapped_key, document_sealed,
    document_sha256, created_by, created_at)
SELECT id, version, iif(length(b) = 16, b, NULL), section, wrapped_key, document_sealed,
       document_sha256, created_by, created_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM register_entries);

CREATE TABLE retention_certificates_new (
    id TEXT PRIMARY KEY NOT NULL,
    seq BIGINT,
    run_id TEXT NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    state TEXT NOT NULL,
    rule_versions TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    counts TEXT NOT NULL,
    ids_hash BLOB NOT NULL,
    keys_shredded TEXT NOT NULL,
    errors TEXT NOT NULL,
    prev_hash BLOB,
    hash BLOB
);

INSERT INTO retention_certificates_new (id, seq, run_id, tenant_id, state, rule_versions,
    started_at, finished_at, counts, ids_hash, keys_shredded, errors, prev_hash, hash)
SELECT id, seq, run_id, iif(length(b) = 16, b, NULL), state, rule_versions, started_at,
       finished_at, counts, ids_hash, keys_shredded, errors, prev_hash, hash
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM retention_certificates);

CREATE TABLE retention_previews_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    rules_hash BLOB NOT NULL,
    summary TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO retention_previews_new (id, tenant_id, rules_hash, summary, created_by, created_at)
SELECT id, iif(length(b) = 16, b, NULL), rules_hash, summary, created_by, created_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM retention_previews);

CREATE TABLE retention_rule_sets_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL REFERENCES tenants_new(id),
    version INTEGER NOT NULL,
    rules TEXT NOT NULL,
    rules_hash BLOB NOT NULL,
    state TEXT NOT NULL,
    preview_id TEXT NOT NULL REFERENCES retention_previews_new(id),
    proposed_by TEXT NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_by TEXT,
    activated_at BIGINT,
    superseded_at BIGINT
);

INSERT INTO retention_rule_sets_new (id, tenant_id, version, rules, rules_hash, state, preview_id,
    proposed_by, proposed_at, decided_by, activated_at, superseded_at)
SELECT id, iif(length(b) = 16, b, NULL), version, rules, rules_hash, state, preview_id,
       proposed_by, proposed_at, decided_by, activated_at, superseded_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM retention_rule_sets);

CREATE TABLE ui_users_new (
    id TEXT PRIMARY KEY NOT NULL,
    login_index BLOB NOT NULL UNIQUE,
    login_sealed BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant_id UUID REFERENCES tenants_new(id),
    totp_sealed BLOB,
    -- The time step of the last TOTP code accepted: a code works once (RFC 6238 §5.2).
    totp_last_step BIGINT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    disabled_at BIGINT,
    -- Set when someone else chose the password (an admin creating or resetting the account):
    -- the person must choose their own before any other page opens.
    password_must_change BOOLEAN NOT NULL DEFAULT FALSE
);

INSERT INTO ui_users_new (id, login_index, login_sealed, password_hash, role, tenant_id,
    totp_sealed, totp_last_step, failed_attempts, locked_until, created_at, created_by,
    disabled_at, password_must_change)
SELECT id, login_index, login_sealed, password_hash, role, iif(length(b) = 16, b, NULL),
       totp_sealed, totp_last_step, failed_attempts, locked_until, created_at, created_by,
       disabled_at, password_must_change
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM ui_users);

CREATE TABLE ui_sessions_new (
    id_hash BLOB PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES ui_users_new(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

INSERT INTO ui_sessions_new (id_hash, user_id, created_at, last_seen_at)
SELECT id_hash, user_id, created_at, last_seen_at
FROM ui_sessions;

DROP TABLE ui_sessions;
DROP TABLE ui_users;
DROP TABLE retention_rule_sets;
DROP TABLE retention_previews;
DROP TABLE retention_certificates;
DROP TABLE register_entries;
DROP TABLE period_keys;
DROP TABLE event_deliveries;
DROP TABLE erasure_items;
DROP TABLE subject_requests;
DROP TABLE message_statuses;
DROP TABLE attachments;
DROP TABLE outbox;
DROP TABLE messages;
DROP TABLE legal_holds;
DROP TABLE contact_keys;
DROP TABLE consents;
DROP TABLE contacts;
DROP TABLE consent_texts;
DROP TABLE consent_settings;
DROP TABLE broadcasts;
DROP TABLE consent_purposes;
DROP TABLE bots;
DROP TABLE event_hooks;
DROP TABLE channels;
DROP TABLE api_tokens;
DROP TABLE tenants;

ALTER TABLE tenants_new RENAME TO tenants;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
ALTER TABLE channels_new RENAME TO channels;
ALTER TABLE event_hooks_new RENAME TO event_hooks;
ALTER TABLE bots_new RENAME TO bots;
ALTER TABLE consent_purposes_new RENAME TO consent_purposes;
ALTER TABLE broadcasts_new RENAME TO broadcasts;
ALTER TABLE consent_settings_new RENAME TO consent_settings;
ALTER TABLE consent_texts_new RENAME TO consent_texts;
ALTER TABLE contacts_new RENAME TO contacts;
ALTER TABLE consents_new RENAME TO consents;
ALTER TABLE contact_keys_new RENAME TO contact_keys;
ALTER TABLE legal_holds_new RENAME TO legal_holds;
ALTER TABLE messages_new RENAME TO messages;
ALTER TABLE outbox_new RENAME TO outbox;
ALTER TABLE attachments_new RENAME TO attachments;
ALTER TABLE message_statuses_new RENAME TO message_statuses;
ALTER TABLE subject_requests_new RENAME TO subject_requests;
ALTER TABLE erasure_items_new RENAME TO erasure_items;
ALTER TABLE event_deliveries_new RENAME TO event_deliveries;
ALTER TABLE period_keys_new RENAME TO period_keys;
ALTER TABLE register_entries_new RENAME TO register_entries;
ALTER TABLE retention_certificates_new RENAME TO retention_certificates;
ALTER TABLE retention_previews_new RENAME TO retention_previews;
ALTER TABLE retention_rule_sets_new RENAME TO retention_rule_sets;
ALTER TABLE ui_users_new RENAME TO ui_users;
ALTER TABLE ui_sessions_new RENAME TO ui_sessions;

CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);
CREATE INDEX channels_tenant ON channels (tenant_id, id);
CREATE INDEX event_hooks_tenant ON event_hooks (tenant_id);
CREATE UNIQUE INDEX bots_channel ON bots (channel_id) WHERE removed_at IS NULL;
CREATE INDEX bots_tenant ON bots (tenant_id);
CREATE INDEX bots_token ON bots (token_id);
CREATE INDEX consent_purposes_tenant ON consent_purposes (tenant_id);
CREATE INDEX broadcasts_tenant ON broadcasts (tenant_id, id);
CREATE INDEX broadcasts_due ON broadcasts (state, scheduled_at);
CREATE UNIQUE INDEX consent_texts_version ON consent_texts (purpose_id, version, language);
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
CREATE INDEX message_statuses_period_key ON message_statuses (period_key_id);
CREATE INDEX message_statuses_tenant_time ON message_statuses (tenant_id, received_at);
CREATE INDEX message_statuses_external ON message_statuses (external_index, tenant_id)
    WHERE message_id IS NULL;
CREATE INDEX message_statuses_message ON message_statuses (message_id, tenant_id, occurred_at);
CREATE INDEX subject_requests_tenant ON subject_requests (tenant_id, status, due_on);
CREATE INDEX subject_requests_contact ON subject_requests (contact_id);
CREATE INDEX erasure_items_state ON erasure_items (tenant_id, state);
CREATE INDEX event_deliveries_due ON event_deliveries (state, next_attempt_at);
CREATE INDEX event_deliveries_hook ON event_deliveries (hook_id, created_at);
CREATE INDEX event_deliveries_period_key ON event_deliveries (period_key_id);
CREATE INDEX event_deliveries_tenant_time ON event_deliveries (tenant_id, created_at);
CREATE UNIQUE INDEX period_keys_live ON period_keys (tenant_id, scope, period) WHERE destroyed_at IS NULL;
CREATE UNIQUE INDEX register_entries_version ON register_entries (version);
CREATE INDEX register_entries_section ON register_entries (tenant_id, section, version);
CREATE UNIQUE INDEX retention_certificates_seq ON retention_certificates (seq);
CREATE INDEX retention_certificates_tenant ON retention_certificates (tenant_id, started_at);
CREATE INDEX retention_previews_tenant ON retention_previews (tenant_id, created_at);
CREATE UNIQUE INDEX retention_rule_sets_version ON retention_rule_sets (tenant_id, version);
CREATE INDEX retention_rule_sets_state ON retention_rule_sets (tenant_id, state);
CREATE INDEX ui_sessions_user ON ui_sessions (user_id);

CREATE TABLE consent_ledger_new (
    seq BIGINT PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL,
    consent_id TEXT NOT NULL,
    contact_id UUID NOT NULL,
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

INSERT INTO consent_ledger_new (seq, tenant_id, consent_id, contact_id, purpose_id, event, at,
    source, text_id, text_hash, message_id, evidence_sealed, prev_hash, hash, redacted_at)
SELECT seq, iif(length(b) = 16, b, NULL), consent_id, contact_id, purpose_id, event, at, source,
       text_id, text_hash, message_id, evidence_sealed, prev_hash, hash, redacted_at
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM consent_ledger);

DROP TABLE consent_ledger;

ALTER TABLE consent_ledger_new RENAME TO consent_ledger;

CREATE INDEX consent_ledger_consent ON consent_ledger (consent_id, seq);

CREATE TABLE audit_log_new (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    tenant_id UUID,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    detail TEXT,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);

INSERT INTO audit_log_new (seq, at, tenant_id, actor, action, object_type, object_id, detail,
    prev_hash, hash)
SELECT seq, at, iif(length(b) = 16, b, NULL), actor, action, object_type, object_id, detail,
       prev_hash, hash
FROM (SELECT unhex(replace(tenant_id, '-', '')) AS b, * FROM audit_log);

DROP TABLE audit_log;

ALTER TABLE audit_log_new RENAME TO audit_log;

CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

