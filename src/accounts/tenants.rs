//! The tenants service: creating a tenant (with its own data key), naming it for documents.

use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::crypto::keyring::KeyOwner;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::tenants::{find, insert, NewTenantRow, TenantId, TenantName};

/// A created tenant, as the API returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The tenants service: creating tenants, naming them.
#[derive(Debug, Clone)]
pub struct Tenants {
    pub(crate) infra: Infra,
}

impl Tenants {
    pub fn new(infra: Infra) -> Self {
        Self { infra }
    }

    /// Creates a tenant with its own data key.
    pub async fn create(&self, actor: &Actor, name: TenantName) -> Result<TenantView> {
        actor.authorize_install(Permission::ManageTenants)?;
        let id = TenantId::generate();
        let key = self.infra.keys.generate()?;
        let at = self.infra.clock.now();
        let row = NewTenantRow::new(&id, &name, key.wrapped, at);
        let event = AuditEvent::new(actor, "tenant.create")
            .tenant(&id)
            .object("tenant", id.as_str());
        self.infra
            .store
            .write(move |conn| {
                insert(conn, &row)?;
                audit::append(conn, at, event.clone())
            })
            .await?;
        self.infra
            .keys
            .remember(KeyOwner::Tenant(id.as_str().to_string()), key.keys);
        Ok(TenantView {
            id: id.as_str().to_string(),
            name: name.as_str().to_string(),
            created_at: at,
        })
    }

    /// The tenant's (company) name, for documents.
    pub async fn name(&self, tenant: &TenantId) -> Result<String> {
        let id = tenant.clone();
        let row = self
            .infra
            .store
            .read(move |conn| find(conn, &id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(row.name)
    }
}
