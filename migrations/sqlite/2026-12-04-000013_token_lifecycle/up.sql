-- API tokens get a name (what they are for), an optional expiry and a coarse last-use time,
-- updated at most once an hour so a busy integration does not turn reads into writes.
ALTER TABLE api_tokens ADD COLUMN name TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;
