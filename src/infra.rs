//! [`Infra`]: what every domain service stands on — the store, the key ring, the clock and the
//! metrics — and the few operations on them that every
//! domain needs: a tenant's keys, whether a tenant exists, one audit entry on its own, and the
//! lease on work that waits for its time.
//!
//! Nothing here knows a domain rule. The services (`accounts::Accounts`, `retention::Retention`,
//! …) each hold a clone (a handle: one reference count) and are put together once, in
//! `service::Hafen`.

use std::sync::Arc;

use crate::audit::{self, AuditEvent};
use crate::clock::SharedClock;
use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::KeyRing;
use crate::egress;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tenants::{self, TenantId};

/// A handle: cloning it shares the parts, so each service holding one stays small (services are
/// held by value inside other services and inside futures).
#[derive(Clone)]
pub struct Infra(Arc<Parts>);

impl std::ops::Deref for Infra {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

#[derive(Clone)]
pub struct Parts {
    pub(crate) store: Store,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clock: SharedClock,
    pub(crate) metrics: Arc<Metrics>,
    /// Every request Hafen makes goes through this one client pair (egress policy, timeouts).
    pub(crate) outbound: egress::Client,
    /// Due work (sends, downloads, event deliveries) asked for by a write.
    pub(crate) due: Arc<DueSignal>,
}

/// A write queued work that should run soon rather than at the next scheduled round. The
/// domain only asks; the serving process runs it (`jobs::run_when_asked`), and whatever fails
/// is retried by the scheduler.
#[derive(Debug)]
pub struct DueSignal {
    pub(crate) asked: tokio::sync::Notify,
    /// One run of the due work at a time in this process.
    pub(crate) running: tokio::sync::Mutex<()>,
    /// Off: asks are ignored and only the scheduler runs the due work (tests that drive it
    /// by hand, installs without retries).
    on: std::sync::atomic::AtomicBool,
}

impl Default for DueSignal {
    fn default() -> Self {
        Self {
            asked: Default::default(),
            running: Default::default(),
            on: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

impl DueSignal {
    /// Asks for a run soon; many asks before it starts are one run.
    pub fn ask(&self) {
        if self.on.load(std::sync::atomic::Ordering::Relaxed) {
            self.asked.notify_one();
        }
    }

    /// Whether writes start the due work at once (`retry_interval_secs > 0`).
    pub fn set_on(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Infra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Infra")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// How a due row is claimed: moves its `next_attempt_at` from at most `now` to `lease`, and
/// says how many rows moved (1 for the one caller that gets it, 0 for everyone else).
pub(crate) type Claim<R> =
    fn(&mut crate::store::DbConn, &R, i64, i64) -> Result<usize, crate::store::StoreError>;

impl Infra {
    pub fn new(
        store: Store,
        keys: Arc<KeyRing>,
        clock: SharedClock,
        outbound: egress::Client,
    ) -> Self {
        Self(Arc::new(Parts {
            store,
            keys,
            clock,
            metrics: Arc::new(Metrics::default()),
            outbound,
            due: Arc::default(),
        }))
    }

    /// Writes one audit entry on its own (reads of decrypted content, failed checks).
    pub async fn record(&self, event: AuditEvent) -> Result<()> {
        let at = self.clock.now();
        self.store
            .write(move |conn| audit::append(conn, at, event.clone()))
            .await?;
        Ok(())
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

    /// The one lease of work that waits for its time (sends, media downloads, event
    /// deliveries): a due row is claimed in a write just before it runs, so several instances —
    /// or a slow attempt and the next round — never run the same row at once, and a crashed
    /// attempt is taken up again when its lease ends. True when this caller got the row.
    pub(crate) async fn claim_for_attempt<R: Clone + Send + 'static>(
        &self,
        row: &R,
        (due_at, lease): (i64, chrono::Duration),
        claim: Claim<R>,
    ) -> Result<bool> {
        let until = crate::clock::to_micros(self.clock.now() + lease);
        let candidate = row.clone();
        let claimed = self
            .store
            .write(move |conn| claim(conn, &candidate, due_at, until))
            .await?;
        Ok(claimed == 1)
    }
}
