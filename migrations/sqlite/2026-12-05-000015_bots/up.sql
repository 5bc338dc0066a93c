-- Chatbots: one per channel. A bot receives the channel's inbound messages through its own
-- event hook (signed, retried like every hook; channel_id limits the hook to that channel) and
-- answers through the send API with its own token (role bot). A person can take a conversation
-- over: while contacts.handed_over_at is set, the bot gets nothing and may send nothing there.
-- messages.sent_by_bot marks each message a bot sent.
ALTER TABLE event_hooks ADD COLUMN channel_id TEXT;
CREATE TABLE bots (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    channel_id TEXT NOT NULL REFERENCES channels(id),
    hook_id TEXT NOT NULL REFERENCES event_hooks(id),
    token_id TEXT NOT NULL REFERENCES api_tokens(id),
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    kinds TEXT NOT NULL,
    decision_logic TEXT,
    decision_effects TEXT,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    removed_at BIGINT
);
CREATE UNIQUE INDEX bots_channel ON bots (channel_id) WHERE removed_at IS NULL;
CREATE INDEX bots_tenant ON bots (tenant_id);
CREATE INDEX bots_token ON bots (token_id);
ALTER TABLE contacts ADD COLUMN handed_over_at BIGINT;
ALTER TABLE messages ADD COLUMN sent_by_bot TEXT;
