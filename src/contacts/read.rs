//! Reading contacts back, decrypted; audited like every read of personal data.

use super::{ContactView, TABLE};
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::error::{Error, Result};
use crate::service::{Hafen, Page, PageRequest};
use crate::tenants::TenantId;

impl Hafen {
    /// A tenant's contacts in creation order, one page at a time.
    pub async fn list_contacts(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<ContactView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        self.ensure_tenant(tenant).await?;
        let after = page
            .after
            .as_deref()
            .map(|a| uuid::Uuid::try_parse(a).map(|u| u.hyphenated().to_string()))
            .transpose()
            .map_err(|_| Error::invalid("after", "is not a cursor returned by this API"))?;
        let limit = page.limit as usize;
        let (keys, t) = (self.keys.clone(), tenant.clone());
        let (mut rows, contact_keys) = self
            .store
            .read(move |conn| {
                let rows = super::page(conn, &t, after.as_deref(), limit as i64 + 1)?;
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                Ok(Hafen::contact_keys_blocking(&keys, conn, &ids).map(|k| (rows, k)))
            })
            .await??;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| r.id.clone())
        } else {
            None
        };
        self.record(
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
    pub async fn read_contact(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<ContactView> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let (keys, t, id_owned) = (self.keys.clone(), tenant.clone(), id.to_string());
        let (row, contact_keys) = self
            .store
            .read(move |conn| {
                let Some(row) = super::find(conn, &t, &id_owned)? else {
                    return Ok(Err(Error::NotFound));
                };
                Ok(
                    Hafen::contact_keys_blocking(&keys, conn, std::slice::from_ref(&row.id))
                        .map(|k| (row, k)),
                )
            })
            .await??;
        self.record(
            AuditEvent::new(actor, "contact.read")
                .tenant(tenant)
                .object(TABLE, id),
        )
        .await?;
        ContactView::open(&row, contact_keys.get(&row.id).map(|k| k.as_ref()))
    }

    /// Several contacts by id, decrypted (ids of other tenants or unknown ones are left out);
    /// one audit entry for the lot, e.g. the people behind a list of requests.
    pub async fn read_contacts(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        ids: Vec<String>,
    ) -> Result<Vec<ContactView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, t) = (self.keys.clone(), tenant.clone());
        let (rows, contact_keys) = self
            .store
            .read(move |conn| {
                use crate::store::schema::contacts as c;
                use diesel::prelude::*;
                let rows: Vec<super::ContactRow> = c::table
                    .filter(c::tenant_id.eq(t.as_str()))
                    .filter(c::id.eq_any(&ids))
                    .select(super::ContactRow::as_select())
                    .load(conn)?;
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                Ok(Hafen::contact_keys_blocking(&keys, conn, &ids).map(|k| (rows, k)))
            })
            .await??;
        self.record(
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
