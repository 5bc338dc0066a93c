-- Ids stored as their 16 bytes, not as 36 characters of text (issue 24; docs/decisions.md "Ids
-- stored as their 16 bytes"): every index entry and reference holding an id shrinks, and
-- PostgreSQL compares a `uuid` byte by byte where it compared text through the collation
-- (`limits_bench --keys binary`: +21 % for the message row's shape). Hafen still names every id
-- by its text; `store::id` converts where a query binds or reads one.
--
-- Table by table, each in a migration of its own: an interrupted upgrade resumes at the next
-- table. The first is `message_delivery`, which nothing refers to and which refers to nothing.
-- One rewrite of the table and its key for both columns.
ALTER TABLE message_delivery
    ALTER COLUMN message_id TYPE uuid USING message_id::uuid,
    ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
