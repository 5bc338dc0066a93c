DROP INDEX messages_idempotency;
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_index);
