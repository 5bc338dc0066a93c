DROP TABLE outbox;
DROP TABLE message_statuses;
DROP INDEX messages_idempotency;
ALTER TABLE messages DROP COLUMN idempotency_index;
ALTER TABLE messages DROP COLUMN delivery_status_at;
ALTER TABLE messages DROP COLUMN delivery_status;
ALTER TABLE messages DROP COLUMN channel_id;
DROP TABLE channels;
