//! Finding a person the way people know them: by phone number, by the platform's id (a
//! Messenger page-scoped id, a Telegram chat id), by name, or by Hafen's contact id. Nobody
//! asking "what do you hold on this person?" knows a UUID.
//!
//! Addresses and names are found through blind indexes (keyed hashes per tenant), so a search
//! neither decrypts every contact nor stores anything searchable in the clear. A name matches
//! when it is the same after case and spacing are evened out: "anna  MEIER" finds "Anna Meier",
//! "Meier" alone does not (a prefix search would need the name in a form that leaks it).

use diesel::prelude::*;

use super::Contacts;
use super::{ContactRow, ContactView};
use crate::address::{Address, ChannelName};
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::crypto::keyring::OwnerKeys;
use crate::error::{Error, Result};
use crate::store::id;
use crate::tenants::TenantId;

/// Most people a search lists; more means the clue is too vague (a common name).
pub const MAX_FOUND: i64 = 50;

/// The blind index under which a contact's address is found.
pub(crate) fn address_index(
    tenant_keys: &OwnerKeys,
    channel: &ChannelName,
    address: &Address,
) -> Vec<u8> {
    tenant_keys.blind.index(&[
        b"address",
        channel.as_str().as_bytes(),
        address.expose().as_bytes(),
    ])
}

/// The blind index of a display name: lowercase, inner spacing collapsed.
pub fn name_index(tenant_keys: &OwnerKeys, name: &str) -> Vec<u8> {
    let normal = name
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ");
    tenant_keys.blind.index(&[b"name", normal.as_bytes()])
}

/// What a search clue can be, decided without touching the database.
#[derive(Debug, PartialEq)]
enum Clue {
    /// Hafen's own contact id.
    Id(String),
    /// A phone number, platform id or name: each reading the clue allows.
    Words(String),
}

impl Clue {
    fn parse(query: &str) -> Result<Self> {
        let query = query.trim();
        if query.is_empty() {
            return Err(Error::invalid(
                "query",
                "is empty: give a phone number, chat id, name or contact id",
            ));
        }
        if query.chars().count() > 256 || query.chars().any(char::is_control) {
            return Err(Error::invalid(
                "query",
                "must be at most 256 characters without control characters",
            ));
        }
        Ok(match uuid::Uuid::parse_str(query) {
            Ok(id) => Self::Id(id.hyphenated().to_string()),
            Err(_) => Self::Words(query.to_string()),
        })
    }
}

/// Every index a clue could be stored under in this tenant: an address on each platform
/// whose address rules the clue fits, and a name when it has a letter in it.
fn indexes(keys: &OwnerKeys, platforms: &[String], clue: &str) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let addresses = platforms
        .iter()
        .filter_map(|p| {
            let channel = ChannelName::parse("channel", p).ok()?;
            let address = Address::parse("query", &channel, clue).ok()?;
            Some(address_index(keys, &channel, &address))
        })
        .collect();
    let name = clue
        .chars()
        .any(char::is_alphabetic)
        .then(|| name_index(keys, clue));
    (addresses, name)
}

impl Contacts {
    /// The tenant's contacts that match `query` (phone number, platform id, name or contact
    /// id), newest first, at most [`MAX_FOUND`]. Audited with the number found, never the clue.
    pub async fn find(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        query: &str,
    ) -> Result<Vec<ContactView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let clue = Clue::parse(query)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let t = tenant.clone();
        let rows: Vec<ContactRow> = self
            .infra
            .store
            .read(move |conn| {
                use crate::store::schema::{channels as ch, contacts as c};
                let words = match clue {
                    Clue::Id(id) => return Ok(super::find(conn, &t, &id)?.into_iter().collect()),
                    Clue::Words(words) => words,
                };
                let mut platforms: Vec<String> = ch::table
                    .filter(ch::tenant_id.eq(id::bind(t.as_str())))
                    .select(ch::platform)
                    .distinct()
                    .load(conn)?;
                // Every platform, besides the channels the tenant has configured.
                platforms.extend(
                    crate::address::Platform::ALL
                        .iter()
                        .map(|p| p.as_str().to_string()),
                );
                platforms.sort();
                platforms.dedup();
                let (addresses, name) = indexes(&keys, &platforms, &words);
                let by_address = c::address_index.eq_any(addresses);
                let rows = match name {
                    Some(name) => c::table
                        .filter(c::tenant_id.eq(id::bind(t.as_str())))
                        .filter(by_address.or(c::name_index.eq(name)))
                        .order(c::last_message_at.desc())
                        .limit(MAX_FOUND)
                        .select(ContactRow::as_select())
                        .load(conn)?,
                    None => c::table
                        .filter(c::tenant_id.eq(id::bind(t.as_str())))
                        .filter(by_address)
                        .order(c::last_message_at.desc())
                        .limit(MAX_FOUND)
                        .select(ContactRow::as_select())
                        .load(conn)?,
                };
                Ok(rows)
            })
            .await?;
        self.infra
            .record(
                AuditEvent::new(actor, "contact.lookup")
                    .tenant(tenant)
                    .detail(format!("found={}", rows.len())),
            )
            .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let keys = self.keys_for(tenant, &row.id).await.ok();
            found.push(ContactView::open(row, keys.as_deref())?);
        }
        Ok(found)
    }

    /// Gives contacts stored before names were indexed their name index, a batch at a time;
    /// returns how many were indexed (0 when none is left). Runs once after start.
    pub async fn index_names(&self, batch: i64) -> Result<usize> {
        let rows: Vec<ContactRow> = self
            .infra
            .store
            .read(move |conn| {
                use crate::store::schema::contacts as c;
                Ok(c::table
                    .filter(c::name_index.is_null())
                    .filter(c::display_name_sealed.is_not_null())
                    .order(c::id.asc())
                    .limit(batch)
                    .select(ContactRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut indexed = Vec::with_capacity(rows.len());
        for row in &rows {
            let tenant = TenantId::parse(&row.tenant_id)?;
            let tenant_keys = self.infra.tenant_keys(&tenant).await?;
            let name = match self.keys_for(&tenant, &row.id).await {
                Ok(keys) => ContactView::open_restricted(row, Some(&keys))?.display_name,
                // Erased meanwhile: nothing to find it by.
                Err(_) => None,
            };
            // A contact whose name cannot be read gets an index nothing matches, so the batch
            // does not pick it again.
            let index = match name {
                Some(name) => name_index(&tenant_keys, &name),
                None => tenant_keys.blind.index(&[b"no-name", row.id.as_bytes()]),
            };
            indexed.push((row.id.clone(), index));
        }
        let n = indexed.len();
        if n > 0 {
            self.infra
                .store
                .write(move |conn| {
                    use crate::store::schema::contacts as c;
                    for (id, index) in &indexed {
                        diesel::update(c::table.filter(c::id.eq(id::bind(id))))
                            .set(c::name_index.eq(index))
                            .execute(conn)?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_an_id_and_anything_else_words() {
        assert_eq!(
            Clue::parse(" 0193C2E4-7B1A-7C3D-8E4F-0123456789AB ").unwrap(),
            Clue::Id("0193c2e4-7b1a-7c3d-8e4f-0123456789ab".into())
        );
        assert_eq!(
            Clue::parse("+49 151 2345").unwrap(),
            Clue::Words("+49 151 2345".into())
        );
        assert!(Clue::parse("   ").is_err());
        assert!(Clue::parse(&"x".repeat(257)).is_err());
        assert!(Clue::parse("a\u{7}b").is_err());
    }
}
