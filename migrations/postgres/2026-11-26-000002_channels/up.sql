-- Channels (platform accounts with sealed secrets), delivery statuses, outbound sends.
CREATE TABLE channels (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    platform TEXT NOT NULL,
    name TEXT NOT NULL,
    account_id TEXT,
    enabled BOOLEAN NOT NULL,
    secrets_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX channels_tenant ON channels (tenant_id, id);

ALTER TABLE messages ADD COLUMN channel_id TEXT;
ALTER TABLE messages ADD COLUMN delivery_status TEXT;
ALTER TABLE messages ADD COLUMN delivery_status_at BIGINT;
ALTER TABLE messages ADD COLUMN idempotency_index BYTEA;
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_index);

CREATE TABLE message_statuses (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel TEXT NOT NULL,
    external_index BYTEA NOT NULL,
    message_id TEXT,
    status TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    errors_sealed BYTEA,
    raw_sealed BYTEA
);
CREATE INDEX message_statuses_external ON message_statuses (tenant_id, external_index);
CREATE INDEX message_statuses_message ON message_statuses (tenant_id, message_id, occurred_at);

CREATE TABLE outbox (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel_id TEXT NOT NULL,
    purpose_id TEXT,
    request_sealed BYTEA NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
