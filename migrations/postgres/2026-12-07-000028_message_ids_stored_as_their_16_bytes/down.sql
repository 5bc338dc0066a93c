ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_fkey;
ALTER TABLE attachments DROP CONSTRAINT attachments_message_id_fkey;

ALTER TABLE messages ALTER COLUMN id TYPE text USING id::text;
ALTER TABLE outbox ALTER COLUMN message_id TYPE text USING message_id::text;
ALTER TABLE attachments ALTER COLUMN message_id TYPE text USING message_id::text;
ALTER TABLE message_statuses ALTER COLUMN message_id TYPE text USING message_id::text;
ALTER TABLE consent_ledger ALTER COLUMN message_id TYPE text USING message_id::text;

ALTER TABLE outbox ADD CONSTRAINT outbox_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id);
ALTER TABLE attachments ADD CONSTRAINT attachments_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id);
