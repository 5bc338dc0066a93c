-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the third table: an event delivery's own id (one row for each event a hook subscribed to: a
-- message received, a status moved). Nothing refers to it; its hook and tenant follow with the
-- tables they refer to.
ALTER TABLE event_deliveries ALTER COLUMN id TYPE uuid USING id::uuid;
