-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the fourth table: an attachment's own id. Nothing refers to it; its message and tenant follow
-- with the tables they refer to.
ALTER TABLE attachments ALTER COLUMN id TYPE uuid USING id::uuid;
