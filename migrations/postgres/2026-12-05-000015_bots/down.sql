ALTER TABLE messages DROP COLUMN sent_by_bot;
ALTER TABLE contacts DROP COLUMN handed_over_at;
DROP TABLE bots;
ALTER TABLE event_hooks DROP COLUMN channel_id;
