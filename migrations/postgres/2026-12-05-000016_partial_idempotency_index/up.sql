-- Only sends with an idempotency key have one: everything that arrives, and every send without
-- a key, left an entry of NULL in this unique index all the same (a B-tree write per message for
-- nothing). Uniqueness is unchanged: NULLs never conflicted. The lookup a repeated send makes
-- (`idempotency_index = ?`) implies the index's condition, so it still uses the index.
DROP INDEX messages_idempotency;
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_index)
    WHERE idempotency_index IS NOT NULL;
