DROP INDEX contacts_name_index;
ALTER TABLE contacts DROP COLUMN name_index;
