-- Sealed columns hold ciphertext, which does not compress. With PostgreSQL's default storage
-- (EXTENDED) every row above about 2 kB (a message with a 1 kB body and its raw payload) had
-- pglz try each sealed value in turn, fail, and then move it to the TOAST table all the same.
-- EXTERNAL moves it there without the attempt. Keeping such rows whole in their page instead
-- (toast_tuple_target = 8160) was measured and was slower: pages held two messages each, and
-- the heap grew from 33 + 33 MB to 82 MB for 20 000 messages (docs/benchmarks.md).
ALTER TABLE messages
    ALTER COLUMN body_sealed SET STORAGE EXTERNAL,
    ALTER COLUMN raw_sealed SET STORAGE EXTERNAL,
    ALTER COLUMN external_id_sealed SET STORAGE EXTERNAL;
ALTER TABLE message_statuses
    ALTER COLUMN raw_sealed SET STORAGE EXTERNAL,
    ALTER COLUMN errors_sealed SET STORAGE EXTERNAL;
ALTER TABLE attachments
    ALTER COLUMN media_ref_sealed SET STORAGE EXTERNAL,
    ALTER COLUMN content_sealed SET STORAGE EXTERNAL;
ALTER TABLE event_deliveries
    ALTER COLUMN payload_sealed SET STORAGE EXTERNAL;
