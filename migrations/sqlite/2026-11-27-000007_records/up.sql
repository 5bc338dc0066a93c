-- GDPR records: the register a DPO keeps (processor, controllers and their AVV, processing
-- activities, sub-processors, organisational measures), every version kept; and the
-- data-subject request register (Art. 12, 15, 17, 18, 20).
-- Register documents name people (DPOs, contacts): each version is sealed under its own data
-- key, age-wrapped like every other key.
CREATE TABLE register_entries (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    tenant_id TEXT REFERENCES tenants(id),
    section TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    document_sealed BLOB NOT NULL,
    document_sha256 BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX register_entries_version ON register_entries (version);
CREATE INDEX register_entries_section ON register_entries (tenant_id, section, version);

CREATE TABLE subject_requests (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    -- No foreign key: the request is kept as a record after the contact is erased.
    contact_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    extended_due_on TEXT,
    extension_sealed BLOB,
    status TEXT NOT NULL,
    outcome TEXT,
    certificate_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    handled_by TEXT,
    completed_at BIGINT
);
CREATE INDEX subject_requests_tenant ON subject_requests (tenant_id, status, due_on);
CREATE INDEX subject_requests_contact ON subject_requests (contact_id);
