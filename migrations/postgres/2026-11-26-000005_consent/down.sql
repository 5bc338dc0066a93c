DROP TABLE broadcasts;
DROP TABLE consent_settings;
DROP TABLE consent_ledger;
DROP TABLE consents;
DROP TABLE consent_texts;
DROP TABLE consent_purposes;
