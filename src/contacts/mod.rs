//! Contacts: the data subjects behind a phone number, page-scoped id or chat id.
//!
//! A contact's address and name are sealed under the contact's own data key, whose only stored
//! copy is age-wrapped in `contact_keys`. Deleting that row erases everything sealed for the
//! contact (cryptographic erase). Lookup by address goes through a keyed hash per tenant.

pub mod erase;
pub mod find;
pub mod read;
pub mod restrict;

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;
use serde::Serialize;

use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::FieldBinding;
use crate::crypto::KeyRing;
use crate::error::Result;
use crate::infra::Infra;
use crate::store::id;
use crate::store::schema::{contact_keys, contacts};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// The contacts service: finding people, reading and restricting their records, erasing
/// their key.
#[derive(Debug, Clone)]
pub struct Contacts {
    pub(crate) infra: Infra,
}

impl Contacts {
    pub fn new(infra: Infra) -> Self {
        Self { infra }
    }
}

pub const TABLE: &str = "contacts";

/// Where a contact's sealed field lives (the AEAD binding).
pub fn binding<'a>(tenant: &'a str, contact_id: &'a str, column: &'static str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: TABLE,
        column,
        row: contact_id,
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = contacts)]
pub struct ContactRow {
    /// Stored as its 16 bytes (`store::id`, migration 29): a row is inserted by value.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub channel: String,
    pub address_index: Vec<u8>,
    pub address_sealed: Vec<u8>,
    pub display_name_sealed: Option<Vec<u8>>,
    pub first_seen_at: i64,
    pub last_message_at: i64,
    /// End of the business relationship (a retention start point).
    pub closed_at: Option<i64>,
    /// Art. 18 restriction: kept, but not readable through normal reads.
    pub restricted_at: Option<i64>,
    /// Blind index of the normalised display name ([`name_index`]); None without a name.
    pub name_index: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = contact_keys)]
pub struct ContactKeyRow {
    /// Stored as its 16 bytes, like the contact's own id.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub contact_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: i64,
}

/// A channel's contacts by blind address index. The channel is part of the lookup so that the
/// unique (address index, channel, tenant) index serves it entirely: without it, PostgreSQL
/// compared every address index of the tenant against the whole list, per batch.
///
/// One index (a webhook delivery) is looked up by equality: every column of the unique index
/// is then fixed, so PostgreSQL's plan is the index lookup whatever its statistics say, and the
/// statement can stay prepared. With `= ANY` and statistics not yet gathered (a young
/// database; autovacuum analyzes after a minute) it used the index for tenant and channel only
/// and filtered every contact of the channel — 1.26 ms instead of 0.03 ms at 1 000 contacts,
/// the largest single cost of a delivery in the webhook benchmark. Many indexes (a batch) on
/// PostgreSQL are probed one by one for the same reason (`LATERAL … LIMIT 1`; as `= ANY`
/// without statistics it filtered all 20 000 contacts of a tenant for a batch of 100: 2.5 ms).
pub fn find_by_address_indexes(
    conn: &mut DbConn,
    tenant: &TenantId,
    channel: &str,
    indexes: Vec<Vec<u8>>,
) -> Result<Vec<ContactRow>, StoreError> {
    if let (DbConn::Postgres(c), true) = (&mut *conn, indexes.len() > 1) {
        use diesel::sql_types::{Array, Binary, Text};
        return Ok(diesel::sql_query(
            "SELECT found.* FROM unnest($3::bytea[]) AS wanted(ix) \
             CROSS JOIN LATERAL (SELECT * FROM contacts WHERE address_index = wanted.ix \
               AND channel = $2 AND tenant_id = $1 LIMIT 1) AS found",
        )
        .bind::<crate::store::id::Id, _>(id::bind(tenant.as_str()))
        .bind::<Text, _>(channel)
        .bind::<Array<Binary>, _>(indexes)
        .load(c)?);
    }
    let of_channel = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant.as_str())))
        .filter(contacts::channel.eq(channel))
        .select(ContactRow::as_select());
    Ok(match indexes.as_slice() {
        [one] => of_channel
            .filter(contacts::address_index.eq(one))
            .load(conn)?,
        _ => of_channel
            .filter(contacts::address_index.eq_any(indexes))
            .filter(crate::store::backend::plan_with_actual_values())
            .load(conn)?,
    })
}

