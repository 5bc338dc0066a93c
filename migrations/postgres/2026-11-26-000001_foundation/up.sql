-- Foundation: tenants, tokens, contacts with wrapped keys, sealed messages, hash-chained audit log.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT REFERENCES tenants(id),
    role TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel TEXT NOT NULL,
    address_index BYTEA NOT NULL,
    address_sealed BYTEA NOT NULL,
    display_name_sealed BYTEA,
    first_seen_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_address ON contacts (tenant_id, channel, address_index);
CREATE INDEX contacts_tenant_id ON contacts (tenant_id, id);

CREATE TABLE contact_keys (
    contact_id TEXT PRIMARY KEY NOT NULL REFERENCES contacts(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    wrapped_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    external_index BYTEA,
    external_id_sealed BYTEA,
    body_sealed BYTEA,
    raw_sealed BYTEA
);
CREATE UNIQUE INDEX messages_external ON messages (tenant_id, external_index);
CREATE INDEX messages_contact_time ON messages (tenant_id, contact_id, occurred_at, id);
CREATE INDEX messages_tenant_time ON messages (tenant_id, occurred_at);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    tenant_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    detail TEXT,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
