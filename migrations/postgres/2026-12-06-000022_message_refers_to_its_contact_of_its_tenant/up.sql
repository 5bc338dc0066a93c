-- PostgreSQL checks a foreign key with a trigger per inserted row: every message looked up its
-- tenant (taking a KEY SHARE lock on the one tenant row, which every writer connection shares)
-- and then its contact — two checks per message, 20 % of a 1 000-row insert (EXPLAIN ANALYZE,
-- docs/benchmarks.md). The contact's row already names its tenant, so one reference by
-- (contact_id, tenant_id) checks both at once, locks the contact's row instead of the tenant's,
-- and says what was only assumed before: a message belongs to the tenant of its contact.
-- SQLite keeps its two references (changing one there rebuilds the messages table; its checks
-- are in-process B-tree probes): docs/decisions.md.

-- The key the reference points at: the contact's id first (it tells rows apart, migration 19).
CREATE UNIQUE INDEX contacts_id_tenant ON contacts (id, tenant_id);
ALTER TABLE contacts ADD CONSTRAINT contacts_id_tenant UNIQUE USING INDEX contacts_id_tenant;

-- NOT VALID first, then VALIDATE: the check of the stored messages is one join, not a probe
-- per row.
ALTER TABLE messages ADD CONSTRAINT messages_contact_of_tenant
    FOREIGN KEY (contact_id, tenant_id) REFERENCES contacts (id, tenant_id) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_contact_of_tenant;
ALTER TABLE messages DROP CONSTRAINT messages_contact_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_tenant_id_fkey;
