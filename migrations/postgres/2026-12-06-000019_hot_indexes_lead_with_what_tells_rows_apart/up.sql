-- Index entries lead with the column that tells rows apart (issue 24, compact keys).
-- These indexes began with the tenant's 36-character id, the same in every row of a tenant:
-- each comparison, while a lookup or an insert walked down the B-tree, went through it in full
-- (on PostgreSQL through the database's collation) before reaching the column that decides.
-- Now the distinguishing column comes first; the tenant stays in the unique indexes, so what is
-- unique is unchanged, and every query still names the tenant (checked on the row).
DROP INDEX messages_external;
CREATE UNIQUE INDEX messages_external ON messages (external_index, tenant_id);

-- A contact's id is already unique across tenants.
DROP INDEX messages_contact_time;
CREATE INDEX messages_contact_time ON messages (contact_id, occurred_at, id);

-- Statuses are looked up by the platform's message id only while their message is unknown (a
-- receipt that overtook its message): every other status left an entry at a random place for
-- nothing.
DROP INDEX message_statuses_external;
CREATE INDEX message_statuses_external ON message_statuses (external_index, tenant_id)
    WHERE message_id IS NULL;

DROP INDEX message_statuses_message;
CREATE INDEX message_statuses_message ON message_statuses (message_id, occurred_at);

DROP INDEX contacts_address;
CREATE UNIQUE INDEX contacts_address ON contacts (address_index, channel, tenant_id);
