//! [`Hafen`]: the domain as one value — store, keys and clock — on which the domain modules
//! define their operations (`messages::ingest`, `contacts::read`, …). HTTP handlers and CLI
//! commands call these; neither holds business rules of its own.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::audit::Audit;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::channels::Channels;
use crate::clock::SharedClock;
use crate::consent::Consent;
use crate::contacts::Contacts;
use crate::crypto::keyring::KeyOwner;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::infra::Infra;
use crate::messages::Messages;
use crate::records::Records;
use crate::requests::Requests;
use crate::retention::keys::PeriodKeys;
use crate::retention::{Retention, RetentionSettings};
use crate::store::Store;
use crate::tenants::{self, NewTenantRow, TenantId, TenantName};

#[derive(Clone)]
pub struct Hafen {
    pub(crate) infra: Infra,
    pub accounts: Accounts,
    pub audit: Audit,
    pub channels: Channels,
    pub consent: Consent,
    pub contacts: Contacts,
    pub events: Events,
    pub messages: Messages,
    pub records: Records,
    pub requests: Requests,
    pub retention: Retention,
}

impl std::fmt::Debug for Hafen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hafen")
            .field("infra", &self.infra)
            .finish_non_exhaustive()
    }
}

/// A created tenant, as the API returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Hafen {
    /// Puts the services together on `infra`, each with its defaults; the `with_…` methods
    /// below set what the configuration says.
    pub fn new(infra: Infra) -> Self {
        let periods = PeriodKeys::new(infra.clone());
        let contacts = Contacts::new(infra.clone());
        let messages = Messages::new(infra.clone(), periods.clone());
        let channels = Channels::new(infra.clone(), periods.clone());
        let records = Records::new(infra.clone());
        let consent = Consent::new(
            infra.clone(),
            channels.clone(),
            contacts.clone(),
            messages.clone(),
        );
        let requests = Requests::new(
            infra.clone(),
            consent.clone(),
            contacts.clone(),
            messages.clone(),
            records.clone(),
            periods.clone(),
        );
        let retention = Retention::new(infra.clone(), periods, requests.clone());
        Self {
            accounts: Accounts::new(infra.clone(), Default::default()),
            audit: Audit::new(infra.clone()),
            channels,
            consent,
            contacts,
            events: Events::new(infra.clone()),
            messages,
            records,
            requests,
            retention,
            infra,
        }
    }

    /// The install's retention settings (approval, floor, batch size, audit log years).
    pub fn with_retention(mut self, settings: RetentionSettings) -> Self {
        self.retention.settings = settings;
        self
    }

    /// The install's rules for issuing tokens.
    pub fn with_token_policy(mut self, policy: crate::accounts::TokenPolicy) -> Self {
        self.accounts.token_policy = policy;
        self
    }

    /// Letters to data subjects in the install's own wording (`<templates_dir>/letters.toml`).
    pub fn with_letter_wording(mut self, wording: crate::requests::wording::LetterWording) -> Self {
        self.requests.letter_wording = Arc::new(wording);
        self
    }

    /// Facts about the configuration the records report (TLS, recovery keys, backend, …).
    pub fn with_posture(mut self, posture: crate::records::live::Posture) -> Self {
        self.records.posture = Arc::new(posture);
        self
    }

    /// The largest file downloaded from a platform.
    pub fn with_max_media_bytes(mut self, max_media_bytes: usize) -> Self {
        self.channels.max_media_bytes = max_media_bytes;
        self
    }

    /// Paces broadcasts to `per_second` messages (0: as fast as the platform answers).
    pub fn with_broadcast_rate(mut self, per_second: u32) -> Self {
        self.consent.broadcast_rate = per_second;
        self
    }

    /// Whether webhooks start media downloads at once (the scheduler retries either way).
    pub fn with_download_on_arrival(self, on: bool) -> Self {
        self.infra.due.set_on(on);
        self
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.infra.metrics
    }

    pub fn store(&self) -> &Store {
        &self.infra.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.infra.clock
    }

    pub async fn create_tenant(&self, actor: &Actor, name: TenantName) -> Result<TenantView> {
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
                tenants::insert(conn, &row)?;
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

    /// Creates a token. Install-wide roles (admin) take no tenant; all others need one, and a
    /// tenant admin can only create tokens of non-admin roles within its own tenant.
    /// The tenant's (company) name, for documents.
    pub async fn tenant_name(&self, tenant: &TenantId) -> Result<String> {
        let id = tenant.clone();
        let row = self
            .infra
            .store
            .read(move |conn| tenants::find(conn, &id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(row.name)
    }
}

/// Paging through a list: at most `limit` items after an opaque cursor.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    pub fn new(after: Option<String>, limit: Option<u32>) -> Result<Self> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        Ok(Self { after, limit })
    }
}

/// One page of results; `next_cursor` fetches the next page, null at the end.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
