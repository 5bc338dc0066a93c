-- Messages marked as business letters (Handels- und Geschäftsbriefe, § 257 HGB) are kept under
-- the statutory rules; the others under the shorter rules for ordinary chats. Until now the
-- install's defaults kept every message as a business letter: for tenants still on those
-- defaults, the messages already stored stay marked, so nothing is deleted earlier than before
-- without a person reviewing it (docs/retention.md).
ALTER TABLE messages ADD COLUMN business_letter BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE messages SET business_letter = TRUE
 WHERE tenant_id NOT IN (SELECT tenant_id FROM retention_rule_sets WHERE state = 'active');
-- A channel whose every message is a business letter (an order channel, say).
ALTER TABLE channels ADD COLUMN business_letters BOOLEAN NOT NULL DEFAULT FALSE;
