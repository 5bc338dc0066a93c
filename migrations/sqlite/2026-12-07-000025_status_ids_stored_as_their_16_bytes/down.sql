-- Back to text, in the canonical spelling Hafen wrote (lower case, hyphenated).
CREATE TABLE message_statuses_old (
    id TEXT PRIMARY KEY NOT NULL,
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

INSERT INTO message_statuses_old (id, tenant_id, channel, external_index, message_id, status,
    occurred_at, received_at, errors_sealed, raw_sealed, period_key_id)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
         || substr(h, 17, 4) || '-' || substr(h, 21),
       tenant_id, channel, external_index, message_id, status, occurred_at, received_at,
       errors_sealed, raw_sealed, period_key_id
FROM (SELECT lower(hex(id)) AS h, * FROM message_statuses);

DROP TABLE message_statuses;
ALTER TABLE message_statuses_old RENAME TO message_statuses;

CREATE INDEX message_statuses_period_key ON message_statuses (period_key_id);
CREATE INDEX message_statuses_tenant_time ON message_statuses (tenant_id, received_at);
CREATE INDEX message_statuses_external ON message_statuses (external_index, tenant_id)
    WHERE message_id IS NULL;
CREATE INDEX message_statuses_message ON message_statuses (message_id, tenant_id, occurred_at);
