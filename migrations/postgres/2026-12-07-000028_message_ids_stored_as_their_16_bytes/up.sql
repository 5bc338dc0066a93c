-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the message's id family in one migration: a message's id and every column that names it (an
-- outbox entry, an attachment, a delivery status, a consent ledger entry). The two references
-- to a message are dropped for the change and made again over the new type: a reference
-- between text and `uuid` cannot exist, and one transaction holds the whole family.
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_fkey;
ALTER TABLE attachments DROP CONSTRAINT attachments_message_id_fkey;

ALTER TABLE messages ALTER COLUMN id TYPE uuid USING id::uuid;
ALTER TABLE outbox ALTER COLUMN message_id TYPE uuid USING message_id::uuid;
ALTER TABLE attachments ALTER COLUMN message_id TYPE uuid USING message_id::uuid;
ALTER TABLE message_statuses ALTER COLUMN message_id TYPE uuid USING message_id::uuid;
ALTER TABLE consent_ledger ALTER COLUMN message_id TYPE uuid USING message_id::uuid;

ALTER TABLE outbox ADD CONSTRAINT outbox_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id);
ALTER TABLE attachments ADD CONSTRAINT attachments_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id);
