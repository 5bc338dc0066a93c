ALTER TABLE channels DROP COLUMN business_letters;
ALTER TABLE messages DROP COLUMN business_letter;
