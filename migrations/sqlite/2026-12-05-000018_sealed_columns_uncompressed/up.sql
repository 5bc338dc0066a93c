-- PostgreSQL only (how it stores the sealed columns); SQLite never compresses row values. Kept so both backends share one migration list.
SELECT 1;
