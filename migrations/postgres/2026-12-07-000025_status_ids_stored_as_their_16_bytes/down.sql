ALTER TABLE message_statuses ALTER COLUMN id TYPE text USING id::text;
