DROP TABLE subject_requests;
DROP TABLE register_entries;
