DROP INDEX legal_holds_contact;
DROP INDEX consents_contact_purpose;
CREATE UNIQUE INDEX consents_contact_purpose ON consents (tenant_id, contact_id, purpose_id);
DROP INDEX attachments_of_message;
