-- Deleting a row makes the database look for rows that still refer to it, by the referring
-- column. Without an index leading with that column, SQLite and PostgreSQL both read the whole
-- referring table once per deleted row: a retention run deleting 100 000 messages read every
-- stored file 100 000 times, and deleting contacts read every consent. Each foreign key that
-- points at rows retention and erasure delete in bulk now leads an index.

-- A message's files: a new index (the unique one keeps the tenant first, which the tenant's
-- file queries use). Message ids grow with time, so new entries land at the index's end.
CREATE INDEX attachments_of_message ON attachments (message_id);

-- A contact's consents: the contact first, the tenant second (as in migration 20); every
-- query by tenant alone has `consents_purpose_state`.
DROP INDEX consents_contact_purpose;
CREATE UNIQUE INDEX consents_contact_purpose ON consents (contact_id, tenant_id, purpose_id);

-- Holds naming a contact: few rows, but a contact deleted by the ten thousand read them all
-- each time.
CREATE INDEX legal_holds_contact ON legal_holds (contact_id);
