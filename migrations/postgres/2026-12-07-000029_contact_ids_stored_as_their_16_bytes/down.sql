-- Back to text (PostgreSQL writes a uuid as its canonical text), the references made again.
ALTER TABLE contact_keys DROP CONSTRAINT contact_keys_contact_id_fkey;
ALTER TABLE consents DROP CONSTRAINT consents_contact_id_fkey;
ALTER TABLE legal_holds DROP CONSTRAINT legal_holds_contact_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_contact_of_tenant;

ALTER TABLE contacts ALTER COLUMN id TYPE text USING id::text;
ALTER TABLE contact_keys ALTER COLUMN contact_id TYPE text USING contact_id::text;
ALTER TABLE consents ALTER COLUMN contact_id TYPE text USING contact_id::text;
ALTER TABLE legal_holds ALTER COLUMN contact_id TYPE text USING contact_id::text;
ALTER TABLE messages ALTER COLUMN contact_id TYPE text USING contact_id::text;
ALTER TABLE consent_ledger ALTER COLUMN contact_id TYPE text USING contact_id::text;
ALTER TABLE erasure_items ALTER COLUMN contact_id TYPE text USING contact_id::text;
ALTER TABLE subject_requests ALTER COLUMN contact_id TYPE text USING contact_id::text;

ALTER TABLE contact_keys ADD CONSTRAINT contact_keys_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts(id);
ALTER TABLE consents ADD CONSTRAINT consents_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts(id);
ALTER TABLE legal_holds ADD CONSTRAINT legal_holds_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts(id);
-- NOT VALID first, then VALIDATE (as migration 22): the check of the stored messages is one
-- join, not a probe per row.
ALTER TABLE messages ADD CONSTRAINT messages_contact_of_tenant
    FOREIGN KEY (contact_id, tenant_id) REFERENCES contacts (id, tenant_id) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_contact_of_tenant;
