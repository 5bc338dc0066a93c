-- Back to text, in the canonical spelling Hafen wrote (lower case, hyphenated).
CREATE TABLE event_deliveries_old (
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
    delivered_at BIGINT,
    period_key_id TEXT
);

INSERT INTO event_deliveries_old (id, tenant_id, hook_id, event, payload_sealed, state, attempts,
    next_attempt_at, last_status, last_error, created_at, delivered_at, period_key_id)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, hook_id, event, payload_sealed, state, attempts, next_attempt_at, last_status,
       last_error, created_at, delivered_at, period_key_id
FROM (SELECT lower(hex(id)) AS h, * FROM event_deliveries);

DROP TABLE event_deliveries;
ALTER TABLE event_deliveries_old RENAME TO event_deliveries;

CREATE INDEX event_deliveries_due ON event_deliveries (state, next_attempt_at);
CREATE INDEX event_deliveries_hook ON event_deliveries (hook_id, created_at);
CREATE INDEX event_deliveries_period_key ON event_deliveries (period_key_id);
CREATE INDEX event_deliveries_tenant_time ON event_deliveries (tenant_id, created_at);
