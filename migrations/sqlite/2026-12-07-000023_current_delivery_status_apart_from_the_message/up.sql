-- The current delivery status apart from the message's row: the reason is PostgreSQL's (its
-- migration 23: an update of a message wrote an entry into every index of `messages`); SQLite
-- keeps the same layout so both backends read and write it alike. WITHOUT ROWID: the rows are
-- found by the message's id only, so the key is the table (one B-tree, not two).
--
-- The message keeps the status it was stored with (`queued` for a send); reads take the row here
-- where there is one (`messages::status::current`). No references (the row is deleted with its
-- message in `messages::delete_with_dependants`, the one place messages are deleted).
CREATE TABLE message_delivery (
    message_id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_at BIGINT NOT NULL,
    -- sent < delivered < read < failed: which of two statuses of the same time is the further.
    status_rank INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO message_delivery (message_id, tenant_id, status, status_at, status_rank)
SELECT id, tenant_id, delivery_status, delivery_status_at,
       CASE delivery_status
           WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4
           ELSE 0
       END
FROM messages
WHERE delivery_status IS NOT NULL AND delivery_status_at IS NOT NULL
  AND delivery_status <> 'queued';
