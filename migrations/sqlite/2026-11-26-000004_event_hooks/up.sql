-- Outbound event webhooks to the company's own systems, and their delivery attempts.
CREATE TABLE event_hooks (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    url_sealed BLOB NOT NULL,
    secret_sealed BLOB NOT NULL,
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX event_hooks_tenant ON event_hooks (tenant_id);

CREATE TABLE event_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    hook_id TEXT NOT NULL REFERENCES event_hooks(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload_sealed BLOB NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX event_deliveries_due ON event_deliveries (state, next_attempt_at);
CREATE INDEX event_deliveries_hook ON event_deliveries (hook_id, created_at);
