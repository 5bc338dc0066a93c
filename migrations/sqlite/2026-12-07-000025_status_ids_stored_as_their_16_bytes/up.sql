-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the second table: a delivery status's own id, the key of the table every receipt writes into
-- (three rows for each message of a broadcast). Nothing refers to it. The status's message and
-- tenant follow with the tables they refer to. The table is made anew (SQLite cannot change a
-- column's type), with its indexes as they were; an id that is no UUID stops the upgrade.
CREATE TABLE message_statuses_new (
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

INSERT INTO message_statuses_new (id, tenant_id, channel, external_index, message_id, status,
    occurred_at, received_at, errors_sealed, raw_sealed, period_key_id)
SELECT unhex(replace(id, '-', '')), tenant_id, channel, external_index, message_id, status,
       occurred_at, received_at, errors_sealed, raw_sealed, period_key_id
FROM message_statuses;

DROP TABLE message_statuses;
ALTER TABLE message_statuses_new RENAME TO message_statuses;

CREATE INDEX message_statuses_period_key ON message_statuses (period_key_id);
CREATE INDEX message_statuses_tenant_time ON message_statuses (tenant_id, received_at);
CREATE INDEX message_statuses_external ON message_statuses (external_index, tenant_id)
    WHERE message_id IS NULL;
CREATE INDEX message_statuses_message ON message_statuses (message_id, tenant_id, occurred_at);
