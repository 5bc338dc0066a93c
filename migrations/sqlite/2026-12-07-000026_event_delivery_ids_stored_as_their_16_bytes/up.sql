-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the third table: an event delivery's own id (one row for each event a hook subscribed to: a
-- message received, a status moved). Nothing refers to it; its hook and tenant follow with the
-- tables they refer to. The table is made anew (SQLite cannot change a column's type), with its
-- references and indexes as they were; an id that is no UUID stops the upgrade.
CREATE TABLE event_deliveries_new (
    id UUID PRIMARY KEY NOT NULL,
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
    delivered_at BIGINT,
    period_key_id TEXT
);

INSERT INTO event_deliveries_new (id, tenant_id, hook_id, event, payload_sealed, state, attempts,
    next_attempt_at, last_status, last_error, created_at, delivered_at, period_key_id)
SELECT unhex(replace(id, '-', '')), tenant_id, hook_id, event, payload_sealed, state, attempts,
       next_attempt_at, last_status, last_error, created_at, delivered_at, period_key_id
FROM event_deliveries;

DROP TABLE event_deliveries;
ALTER TABLE event_deliveries_new RENAME TO event_deliveries;

CREATE INDEX event_deliveries_due ON event_deliveries (state, next_attempt_at);
CREATE INDEX event_deliveries_hook ON event_deliveries (hook_id, created_at);
CREATE INDEX event_deliveries_period_key ON event_deliveries (period_key_id);
CREATE INDEX event_deliveries_tenant_time ON event_deliveries (tenant_id, created_at);
