// The tables, identical in both backends (migrations/sqlite and migrations/postgres).
// Personal fields end in `_sealed` (AEAD ciphertext) or `_index` (keyed hash); see docs/architecture.md.

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its id stored as 16 bytes since migration 30 (`store::id`), with every table's
    /// `tenant_id` (`message_delivery`'s since 26).
    tenants (id) {
        id -> Id,
        name -> Text,
        wrapped_key -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    api_tokens (id) {
        id -> Text,
        tenant_id -> Nullable<Id>,
        role -> Text,
        secret_hash -> Binary,
        created_at -> BigInt,
        created_by -> Text,
        revoked_at -> Nullable<BigInt>,
        name -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its id stored as 16 bytes since migration 29 (`store::id`), with every column naming it.
    contacts (id) {
        id -> Id,
        tenant_id -> Id,
        channel -> Text,
        address_index -> Binary,
        address_sealed -> Binary,
        display_name_sealed -> Nullable<Binary>,
        first_seen_at -> BigInt,
        last_message_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        restricted_at -> Nullable<BigInt>,
        restriction_sealed -> Nullable<Binary>,
        name_index -> Nullable<Binary>,
        handed_over_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its contact's id stored as 16 bytes since migration 29 (`store::id`).
    contact_keys (contact_id) {
        contact_id -> Id,
        tenant_id -> Id,
        wrapped_key -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its id (migration 28) and its contact's id (migration 29) stored as 16 bytes (`store::id`).
    messages (id) {
        id -> Id,
        tenant_id -> Id,
        contact_id -> Id,
        channel -> Text,
        direction -> Text,
        kind -> Text,
        occurred_at -> BigInt,
        received_at -> BigInt,
        external_index -> Nullable<Binary>,
        external_id_sealed -> Nullable<Binary>,
        body_sealed -> Nullable<Binary>,
        raw_sealed -> Nullable<Binary>,
        channel_id -> Nullable<Text>,
        delivery_status -> Nullable<Text>,
        delivery_status_at -> Nullable<BigInt>,
        idempotency_index -> Nullable<Binary>,
        period_key_id -> Nullable<Text>,
        content_deleted_at -> Nullable<BigInt>,
        business_letter -> Bool,
        sent_by_bot -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    channels (id) {
        id -> Text,
        tenant_id -> Id,
        platform -> Text,
        name -> Text,
        account_id -> Nullable<Text>,
        enabled -> Bool,
        secrets_sealed -> Binary,
        created_at -> BigInt,
        updated_at -> BigInt,
        business_letters -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// The first table whose ids are stored as their 16 bytes (migration 24, `store::id`).
    message_delivery (message_id) {
        message_id -> Id,
        tenant_id -> Id,
        status -> Text,
        status_at -> BigInt,
        status_rank -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its own id stored as 16 bytes since migration 25, its message's since 28 (`store::id`).
    message_statuses (id) {
        id -> Id,
        tenant_id -> Id,
        channel -> Text,
        external_index -> Binary,
        message_id -> Nullable<Id>,
        status -> Text,
        occurred_at -> BigInt,
        received_at -> BigInt,
        errors_sealed -> Nullable<Binary>,
        raw_sealed -> Nullable<Binary>,
        period_key_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its message's id stored as 16 bytes since migration 28 (`store::id`).
    outbox (message_id) {
        message_id -> Id,
        tenant_id -> Id,
        channel_id -> Text,
        purpose_id -> Nullable<Text>,
        request_sealed -> Binary,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its own id stored as 16 bytes since migration 27, its message's since 28 (`store::id`).
    attachments (id) {
        id -> Id,
        tenant_id -> Id,
        message_id -> Id,
        n -> Integer,
        channel_id -> Nullable<Text>,
        media_ref_sealed -> Binary,
        mime_type -> Nullable<Text>,
        expected_sha256 -> Nullable<Text>,
        size -> Nullable<BigInt>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        content_sealed -> Nullable<Binary>,
        created_at -> BigInt,
        period_key_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    event_hooks (id) {
        id -> Text,
        tenant_id -> Id,
        url_sealed -> Binary,
        secret_sealed -> Binary,
        events -> Text,
        enabled -> Bool,
        created_at -> BigInt,
        channel_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    bots (id) {
        id -> Text,
        tenant_id -> Id,
        channel_id -> Text,
        hook_id -> Text,
        token_id -> Text,
        name -> Text,
        purpose -> Text,
        kinds -> Text,
        decision_logic -> Nullable<Text>,
        decision_effects -> Nullable<Text>,
        enabled -> Bool,
        created_at -> BigInt,
        removed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its own id stored as 16 bytes since migration 26 (`store::id`).
    event_deliveries (id) {
        id -> Id,
        tenant_id -> Id,
        hook_id -> Text,
        event -> Text,
        payload_sealed -> Binary,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        period_key_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    consent_purposes (id) {
        id -> Text,
        tenant_id -> Id,
        name -> Text,
        confirm_template -> Nullable<Text>,
        widget -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    consent_settings (tenant_id) {
        tenant_id -> Id,
        opt_in_keywords -> Text,
        confirm_keywords -> Text,
        opt_out_keywords -> Text,
        request_ttl_secs -> BigInt,
        default_purpose_id -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    consent_texts (id) {
        id -> Text,
        tenant_id -> Id,
        purpose_id -> Text,
        version -> Integer,
        language -> Text,
        text -> Text,
        text_hash -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its contact's id stored as 16 bytes since migration 29 (`store::id`).
    consents (id) {
        id -> Text,
        tenant_id -> Id,
        contact_id -> Id,
        purpose_id -> Text,
        state -> Text,
        text_id -> Text,
        requested_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        confirmed_at -> Nullable<BigInt>,
        withdrawn_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its message's id (migration 28) and contact's id (migration 29) stored as 16 bytes (`store::id`).
    consent_ledger (seq) {
        seq -> BigInt,
        tenant_id -> Id,
        consent_id -> Text,
        contact_id -> Id,
        purpose_id -> Text,
        event -> Text,
        at -> BigInt,
        source -> Text,
        text_id -> Text,
        text_hash -> Binary,
        message_id -> Nullable<Id>,
        evidence_sealed -> Nullable<Binary>,
        prev_hash -> Binary,
        hash -> Binary,
        redacted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    broadcasts (id) {
        id -> Text,
        tenant_id -> Id,
        purpose_id -> Text,
        state -> Text,
        targeted -> Integer,
        sent -> Integer,
        queued -> Integer,
        skipped -> Integer,
        failed -> Integer,
        request_sealed -> Binary,
        scheduled_at -> BigInt,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    audit_log (seq) {
        seq -> BigInt,
        at -> BigInt,
        tenant_id -> Nullable<Id>,
        actor -> Text,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        detail -> Nullable<Text>,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    retention_previews (id) {
        id -> Text,
        tenant_id -> Id,
        rules_hash -> Binary,
        summary -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    retention_rule_sets (id) {
        id -> Text,
        tenant_id -> Id,
        version -> Integer,
        rules -> Text,
        rules_hash -> Binary,
        state -> Text,
        preview_id -> Text,
        proposed_by -> Text,
        proposed_at -> BigInt,
        decided_by -> Nullable<Text>,
        activated_at -> Nullable<BigInt>,
        superseded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its contact's id stored as 16 bytes since migration 29 (`store::id`).
    legal_holds (id) {
        id -> Text,
        tenant_id -> Id,
        contact_id -> Nullable<Id>,
        data_from -> Nullable<BigInt>,
        data_until -> Nullable<BigInt>,
        reason_sealed -> Binary,
        created_by -> Text,
        created_at -> BigInt,
        hold_until -> Nullable<BigInt>,
        released_at -> Nullable<BigInt>,
        released_by -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    period_keys (id) {
        id -> Text,
        tenant_id -> Id,
        scope -> Text,
        period -> Text,
        wrapped_key -> Nullable<Binary>,
        created_at -> BigInt,
        destroyed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    retention_certificates (id) {
        id -> Text,
        seq -> Nullable<BigInt>,
        run_id -> Text,
        tenant_id -> Id,
        state -> Text,
        rule_versions -> Text,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        counts -> Text,
        ids_hash -> Binary,
        keys_shredded -> Text,
        errors -> Text,
        prev_hash -> Nullable<Binary>,
        hash -> Nullable<Binary>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    register_entries (id) {
        id -> Text,
        version -> BigInt,
        tenant_id -> Nullable<Id>,
        section -> Text,
        wrapped_key -> Binary,
        document_sealed -> Binary,
        document_sha256 -> Binary,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    instances (id) {
        id -> Text,
        host -> Text,
        started_at -> BigInt,
        seen_at -> BigInt,
        stopped_at -> Nullable<BigInt>,
        posture -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its contact's id stored as 16 bytes since migration 29 (`store::id`).
    erasure_items (id) {
        id -> Text,
        tenant_id -> Id,
        request_id -> Text,
        contact_id -> Id,
        category -> Text,
        class -> Nullable<Text>,
        rule -> Text,
        start_at -> Nullable<BigInt>,
        requested_at -> BigInt,
        kept -> Integer,
        held -> Integer,
        until -> Nullable<BigInt>,
        state -> Text,
        decision -> Nullable<Text>,
        decision_reason_sealed -> Nullable<Binary>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
        done_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    /// Its contact's id stored as 16 bytes since migration 29 (`store::id`).
    subject_requests (id) {
        id -> Text,
        tenant_id -> Id,
        contact_id -> Id,
        kind -> Text,
        received_on -> Text,
        due_on -> Text,
        extended_due_on -> Nullable<Text>,
        extension_sealed -> Nullable<Binary>,
        status -> Text,
        outcome -> Nullable<Text>,
        certificate_id -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        handled_by -> Nullable<Text>,
        completed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    backups (id) {
        id -> Text,
        finished_at -> BigInt,
        location -> Text,
        data_sha256 -> Text,
        keystore_sha256 -> Text,
    }
}

diesel::table! {
    ui_keys (id) {
        id -> Text,
        wrapped_key -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::id::Id;

    ui_users (id) {
        id -> Text,
        login_index -> Binary,
        login_sealed -> Binary,
        password_hash -> Text,
        role -> Text,
        tenant_id -> Nullable<Id>,
        totp_sealed -> Nullable<Binary>,
        totp_last_step -> Nullable<BigInt>,
        failed_attempts -> Integer,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
        created_by -> Text,
        disabled_at -> Nullable<BigInt>,
        password_must_change -> Bool,
    }
}

diesel::table! {
    ui_sessions (id_hash) {
        id_hash -> Binary,
        user_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::joinable!(contacts -> tenants (tenant_id));
diesel::joinable!(ui_sessions -> ui_users (user_id));
diesel::joinable!(messages -> contacts (contact_id));
diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    api_tokens,
    contacts,
    contact_keys,
    messages,
    audit_log,
    channels,
    message_statuses,
    message_delivery,
    outbox,
    attachments,
    event_hooks,
    bots,
    event_deliveries,
    consent_purposes,
    consent_texts,
    consents,
    consent_ledger,
    consent_settings,
    broadcasts,
    retention_previews,
    retention_rule_sets,
    legal_holds,
    period_keys,
    retention_certificates,
    register_entries,
    subject_requests,
    backups,
    ui_keys,
    ui_users,
    ui_sessions,
    erasure_items,
    instances
);
