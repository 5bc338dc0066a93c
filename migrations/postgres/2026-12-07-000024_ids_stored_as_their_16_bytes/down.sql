-- Back to text: a `uuid`'s text is the canonical spelling Hafen wrote.
ALTER TABLE message_delivery
    ALTER COLUMN message_id TYPE text USING message_id::text,
    ALTER COLUMN tenant_id TYPE text USING tenant_id::text;
