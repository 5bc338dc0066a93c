-- Ids stored as their 16 bytes (migration 24; docs/decisions.md "Ids stored as their 16 bytes"),
-- the tenant's id family in one migration: a tenant's id and every column that names it (every
-- table but the install's own; `message_delivery.tenant_id` is 16 bytes since migration 26).
-- Every reference to a tenant is dropped for the change and made again over the new type (a
-- reference between text and `uuid` cannot exist), with the messages' reference to their
-- contact, which names the tenant too; one transaction holds the whole family.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_tenant_id_fkey;
ALTER TABLE contacts DROP CONSTRAINT contacts_tenant_id_fkey;
ALTER TABLE contact_keys DROP CONSTRAINT contact_keys_tenant_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_contact_of_tenant;
ALTER TABLE channels DROP CONSTRAINT channels_tenant_id_fkey;
ALTER TABLE message_statuses DROP CONSTRAINT message_statuses_tenant_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_tenant_id_fkey;
ALTER TABLE attachments DROP CONSTRAINT attachments_tenant_id_fkey;
ALTER TABLE event_hooks DROP CONSTRAINT event_hooks_tenant_id_fkey;
ALTER TABLE event_deliveries DROP CONSTRAINT event_deliveries_tenant_id_fkey;
ALTER TABLE consent_purposes DROP CONSTRAINT consent_purposes_tenant_id_fkey;
ALTER TABLE consent_texts DROP CONSTRAINT consent_texts_tenant_id_fkey;
ALTER TABLE consents DROP CONSTRAINT consents_tenant_id_fkey;
ALTER TABLE consent_settings DROP CONSTRAINT consent_settings_tenant_id_fkey;
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_tenant_id_fkey;
ALTER TABLE retention_previews DROP CONSTRAINT retention_previews_tenant_id_fkey;
ALTER TABLE retention_rule_sets DROP CONSTRAINT retention_rule_sets_tenant_id_fkey;
ALTER TABLE legal_holds DROP CONSTRAINT legal_holds_tenant_id_fkey;
ALTER TABLE period_keys DROP CONSTRAINT period_keys_tenant_id_fkey;
ALTER TABLE retention_certificates DROP CONSTRAINT retention_certificates_tenant_id_fkey;
ALTER TABLE register_entries DROP CONSTRAINT register_entries_tenant_id_fkey;
ALTER TABLE subject_requests DROP CONSTRAINT subject_requests_tenant_id_fkey;
ALTER TABLE ui_users DROP CONSTRAINT ui_users_tenant_id_fkey;
ALTER TABLE erasure_items DROP CONSTRAINT erasure_items_tenant_id_fkey;
ALTER TABLE bots DROP CONSTRAINT bots_tenant_id_fkey;

ALTER TABLE tenants ALTER COLUMN id TYPE uuid USING id::uuid;
ALTER TABLE api_tokens ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE attachments ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE audit_log ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE bots ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE broadcasts ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE channels ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE consent_ledger ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE consent_purposes ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE consent_settings ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE consent_texts ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE consents ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE contact_keys ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE contacts ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE erasure_items ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE event_deliveries ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE event_hooks ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE legal_holds ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE message_statuses ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE messages ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE outbox ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE period_keys ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE register_entries ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE retention_certificates ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE retention_previews ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE retention_rule_sets ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE subject_requests ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;
ALTER TABLE ui_users ALTER COLUMN tenant_id TYPE uuid USING tenant_id::uuid;

ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE contacts ADD CONSTRAINT contacts_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE contact_keys ADD CONSTRAINT contact_keys_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
-- NOT VALID first, then VALIDATE (as migrations 22 and 29): one join, not a probe per row.
ALTER TABLE messages ADD CONSTRAINT messages_contact_of_tenant
    FOREIGN KEY (contact_id, tenant_id) REFERENCES contacts (id, tenant_id) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_contact_of_tenant;
ALTER TABLE channels ADD CONSTRAINT channels_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE message_statuses ADD CONSTRAINT message_statuses_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE outbox ADD CONSTRAINT outbox_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE attachments ADD CONSTRAINT attachments_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE event_hooks ADD CONSTRAINT event_hooks_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE event_deliveries ADD CONSTRAINT event_deliveries_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE consent_purposes ADD CONSTRAINT consent_purposes_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE consent_texts ADD CONSTRAINT consent_texts_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE consents ADD CONSTRAINT consents_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE consent_settings ADD CONSTRAINT consent_settings_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE broadcasts ADD CONSTRAINT broadcasts_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE retention_previews ADD CONSTRAINT retention_previews_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE retention_rule_sets ADD CONSTRAINT retention_rule_sets_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE legal_holds ADD CONSTRAINT legal_holds_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE period_keys ADD CONSTRAINT period_keys_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE retention_certificates ADD CONSTRAINT retention_certificates_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE register_entries ADD CONSTRAINT register_entries_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE subject_requests ADD CONSTRAINT subject_requests_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE ui_users ADD CONSTRAINT ui_users_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE erasure_items ADD CONSTRAINT erasure_items_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE bots ADD CONSTRAINT bots_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id);
