DROP TABLE audit_log;
DROP TABLE messages;
DROP TABLE contact_keys;
DROP TABLE contacts;
DROP TABLE api_tokens;
DROP TABLE tenants;
