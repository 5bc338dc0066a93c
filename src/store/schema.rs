// The tables, identical in both backends (migrations/sqlite and migrations/postgres).
// Personal fields end in `_sealed` (AEAD ciphertext) or `_index` (keyed hash); see docs/architecture.md.

diesel::table! {
    tenants (id) {
        id -> Text,
        name -> Text,
        wrapped_key -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        role -> Text,
        secret_hash -> Binary,
        created_at -> BigInt,
        created_by -> Text,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        tenant_id -> Text,
        channel -> Text,
        address_index -> Binary,
        address_sealed -> Binary,
        display_name_sealed -> Nullable<Binary>,
        first_seen_at -> BigInt,
        last_message_at -> BigInt,
    }
}

diesel::table! {
    contact_keys (contact_id) {
        contact_id -> Text,
        tenant_id -> Text,
        wrapped_key -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        tenant_id -> Text,
        contact_id -> Text,
        channel -> Text,
        direction -> Text,
        kind -> Text,
        occurred_at -> BigInt,
        received_at -> BigInt,
        external_index -> Nullable<Binary>,
        external_id_sealed -> Nullable<Binary>,
        body_sealed -> Nullable<Binary>,
        raw_sealed -> Nullable<Binary>,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> BigInt,
        tenant_id -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        detail -> Nullable<Text>,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::joinable!(contacts -> tenants (tenant_id));
diesel::joinable!(messages -> contacts (contact_id));
diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    api_tokens,
    contacts,
    contact_keys,
    messages,
    audit_log
);
