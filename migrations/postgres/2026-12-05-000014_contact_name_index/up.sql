-- A keyed hash of a contact's normalised display name, so a DPO can find a person by name
-- without Hafen storing or scanning names in the clear. Only contacts with a name have one;
-- erasure clears it with the name.
ALTER TABLE contacts ADD COLUMN name_index BYTEA;
CREATE INDEX contacts_name_index ON contacts (tenant_id, name_index) WHERE name_index IS NOT NULL;
