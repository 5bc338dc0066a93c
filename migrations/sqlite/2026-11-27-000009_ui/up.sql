-- The web interface's people: local users, their sessions, and the install key that seals
-- their login names (wrapped to the master key like every data key; `hafen key rotate`
-- re-wraps it).
CREATE TABLE ui_keys (
    id TEXT PRIMARY KEY NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
-- The login name is personal (an e-mail address): sealed, found by a keyed blind index.
-- The password is an argon2id PHC string; the TOTP secret is sealed when set.
CREATE TABLE ui_users (
    id TEXT PRIMARY KEY NOT NULL,
    login_index BLOB NOT NULL UNIQUE,
    login_sealed BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant_id TEXT REFERENCES tenants (id),
    totp_sealed BLOB,
    -- The time step of the last TOTP code accepted: a code works once (RFC 6238 §5.2).
    totp_last_step BIGINT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    disabled_at BIGINT,
    -- Set when someone else chose the password (an admin creating or resetting the account):
    -- the person must choose their own before any other page opens.
    password_must_change BOOLEAN NOT NULL DEFAULT FALSE
);
-- Only a SHA-256 of the session id is stored: a copy of the database opens no session.
CREATE TABLE ui_sessions (
    id_hash BLOB PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES ui_users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_user ON ui_sessions (user_id);
