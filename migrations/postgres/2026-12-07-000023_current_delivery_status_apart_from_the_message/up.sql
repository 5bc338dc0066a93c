-- A receipt moved its message's current status by updating the message's row. PostgreSQL writes
-- an update as a new version of the row, and unless that version fits on the row's own page (a
-- HOT update) every index of `messages` gets an entry for it: three in four of a receipt group's
-- updates did (a group's receipts name consecutive messages, packed on a few full pages), and it
-- was the receipts' largest statement (docs/benchmarks.md, fifteenth session).
--
-- The current status now lives in a narrow table of its own, written by receipts alone: one
-- index (its key), short rows, and free room on every page (fillfactor) so that most updates are
-- HOT and touch no index at all. The message keeps the status it was stored with (`queued` for
-- a send) and is no longer updated by a receipt; reads take the row here where there is one
-- (`messages::status::current`).
--
-- No references: each would be a trigger per written row (migration 22); the row is deleted
-- with its message in `messages::delete_with_dependants`, the one place messages are deleted.
CREATE TABLE message_delivery (
    message_id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_at BIGINT NOT NULL,
    -- sent < delivered < read < failed: which of two statuses of the same time is the further.
    status_rank INTEGER NOT NULL
) WITH (fillfactor = 70);

INSERT INTO message_delivery (message_id, tenant_id, status, status_at, status_rank)
SELECT id, tenant_id, delivery_status, delivery_status_at,
       CASE delivery_status
           WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4
           ELSE 0
       END
FROM messages
WHERE delivery_status IS NOT NULL AND delivery_status_at IS NOT NULL
  AND delivery_status <> 'queued';
