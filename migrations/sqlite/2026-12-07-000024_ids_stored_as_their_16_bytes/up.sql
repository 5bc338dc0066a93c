-- Ids stored as their 16 bytes, not as 36 characters of text (issue 24; docs/decisions.md "Ids
-- stored as their 16 bytes"): every index entry and reference holding an id shrinks
-- (`limits_bench --keys binary`: +16-22 % for the message row's shape). Hafen still names every
-- id by its text; `store::id` converts where a query binds or reads one.
--
-- Table by table, each in a migration of its own: an interrupted upgrade resumes at the next
-- table. The first is `message_delivery`, which nothing refers to and which refers to nothing.
-- SQLite cannot change a column's type, so the table is made anew. The declared type `UUID` says
-- what the column holds; the values are 16-byte BLOBs, which SQLite keeps as they are under any
-- column type. An id that is no UUID has no bytes (`unhex` gives NULL): the upgrade stops there.
CREATE TABLE message_delivery_new (
    message_id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL,
    status TEXT NOT NULL,
    status_at BIGINT NOT NULL,
    -- sent < delivered < read < failed: which of two statuses of the same time is the further.
    status_rank INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO message_delivery_new (message_id, tenant_id, status, status_at, status_rank)
SELECT unhex(replace(message_id, '-', '')), unhex(replace(tenant_id, '-', '')),
       status, status_at, status_rank
FROM message_delivery;

DROP TABLE message_delivery;
ALTER TABLE message_delivery_new RENAME TO message_delivery;
