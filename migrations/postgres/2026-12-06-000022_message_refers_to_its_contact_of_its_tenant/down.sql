ALTER TABLE messages ADD CONSTRAINT messages_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE messages ADD CONSTRAINT messages_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES contacts (id);
ALTER TABLE messages DROP CONSTRAINT messages_contact_of_tenant;
ALTER TABLE contacts DROP CONSTRAINT contacts_id_tenant;
