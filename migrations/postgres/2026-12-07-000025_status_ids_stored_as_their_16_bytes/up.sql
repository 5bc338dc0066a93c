-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the second table: a delivery status's own id, the key of the table every receipt writes into
-- (three rows for each message of a broadcast). Nothing refers to it. The status's message and
-- tenant follow with the tables they refer to.
ALTER TABLE message_statuses ALTER COLUMN id TYPE uuid USING id::uuid;
