DROP INDEX audit_log_object;
DROP TABLE erasure_items;
