ALTER TABLE event_deliveries ALTER COLUMN id TYPE text USING id::text;
