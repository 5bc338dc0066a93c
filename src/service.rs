//! [`Hafen`]: the domain as one value — store, keys and clock — on which the domain modules
//! define their operations (`messages::ingest`, `contacts::read`, …). HTTP handlers and CLI
//! commands call these; neither holds business rules of its own.

use std::collections::HashMap;
use std::sync::Arc;

use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission, Role};
use crate::clock::SharedClock;
use crate::contacts;
use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::sensitive::Sensitive;
use crate::store::Store;
use crate::tenants::{self, NewTenantRow, TenantId, TenantName};

#[derive(Clone)]
pub struct Hafen {
    pub(crate) store: Store,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clock: SharedClock,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    pub(crate) platforms: crate::channels::platform::PlatformClient,
    /// Largest file downloaded from a platform.
    pub(crate) max_media_bytes: usize,
    /// Start due work (media downloads, event deliveries, queued sends) as soon as a write
    /// queued some (off in tests that drive it by hand).
    pub(crate) download_on_arrival: bool,
    /// Broadcast messages per second (0: unpaced).
    pub(crate) broadcast_rate: u32,
    pub(crate) widget_rate: Arc<crate::consent::widget::RateLimiter>,
    pub(crate) widget_limits: crate::consent::widget::WidgetLimits,
    pub(crate) periods: Arc<crate::retention::keys::PeriodIndex>,
    pub(crate) retention: crate::retention::RetentionSettings,
    /// What the configuration switches on, for the TOM annex.
    pub(crate) posture: Arc<crate::records::live::Posture>,
    /// Event deliveries and media downloads, run soon after a write queued some.
    pub(crate) due_work: Arc<crate::jobs::DueWork>,
    /// The install's own wording for letters to data subjects (`templates_dir`).
    pub(crate) letter_wording: Arc<crate::requests::wording::LetterWording>,
    /// Who may issue which tokens, for how long.
    pub(crate) token_policy: crate::auth::lifecycle::TokenPolicy,
    /// Webhook signature failures, audited per channel, source and minute.
    pub(crate) webhook_rejections: Arc<crate::channels::rejections::RejectionTally>,
}

impl std::fmt::Debug for Hafen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hafen")
            .field("store", &self.store)
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

/// A created token: the secret is in `token` and is never shown again.
#[derive(Debug)]
pub struct CreatedToken {
    pub id: String,
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub token: Sensitive<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Hafen {
    pub fn new(store: Store, keys: Arc<KeyRing>, clock: SharedClock) -> Self {
        Self {
            store,
            keys,
            clock,
            metrics: Arc::new(crate::metrics::Metrics::default()),
            platforms: crate::channels::platform::PlatformClient::new(
                Default::default(),
                std::time::Duration::from_secs(30),
            ),
            max_media_bytes: 64 * 1024 * 1024,
            download_on_arrival: true,
            broadcast_rate: 20,
            widget_rate: Arc::default(),
            widget_limits: Default::default(),
            periods: Arc::default(),
            retention: Default::default(),
            posture: Arc::default(),
            due_work: Arc::default(),
            letter_wording: Arc::default(),
            token_policy: Default::default(),
            webhook_rejections: Arc::default(),
        }
    }

    /// The install's rules for issuing tokens.
    pub fn with_token_policy(mut self, policy: crate::auth::lifecycle::TokenPolicy) -> Self {
        self.token_policy = policy;
        self
    }

    /// Letters to data subjects in the install's own wording (`<templates_dir>/letters.toml`).
    pub fn with_letter_wording(mut self, wording: crate::requests::wording::LetterWording) -> Self {
        self.letter_wording = Arc::new(wording);
        self
    }

    /// Facts about the configuration the records report (TLS, recovery keys, backend, …).
    pub fn with_posture(mut self, posture: crate::records::live::Posture) -> Self {
        self.posture = Arc::new(posture);
        self
    }

    /// Uses these platform API endpoints (configuration; tests point them at a fake).
    pub fn with_platforms(
        mut self,
        platforms: crate::channels::platform::PlatformClient,
        max_media_bytes: usize,
    ) -> Self {
        self.platforms = platforms;
        self.max_media_bytes = max_media_bytes;
        self
    }

    /// Paces broadcasts to `per_second` messages (0: as fast as the platform answers).
    pub fn with_broadcast_rate(mut self, per_second: u32) -> Self {
        self.broadcast_rate = per_second;
        self
    }

    /// Whether webhooks start media downloads at once (the scheduler retries either way).
    pub fn with_download_on_arrival(mut self, on: bool) -> Self {
        self.download_on_arrival = on;
        self
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Writes one audit entry on its own (reads of decrypted content, failed checks).
    pub async fn record(&self, event: AuditEvent) -> Result<()> {
        let at = self.clock.now();
        self.store
            .write(move |conn| audit::append(conn, at, event.clone()))
            .await?;
        Ok(())
    }

    pub async fn create_tenant(&self, actor: &Actor, name: TenantName) -> Result<TenantView> {
        actor.authorize_install(Permission::ManageTenants)?;
        let id = TenantId::generate();
        let key = self.keys.generate()?;
        let at = self.clock.now();
        let row = NewTenantRow::new(&id, &name, key.wrapped, at);
        let event = AuditEvent::new(actor, "tenant.create")
            .tenant(&id)
            .object("tenant", id.as_str());
        self.store
            .write(move |conn| {
                tenants::insert(conn, &row)?;
                audit::append(conn, at, event.clone())
            })
            .await?;
        self.keys
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
            .store
            .read(move |conn| tenants::find(conn, &id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(row.name)
    }

    /// NotFound unless the tenant exists.
    pub async fn ensure_tenant(&self, tenant: &TenantId) -> Result<()> {
        self.tenant_keys(tenant).await.map(|_| ())
    }

    /// The tenant's keys (blind index, sealing); NotFound for an unknown tenant.
    pub(crate) async fn tenant_keys(&self, tenant: &TenantId) -> Result<Arc<OwnerKeys>> {
        let owner = KeyOwner::Tenant(tenant.as_str().to_string());
        if let Some(keys) = self.keys.cached(&owner) {
            return Ok(keys);
        }
        let id = tenant.clone();
        let row = self
            .store
            .read(move |conn| tenants::find(conn, &id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(self.keys.open(owner, &row.wrapped_key)?)
    }

    /// Keys of the given contacts, unwrapping what is not cached. A contact missing from the
    /// result has had its key erased.
    pub(crate) fn contact_keys_blocking(
        keys: &KeyRing,
        conn: &mut crate::store::DbConn,
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
            for (id, wrapped) in contacts::wrapped_keys(conn, missing)? {
                let k = keys.open(KeyOwner::Contact(id.clone()), &wrapped)?;
                found.insert(id, k);
            }
        }
        Ok(found)
    }

    /// Checks the audit chain from the first entry to the last.
    pub async fn verify_audit_chain(&self) -> Result<audit::ChainReport> {
        Ok(self.store.read(audit::verify).await?)
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
