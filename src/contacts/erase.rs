//! Cryptographic erase of one contact (NIST SP 800-88 "cryptographic erase"): destroying the
//! contact's only wrapped key makes every field sealed under it unreadable, wherever copies of
//! the ciphertext remain (backups included). The blind index, a keyed hash of the address, is
//! replaced too: it is pseudonymous personal data and would still link new messages to the
//! erased person.

use diesel::prelude::*;
use rand::RngCore;

use super::Contacts;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::crypto::keyring::KeyOwner;
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::{contact_keys, contacts};
use crate::tenants::TenantId;

/// Destroys the contact's key and empties its row, which stays as a tombstone (ledger entries
/// and requests name its id); a random index replaces the blind index, so new messages from the
/// address start a new contact. Returns how many contacts matched (0 or 1).
pub(crate) fn tombstone(
    conn: &mut crate::store::DbConn,
    tenant: &str,
    contact: &str,
) -> std::result::Result<usize, crate::store::StoreError> {
    let mut index = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut index);
    let found = diesel::update(
        contacts::table
            .filter(contacts::tenant_id.eq(id::bind(tenant)))
            .filter(contacts::id.eq(id::bind(contact))),
    )
    .set((
        contacts::address_index.eq(index),
        contacts::address_sealed.eq(Vec::<u8>::new()),
        contacts::display_name_sealed.eq(None::<Vec<u8>>),
        contacts::name_index.eq(None::<Vec<u8>>),
        contacts::restriction_sealed.eq(None::<Vec<u8>>),
    ))
    .execute(conn)?;
    if found > 0 {
        diesel::delete(contact_keys::table.filter(contact_keys::contact_id.eq(id::bind(contact))))
            .execute(conn)?;
    }
    Ok(found)
}

impl Contacts {
    /// Destroys the contact's key and address index. Its messages stay (as unreadable
    /// ciphertext with clear metadata) until retention deletes them.
    pub async fn crypto_erase(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<()> {
        actor.authorize(tenant, Permission::ManageTokens)?;
        let (t, id) = (tenant.clone(), contact_id.to_string());
        let at = self.infra.clock.now();
        let event = AuditEvent::new(actor, "contact.erase")
            .tenant(tenant)
            .object("contact", contact_id);
        let erased = self
            .infra
            .store
            .write(move |conn| {
                if tombstone(conn, t.as_str(), &id)? == 0 {
                    return Ok(false);
                }
                audit::append(conn, at, event.clone())?;
                Ok(true)
            })
            .await?;
        if !erased {
            return Err(Error::NotFound);
        }
        self.infra
            .keys
            .forget(&KeyOwner::Contact(contact_id.to_string()));
        Ok(())
    }
}
