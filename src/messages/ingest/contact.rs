//! The contacts a batch brings: found by their blind address index or created with their
//! own data key, and moved to a new address when a message announces one.

use super::*;
use crate::store::id;

/// A person changed their number (WhatsApp `user_changed_number`): their contact takes the new
/// address, so the conversation continues on one contact. Applied only with its message (a
/// redelivered announcement changes nothing again).
#[derive(Clone)]
pub(super) struct AddressChange {
    pub(super) message_id: String,
    pub(super) contact_id: String,
    pub(super) channel: String,
    pub(super) address_index: Vec<u8>,
    pub(super) address_sealed: Vec<u8>,
}

/// Who a new contact is: channel, address, optional name, and when they were last heard of.
pub(crate) struct ContactSeed<'a> {
    pub channel: &'a ChannelName,
    pub address: &'a Address,
    pub display_name: Option<&'a DisplayName>,
    pub last_message_at: i64,
}

pub(crate) fn new_contact(
    keyring: &KeyRing,
    tenant: &str,
    seed: ContactSeed<'_>,
    (tenant_keys, address_index): (&OwnerKeys, &[u8]),
    now: i64,
) -> Result<(ContactRow, ContactKeyRow, Arc<OwnerKeys>)> {
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let key = keyring.generate()?;
    let address_sealed = key.keys.seal.seal_str(
        &contacts::binding(tenant, &id, "address"),
        seed.address.expose(),
    )?;
    let display_name_sealed = seed
        .display_name
        .map(|n| {
            key.keys
                .seal
                .seal_str(&contacts::binding(tenant, &id, "display_name"), n.expose())
        })
        .transpose()?;
    let contact = ContactRow {
        id: id.clone(),
        tenant_id: tenant.to_string(),
        channel: seed.channel.as_str().to_string(),
        address_index: address_index.to_vec(),
        address_sealed,
        display_name_sealed,
        first_seen_at: now,
        last_message_at: seed.last_message_at,
        closed_at: None,
        restricted_at: None,
        name_index: seed
            .display_name
            .map(|n| crate::contacts::find::name_index(tenant_keys, n.expose())),
    };
    let key_row = ContactKeyRow {
        contact_id: id,
        tenant_id: tenant.to_string(),
        wrapped_key: key.wrapped,
        created_at: now,
    };
    Ok((contact, key_row, key.keys))
}

impl Messages {
    /// The contact with this address, created (without messages) if it does not exist yet;
    /// e.g. a person who signs up through the widget before ever writing.
    pub(crate) async fn ensure_contact(
        &self,
        tenant: &TenantId,
        channel: &ChannelName,
        address: &Address,
    ) -> Result<String> {
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let index = address_index(&tenant_keys, channel, address);
        for _ in 0..ATTEMPTS {
            let (t, i) = (tenant.clone(), index.clone());
            let c = channel.as_str().to_string();
            let found = self
                .infra
                .store
                .read(move |conn| contacts::find_by_address_indexes(conn, &t, &c, vec![i]))
                .await?
                .into_iter()
                .next();
            if let Some(contact) = found {
                return Ok(contact.id);
            }
            let now = to_micros(self.infra.clock.now());
            let seed = ContactSeed {
                channel,
                address,
                display_name: None,
                last_message_at: now,
            };
            let (contact, key, keys) = new_contact(
                &self.infra.keys,
                tenant.as_str(),
                seed,
                (&tenant_keys, &index),
                now,
            )?;
            let id = contact.id.clone();
            let written = self
                .infra
                .store
                .write(move |conn| {
                    if contacts::exists_with_address(
                        conn,
                        &contact.tenant_id,
                        &contact.channel,
                        &contact.address_index,
                    )? {
                        return Err(StoreError::Retry);
                    }
                    contacts::insert(conn, &contact, &key)
                })
                .await;
            match written {
                Ok(()) => {
                    self.infra
                        .keys
                        .remember(KeyOwner::Contact(id.clone()), keys);
                    return Ok(id);
                }
                Err(e) if matches!(e, StoreError::Retry) || e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(
            "the contact was being created concurrently; retry".into(),
        ))
    }
}

/// Moves a contact to the address its message announced. When another contact already has that
/// address (the person wrote from the new number before the announcement arrived), both stay
/// as they are and the audit entry says so: merging two people's histories is a decision for a
/// person, not for a webhook.
pub(super) fn move_contact(
    conn: &mut DbConn,
    tenant: &str,
    change: &AddressChange,
    ingest: &AuditEvent,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let taken =
        contacts::exists_with_address(conn, tenant, &change.channel, &change.address_index)?;
    if !taken {
        contacts::change_address(
            conn,
            &change.contact_id,
            &change.address_index,
            &change.address_sealed,
        )?;
    }
    let mut event = AuditEvent::new(&ingest.actor, "contact.number_changed");
    event.tenant = ingest.tenant.clone();
    let detail = if taken {
        "not moved: another contact already has the new number"
    } else {
        "moved to the new number the platform announced"
    };
    let event = event
        .object("contact", change.contact_id.clone())
        .detail(format!("{detail} (message {})", change.message_id));
    audit::append(conn, at, event)?;
    Ok(())
}

/// Whether two contacts are the same address on the same channel.
pub(super) fn same_address(
    conn: &mut DbConn,
    tenant: &str,
    a: &str,
    b: &str,
) -> Result<bool, StoreError> {
    use crate::store::schema::contacts as c;
    use diesel::prelude::*;
    let rows: Vec<(String, Vec<u8>)> = c::table
        .filter(c::tenant_id.eq(id::bind(tenant)))
        .filter(c::id.eq_any(id::bind_all(&[a, b])))
        .select((c::channel, c::address_index))
        .load(conn)?;
    Ok(rows.len() == 2 && rows[0] == rows[1])
}
