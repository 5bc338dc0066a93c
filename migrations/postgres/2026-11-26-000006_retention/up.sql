-- Retention (DIN 66398): versioned rule sets that take effect only after their dry-run was
-- viewed, legal holds, Art. 18 restriction, period keys (the keystore side of
-- crypto-shredding), and the hash-chained deletion certificates.
CREATE TABLE retention_previews (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    rules_hash BYTEA NOT NULL,
    summary TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX retention_previews_tenant ON retention_previews (tenant_id, created_at);

CREATE TABLE retention_rule_sets (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    version INTEGER NOT NULL,
    rules TEXT NOT NULL,
    rules_hash BYTEA NOT NULL,
    state TEXT NOT NULL,
    preview_id TEXT NOT NULL REFERENCES retention_previews(id),
    proposed_by TEXT NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_by TEXT,
    activated_at BIGINT,
    superseded_at BIGINT
);
CREATE UNIQUE INDEX retention_rule_sets_version ON retention_rule_sets (tenant_id, version);
CREATE INDEX retention_rule_sets_state ON retention_rule_sets (tenant_id, state);

CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT REFERENCES contacts(id),
    data_from BIGINT,
    data_until BIGINT,
    reason_sealed BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    hold_until BIGINT,
    released_at BIGINT,
    released_by TEXT
);
CREATE INDEX legal_holds_tenant ON legal_holds (tenant_id, released_at);

-- Keystore: period keys live beside contact_keys, apart from the data they protect. A destroyed
-- key keeps its row (wrapped_key NULL) so reads can say "shredded" rather than "corrupt".
CREATE TABLE period_keys (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    wrapped_key BYTEA,
    created_at BIGINT NOT NULL,
    destroyed_at BIGINT
);
CREATE UNIQUE INDEX period_keys_live ON period_keys (tenant_id, scope, period) WHERE destroyed_at IS NULL;

CREATE TABLE retention_certificates (
    id TEXT PRIMARY KEY NOT NULL,
    seq BIGINT,
    run_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    state TEXT NOT NULL,
    rule_versions TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    counts TEXT NOT NULL,
    ids_hash BYTEA NOT NULL,
    keys_shredded TEXT NOT NULL,
    errors TEXT NOT NULL,
    prev_hash BYTEA,
    hash BYTEA
);
CREATE UNIQUE INDEX retention_certificates_seq ON retention_certificates (seq);
CREATE INDEX retention_certificates_tenant ON retention_certificates (tenant_id, started_at);

ALTER TABLE contacts ADD COLUMN closed_at BIGINT;
ALTER TABLE contacts ADD COLUMN restricted_at BIGINT;
ALTER TABLE contacts ADD COLUMN restriction_sealed BYTEA;
ALTER TABLE messages ADD COLUMN period_key_id TEXT;
ALTER TABLE messages ADD COLUMN content_deleted_at BIGINT;
CREATE INDEX messages_period_key ON messages (period_key_id);
ALTER TABLE attachments ADD COLUMN period_key_id TEXT;
CREATE INDEX attachments_period_key ON attachments (period_key_id);
ALTER TABLE message_statuses ADD COLUMN period_key_id TEXT;
CREATE INDEX message_statuses_period_key ON message_statuses (period_key_id);
CREATE INDEX message_statuses_tenant_time ON message_statuses (tenant_id, received_at);
ALTER TABLE event_deliveries ADD COLUMN period_key_id TEXT;
CREATE INDEX event_deliveries_period_key ON event_deliveries (period_key_id);
CREATE INDEX event_deliveries_tenant_time ON event_deliveries (tenant_id, created_at);
ALTER TABLE consent_ledger ADD COLUMN redacted_at BIGINT;