/// The blind address index each of these contacts of `tenant` has now; a deleted contact is
/// absent. The writer confirms with it the contacts an ingest resolved before it (from the
/// database or from memory, `messages::ingest::known`). On PostgreSQL the rows stay locked
/// until the writer's commit (`FOR NO KEY UPDATE`, in id order): with several writers a group
/// does not hold the chain lock from its start, and an erasure committing between this check
/// and the commit would otherwise put the message under the erased contact. The group moves
/// these contacts' `last_message_at` anyway, which takes the same lock.
pub fn address_indexes_of(
    conn: &mut DbConn,
    tenant: &str,
    ids: Vec<String>,
) -> Result<HashMap<String, Vec<u8>>, StoreError> {
    let query = contacts::table
        .filter(contacts::id.eq_any(id::bind_all(&ids)))
        .filter(crate::store::backend::only_checked_id(contacts::tenant_id).eq(id::bind(tenant)))
        .select((contacts::id, contacts::address_index))
        .order(contacts::id);
    let rows: Vec<(String, Vec<u8>)> = match conn {
        DbConn::Postgres(c) => query.for_no_key_update().load(c)?,
        DbConn::Sqlite(_) => query.load(conn)?,
    };
    Ok(rows.into_iter().collect())
}

pub fn exists_with_address(
    conn: &mut DbConn,
    tenant: &str,
    channel: &str,
    address_index: &[u8],
) -> Result<bool, StoreError> {
    let found: Option<String> = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
        .filter(contacts::channel.eq(channel))
        .filter(contacts::address_index.eq(address_index))
        .filter(crate::store::backend::plan_with_actual_values())
        .select(contacts::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

pub fn find(
    conn: &mut DbConn,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ContactRow>, StoreError> {
    Ok(contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant.as_str())))
        .filter(contacts::id.eq(id::bind(id)))
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?)
}

/// One page of a tenant's contacts in creation order.
pub fn page(
    conn: &mut DbConn,
    tenant: &TenantId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ContactRow>, StoreError> {
    let mut query = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant.as_str())))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(contacts::id.gt(id::bind(after)));
    }
    Ok(query
        .order(contacts::id.asc())
        .limit(limit)
        .select(ContactRow::as_select())
        .load(conn)?)
}

/// The wrapped data keys of the given contacts (missing ones were erased).
pub fn wrapped_keys(
    conn: &mut DbConn,
    ids: Vec<String>,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    Ok(contact_keys::table
        .filter(contact_keys::contact_id.eq_any(id::bind_all(&ids)))
        .select((contact_keys::contact_id, contact_keys::wrapped_key))
        .load(conn)?)
}

pub fn insert(
    conn: &mut DbConn,
    contact: &ContactRow,
    key: &ContactKeyRow,
) -> Result<(), StoreError> {
    diesel::insert_into(contacts::table)
        .values(contact.clone())
        .execute(conn)?;
    diesel::insert_into(contact_keys::table)
        .values(key.clone())
        .execute(conn)?;
    Ok(())
}

