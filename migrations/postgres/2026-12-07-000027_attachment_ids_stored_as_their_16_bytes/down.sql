ALTER TABLE attachments ALTER COLUMN id TYPE text USING id::text;
