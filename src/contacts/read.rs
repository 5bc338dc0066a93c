//! Reading contacts back, decrypted; audited like every read of personal data.

use super::Contacts;
use super::{ContactView, TABLE};
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::error::{Error, Result};
use crate::page::{Page, PageRequest};
use crate::store::id;
use crate::tenants::TenantId;

impl Contacts {
    /// The unwrapped key of a contact of `tenant`.
    pub(crate) async fn keys_for(
        &self,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<std::sync::Arc<crate::crypto::keyring::OwnerKeys>> {
        let (keys, t, c) = (
            self.infra.keys.clone(),
            tenant.clone(),
            contact_id.to_string(),
        );
        self.infra
            .store
            .read(move |conn| {
                if super::find(conn, &t, &c)?.is_none() {
                    return Ok(Err(Error::NotFound));
                }
                Ok(
                    super::keys_of(&keys, conn, std::slice::from_ref(&c)).and_then(|mut k| {
                        k.remove(&c)
                            .ok_or_else(|| Error::Conflict("this contact was erased".into()))
                    }),
                )
            })
            .await?
    }

    /// A tenant's contacts in creation order, one page at a time.
    pub async fn list(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<ContactView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        self.infra.ensure_tenant(tenant).await?;
        let after = page
            .after
            .as_deref()
            .map(|a| uuid::Uuid::try_parse(a).map(|u| u.hyphenated().to_string()))
            .transpose()
            .map_err(|_| Error::invalid("after", "is not a cursor returned by this API"))?;
        let limit = page.limit as usize;
        let (keys, t) = (self.infra.keys.clone(), tenant.clone());
        let (mut rows, contact_keys) = self
            .infra
            .store
            .read(move |conn| {
                let rows = super::page(conn, &t, after.as_deref(), limit as i64 + 1)?;
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                Ok(crate::contacts::keys_of(&keys, conn, &ids).map(|k| (rows, k)))
            })
            .await??;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| r.id.clone())
        } else {
            None
        };
        self.infra
            .record(
                AuditEvent::new(actor, "contacts.list")
                    .tenant(tenant)
                    .detail(format!("count={}", rows.len())),
            )
            .await?;
        let items = rows
            .iter()
            .map(|row| ContactView::open(row, contact_keys.get(&row.id).map(|k| k.as_ref())))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor })
    }

    /// One contact, decrypted.
    pub async fn read(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<ContactView> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let (keys, t, id_owned) = (self.infra.keys.clone(), tenant.clone(), id.to_string());
        let (row, contact_keys) = self
            .infra
            .store
            .read(move |conn| {
                let Some(row) = super::find(conn, &t, &id_owned)? else {
                    return Ok(Err(Error::NotFound));
                };
                Ok(
                    crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&row.id))
                        .map(|k| (row, k)),
                )
            })
            .await??;
        self.infra
            .record(
                AuditEvent::new(actor, "contact.read")
                    .tenant(tenant)
                    .object(TABLE, id),
            )
            .await?;
        ContactView::open(&row, contact_keys.get(&row.id).map(|k| k.as_ref()))
    }

    /// Several contacts by id, decrypted (ids of other tenants or unknown ones are left out);
    /// one audit entry for the lot, e.g. the people behind a list of requests.
    pub async fn read_many(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        ids: Vec<String>,
    ) -> Result<Vec<ContactView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, t) = (self.infra.keys.clone(), tenant.clone());
        let (rows, contact_keys) = self
            .infra
            .store
            .read(move |conn| {
                use crate::store::schema::contacts as c;
                use diesel::prelude::*;
                let rows: Vec<super::ContactRow> = c::table
                    .filter(c::tenant_id.eq(id::bind(t.as_str())))
                    .filter(c::id.eq_any(id::bind_all(&ids)))
                    .select(super::ContactRow::as_select())
                    .load(conn)?;
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                Ok(crate::contacts::keys_of(&keys, conn, &ids).map(|k| (rows, k)))
            })
            .await??;
        self.infra
            .record(
                AuditEvent::new(actor, "contacts.list")
                    .tenant(tenant)
                    .detail(format!("count={} by=id", rows.len())),
            )
            .await?;
        rows.iter()
            .map(|row| ContactView::open(row, contact_keys.get(&row.id).map(|k| k.as_ref())))
            .collect()
    }
}
