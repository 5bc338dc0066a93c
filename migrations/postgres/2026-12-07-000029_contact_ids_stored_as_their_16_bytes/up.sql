-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the contact's id family in one migration: a contact's id and every column that names it (its
-- data key, its consents, a legal hold on it, its messages, the consent ledger, a subject
-- request and the items of its erasure). The four references to a contact are dropped for the
-- change and made again over the new type (a reference between text and `uuid` cannot exist);
-- one transaction holds the whole family.
ALTER TABLE contact_keys DROP CONSTRAINT contact_keys_contact_id_fkey;
ALTER TABLE consents DROP CONSTRAINT consents_contact_id_fkey;
ALTER TABLE legal_holds DROP CONSTRAINT legal_holds_contact_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_contact_of_tenant;

ALTER TABLE contacts ALTER COLUMN id TYPE uuid USING id::uuid;
ALTER TABLE contact_keys ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;
ALTER TABLE consents ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;
ALTER TABLE legal_holds ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;
ALTER TABLE messages ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;
ALTER TABLE consent_ledger ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;
ALTER TABLE erasure_items ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;
ALTER TABLE subject_requests ALTER COLUMN contact_id TYPE uuid USING contact_id::uuid;

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
