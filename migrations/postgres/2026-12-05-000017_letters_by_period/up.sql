-- A retention run destroys the period key of a whole expired month first when nothing under it
-- must be kept longer (src/retention/shred.rs). Business letters usually must (six years): this
-- index answers "was a business letter sealed under this key?" at once. It holds the letters
-- only, so messages that are not letters (most of them) write no entry.
CREATE INDEX messages_letters_by_period ON messages (period_key_id) WHERE business_letter;