/// Gives a contact a new address (the person changed their number): the blind index it is
/// found under and the sealed address, together.
pub fn change_address(
    conn: &mut DbConn,
    id: &str,
    address_index: &[u8],
    address_sealed: &[u8],
) -> Result<(), StoreError> {
    diesel::update(contacts::table.filter(contacts::id.eq(id::bind(id))))
        .set((
            contacts::address_index.eq(address_index),
            contacts::address_sealed.eq(address_sealed),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves `last_message_at` forward (never back: messages may arrive out of order).
pub fn touch_last_message(conn: &mut DbConn, id: &str, at: i64) -> Result<(), StoreError> {
    diesel::update(
        contacts::table
            .filter(contacts::id.eq(id::bind(id)))
            .filter(contacts::last_message_at.lt(at)),
    )
    .set(contacts::last_message_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Since when a person has the conversation with this contact instead of the channel's bot,
/// if they have it (a bot sends nothing then).
pub fn handed_over_at(
    conn: &mut DbConn,
    tenant: &str,
    contact_id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
        .filter(contacts::id.eq(id::bind(contact_id)))
        .select(contacts::handed_over_at)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// Moves each contact's `last_message_at` forward to the given time (never back). PostgreSQL
/// takes one statement for the whole batch (a round trip per contact dominated batch ingest);
/// SQLite runs in-process, where a cached prepared statement per contact is as cheap.
pub fn touch_last_messages(
    conn: &mut DbConn,
    latest: &std::collections::BTreeMap<String, i64>,
) -> Result<(), StoreError> {
    use crate::store::id::{self, Id};
    use diesel::sql_types::{Array, BigInt};
    if latest.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Postgres(c) => {
            let ids = id::bind_all(&latest.keys().collect::<Vec<_>>());
            let ats: Vec<i64> = latest.values().copied().collect();
            // A group's few contacts (a webhook group) each found by its primary key whatever
            // the plan, the time taken by `array_position` (the join with `unnest` got a
            // generic hash-join plan that read every contact); that costs ids × ids
            // comparisons, so a large group (an import) joins instead, linear in its ids.
            let sql = if ids.len() <= crate::store::backend::PROBED_BY_POSITION {
                "UPDATE contacts c SET last_message_at = $2[array_position($1, c.id)] \
                 WHERE c.id = ANY($1) AND c.last_message_at < $2[array_position($1, c.id)]"
            } else {
                "UPDATE contacts c SET last_message_at = v.at \
                 FROM unnest($1::uuid[], $2::bigint[]) AS v(id, at) \
                 WHERE c.id = ANY($1) AND c.id = v.id AND c.last_message_at < v.at"
            };
            crate::store::backend::kept_prepared(
                diesel::sql_query(sql)
                    .bind::<Array<Id>, _>(ids)
                    .bind::<Array<BigInt>, _>(ats),
            )
            .run(c)?;
        }
        DbConn::Sqlite(_) => {
            for (id, at) in latest {
                touch_last_message(conn, id, *at)?;
            }
        }
    }
    Ok(())
}

/// A contact as the API shows it, decrypted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: String,
    pub channel: String,
    /// Null when the contact's key was erased.
    pub address: Option<String>,
    pub display_name: Option<String>,
    pub first_seen_at: chrono::DateTime<chrono::Utc>,
    pub last_message_at: chrono::DateTime<chrono::Utc>,
    /// True when the contact's data key was destroyed: its data can no longer be read.
    pub erased: bool,
    /// True while processing is restricted (Art. 18 GDPR, § 35(3) BDSG): address, name and
    /// messages are kept but shown only to the DPO's restricted export.
    pub restricted: bool,
    /// When the business relationship ended (set by `…/close`).
    pub relationship_ended_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ContactView {
    /// Opens the row's sealed fields with `keys` (None: the key was erased).
    /// A restricted contact's fields stay sealed here; see [`ContactView::open_restricted`].
    pub fn open(row: &ContactRow, keys: Option<&OwnerKeys>) -> Result<Self> {
        if row.restricted_at.is_some() {
            let mut view = Self::open_restricted(row, None)?;
            view.erased = keys.is_none();
            return Ok(view);
        }
        Self::open_restricted(row, keys)
    }

    /// Opens the fields even of a restricted contact (the DPO's audited export; sending
    /// checks restriction itself).
    pub fn open_restricted(row: &ContactRow, keys: Option<&OwnerKeys>) -> Result<Self> {
        let (address, display_name) = match keys {
            None => (None, None),
            Some(keys) => {
                let address = keys.seal.open_string(
                    &binding(&row.tenant_id, &row.id, "address"),
                    &row.address_sealed,
                )?;
                let display_name = row
                    .display_name_sealed
                    .as_deref()
                    .map(|s| {
                        keys.seal
                            .open_string(&binding(&row.tenant_id, &row.id, "display_name"), s)
                    })
                    .transpose()?;
                (Some(address), display_name)
            }
        };
        Ok(Self {
            id: row.id.clone(),
            channel: row.channel.clone(),
            erased: keys.is_none(),
            restricted: row.restricted_at.is_some(),
            relationship_ended_at: row.closed_at.map(crate::clock::from_micros),
            address,
            display_name,
            first_seen_at: crate::clock::from_micros(row.first_seen_at),
            last_message_at: crate::clock::from_micros(row.last_message_at),
        })
    }
}

/// Keys of the given contacts, unwrapping what is not cached. A contact missing from the
/// result has had its key erased.
pub(crate) fn keys_of(
    keys: &KeyRing,
    conn: &mut DbConn,
    ids: &[String],
) -> Result<HashMap<String, Arc<OwnerKeys>>> {
    let mut found = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match keys.cached(&KeyOwner::Contact(id.clone())) {
            Some(k) => {
                found.insert(id.clone(), k);
            }
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        for (id, wrapped) in wrapped_keys(conn, missing)? {
            let k = keys.open(KeyOwner::Contact(id.clone()), &wrapped)?;
            found.insert(id, k);
        }
    }
    Ok(found)
}

/// Deletes contacts with their keys: what they sealed can no longer be opened, anywhere (backups
/// included, once their keystore copies age out). The one place contact rows are deleted.
pub fn delete(conn: &mut DbConn, tenant: &str, ids: &[String]) -> Result<(), StoreError> {
    diesel::delete(
        contact_keys::table
            .filter(contact_keys::tenant_id.eq(id::bind(tenant)))
            .filter(contact_keys::contact_id.eq_any(id::bind_all(ids)))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    diesel::delete(
        contacts::table
            .filter(contacts::tenant_id.eq(id::bind(tenant)))
            .filter(contacts::id.eq_any(id::bind_all(ids)))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}
