//! What a batch stores, sealed: each message's fields and each delivery status under the
//! contact's and the period's keys, the index that finds a platform's message id again, and the
//! `message.received` event's payload.

use super::*;

pub(super) fn seal_message(
    tenant: &str,
    contact_id: &str,
    keys: &OwnerKeys,
    tenant_keys: &OwnerKeys,
    message: &NewMessage,
    now: i64,
) -> Result<MessageRow> {
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let seal =
        |column: &'static str, bytes: &[u8]| keys.seal.seal(&binding(tenant, &id, column), bytes);
    let external_index = message
        .external_id
        .as_ref()
        .map(|e| external_index(tenant_keys, message.channel.as_str(), e.expose()));
    Ok(MessageRow {
        tenant_id: tenant.to_string(),
        contact_id: contact_id.to_string(),
        channel: message.channel.as_str().to_string(),
        direction: message.direction.as_str().to_string(),
        kind: message.kind.as_str().to_string(),
        occurred_at: to_micros(message.occurred_at),
        received_at: now,
        external_index,
        external_id_sealed: message
            .external_id
            .as_ref()
            .map(|e| seal("external_id", e.expose().as_bytes()))
            .transpose()?,
        body_sealed: message
            .body
            .as_ref()
            .map(|b| seal("body", b.expose().as_bytes()))
            .transpose()?,
        raw_sealed: message
            .raw
            .as_ref()
            .map(|r| seal("raw", r.expose()))
            .transpose()?,
        channel_id: message.channel_id.clone(),
        business_letter: message.business_letter,
        sent_by_bot: None,
        delivery_status: None,
        delivery_status_at: None,
        idempotency_index: None,
        period_key_id: None,
        content_deleted_at: None,
        id,
    })
}

/// The `message.received` event for the tenant's own systems.
pub(super) fn received_event(
    tenant: &str,
    row: &MessageRow,
    message: &NewMessage,
) -> serde_json::Value {
    let raw: Option<serde_json::Value> = message
        .raw
        .as_ref()
        .and_then(|r| serde_json::from_slice(r.expose()).ok());
    let (content, reply_to) = crate::messages::parse::content::read(
        row.channel.as_str(),
        message.kind,
        raw.as_ref(),
        message.body.as_ref().map(|b| b.expose().as_str()),
    );
    serde_json::json!({
        "event": EventKind::MessageReceived.as_str(),
        "tenant_id": tenant,
        "message": {
            "id": row.id,
            "contact_id": row.contact_id,
            "channel": row.channel,
            "channel_id": row.channel_id,
            "direction": row.direction,
            "kind": row.kind,
            "occurred_at": message.occurred_at,
            "body": message.body.as_ref().map(|b| b.expose()),
            "external_id": message.external_id.as_ref().map(|e| e.expose()),
            "attachments": message.media.len(),
            "content": content,
            "reply_to": reply_to,
        },
        "contact": {
            "id": row.contact_id,
            "channel": row.channel,
            "address": message.address.expose(),
            "display_name": message.display_name.as_ref().map(|n| n.expose()),
        },
    })
}

/// The index under which a platform message id is found again (de-duplication, statuses).
pub(crate) fn external_index(tenant_keys: &OwnerKeys, channel: &str, external_id: &str) -> Vec<u8> {
    tenant_keys
        .blind
        .index(&[b"external_id", channel.as_bytes(), external_id.as_bytes()])
}

/// Statuses are sealed under the tenant's key (their message and contact may not be known
/// yet) bound to a period key; the blind index uses the tenant key alone.
pub(crate) fn seal_status(
    tenant: &str,
    tenant_keys: &OwnerKeys,
    period: (&str, &OwnerKeys),
    status: &NewStatus,
    now: i64,
) -> Result<StatusRow> {
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let sealing = tenant_keys.within_period(period.1);
    let seal = |column: &'static str, bytes: &[u8]| {
        sealing
            .seal
            .seal(&status::binding(tenant, &id, column), bytes)
    };
    let errors_sealed = if status.errors.is_empty() {
        None
    } else {
        Some(seal(
            "errors",
            &serde_json::to_vec(&status.errors).map_err(Error::internal)?,
        )?)
    };
    let raw_sealed = match &status.raw {
        Some(raw) => Some(seal(
            "raw",
            &serde_json::to_vec(raw).map_err(Error::internal)?,
        )?),
        None => None,
    };
    Ok(StatusRow {
        tenant_id: tenant.to_string(),
        channel: status.channel.as_str().to_string(),
        external_index: external_index(
            tenant_keys,
            status.channel.as_str(),
            status.external_id.expose(),
        ),
        message_id: None,
        status: status.status.as_str().to_string(),
        occurred_at: to_micros(status.occurred_at),
        received_at: now,
        errors_sealed,
        raw_sealed,
        period_key_id: Some(period.0.to_string()),
        id,
    })
}
