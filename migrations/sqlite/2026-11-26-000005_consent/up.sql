-- Double opt-in: purposes with versioned consent texts, the current state per contact and
-- purpose, and the append-only, hash-chained ledger of every transition (the proof).
CREATE TABLE consent_purposes (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    confirm_template TEXT,
    widget TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX consent_purposes_tenant ON consent_purposes (tenant_id);

CREATE TABLE consent_texts (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    purpose_id TEXT NOT NULL REFERENCES consent_purposes(id),
    version INTEGER NOT NULL,
    language TEXT NOT NULL,
    text TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX consent_texts_version ON consent_texts (purpose_id, version, language);

CREATE TABLE consents (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL REFERENCES contacts(id),
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
CREATE UNIQUE INDEX consents_contact_purpose ON consents (tenant_id, contact_id, purpose_id);
CREATE INDEX consents_purpose_state ON consents (tenant_id, purpose_id, state);
CREATE INDEX consents_expiry ON consents (state, expires_at);

CREATE TABLE consent_ledger (
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
    hash BLOB NOT NULL
);
CREATE INDEX consent_ledger_consent ON consent_ledger (consent_id, seq);

-- Per-tenant keywords and timing; absent means the documented defaults.
CREATE TABLE consent_settings (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id),
    opt_in_keywords TEXT NOT NULL,
    confirm_keywords TEXT NOT NULL,
    opt_out_keywords TEXT NOT NULL,
    request_ttl_secs BIGINT NOT NULL,
    default_purpose_id TEXT,
    updated_at BIGINT NOT NULL
);

-- Broadcasts: a push to every contact with confirmed consent for a purpose.
CREATE TABLE broadcasts (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    purpose_id TEXT NOT NULL REFERENCES consent_purposes(id),
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
CREATE INDEX broadcasts_tenant ON broadcasts (tenant_id, id);
CREATE INDEX broadcasts_due ON broadcasts (state, scheduled_at);
