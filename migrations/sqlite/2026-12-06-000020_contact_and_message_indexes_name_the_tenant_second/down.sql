DROP INDEX message_statuses_message;
CREATE INDEX message_statuses_message ON message_statuses (message_id, occurred_at);
DROP INDEX messages_contact_time;
CREATE INDEX messages_contact_time ON messages (contact_id, occurred_at, id);
