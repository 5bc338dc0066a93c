-- Back to text, in the canonical spelling Hafen wrote (lower case, hyphenated).
CREATE TABLE message_delivery_old (
    message_id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_at BIGINT NOT NULL,
    status_rank INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO message_delivery_old (message_id, tenant_id, status, status_at, status_rank)
SELECT substr(m, 1, 8) || '-' || substr(m, 9, 4) || '-' || substr(m, 13, 4) || '-'
         || substr(m, 17, 4) || '-' || substr(m, 21),
       substr(t, 1, 8) || '-' || substr(t, 9, 4) || '-' || substr(t, 13, 4) || '-'
         || substr(t, 17, 4) || '-' || substr(t, 21),
       status, status_at, status_rank
FROM (SELECT lower(hex(message_id)) AS m, lower(hex(tenant_id)) AS t,
             status, status_at, status_rank
      FROM message_delivery);

DROP TABLE message_delivery;
ALTER TABLE message_delivery_old RENAME TO message_delivery;
