//! Period keys: the keystore side of crypto-shredding.
//!
//! Every message (its content, attachments, delivery statuses and event payloads) is sealed
//! under its contact's key *bound to* a period key — one per tenant × scope (the channel) ×
//! month of the item's time. A period key is destroyed once its month is over and no stored
//! ciphertext refers to it any more, i.e. once retention has deleted everything under it.
//! From then on, a restored copy of an older database (with the current keystore) holds
//! only ciphertext that nothing can open: reads report it as shredded.
//!
//! The keys live in `period_keys` beside `contact_keys`: the keystore tables that backups
//! write apart from the data (see docs/retention.md).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;

use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::store::id;
use crate::store::schema::{
    attachments, event_deliveries, message_statuses, messages, period_keys,
};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// The scope of period keys for outbound event deliveries (not tied to a channel).
pub const EVENTS_SCOPE: &str = "webhook_logs";
/// Data may still arrive for a month after it ended (late webhooks, imports): its key
/// outlives the month by this much before it may be destroyed.
const GRACE_DAYS: i64 = 7;

/// Which period key an item belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeriodSlot {
    pub scope: String,
    /// `YYYY-MM`, UTC.
    pub period: String,
}

impl PeriodSlot {
    pub fn new(scope: &str, at_micros: i64) -> Self {
        let at = from_micros(at_micros);
        Self {
            scope: scope.to_string(),
            period: format!("{:04}-{:02}", at.year(), at.month()),
        }
    }
}

/// A live period key.
#[derive(Debug, Clone)]
pub struct PeriodKey {
    pub id: String,
    pub keys: Arc<OwnerKeys>,
}

/// Ids of live period keys by tenant and slot: saves the lookup on every ingest.
#[derive(Debug, Default)]
pub struct PeriodIndex(
    Mutex<HashMap<(String, PeriodSlot), String>>,
    /// One creation at a time: a burst of first messages in a new month creates each key
    /// once instead of racing on the unique index.
    tokio::sync::Mutex<()>,
);

impl PeriodIndex {
    fn get(&self, tenant: &str, slot: &PeriodSlot) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(tenant.to_string(), slot.clone())).cloned()
    }

    fn put(&self, tenant: &str, slot: PeriodSlot, id: String) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // The map grows by one entry per tenant, channel and month; forget it all now and
        // then rather than track ages.
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert((tenant.to_string(), slot), id);
    }

    /// Forgets destroyed keys (or everything, when a write found one already destroyed).
    pub fn forget(&self, ids: &[String]) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if ids.is_empty() {
            map.clear();
        } else {
            map.retain(|_, id| !ids.contains(id));
        }
    }
}

/// The period keys service: finds or creates the live key of a tenant's period (ingest, sends,
/// event payloads) and remembers which are live. Retention destroys them (`retention::run`).
#[derive(Debug, Clone)]
pub struct PeriodKeys {
    pub(crate) infra: Infra,
    index: Arc<PeriodIndex>,
}

impl PeriodKeys {
    pub fn new(infra: Infra) -> Self {
        Self {
            infra,
            index: Arc::default(),
        }
    }

    /// Forgets destroyed keys (or everything, when a write found one already destroyed).
    pub fn forget(&self, ids: &[String]) {
        self.index.forget(ids)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = period_keys)]
struct PeriodKeyRow {
    id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    tenant_id: String,
    scope: String,
    period: String,
    wrapped_key: Option<Vec<u8>>,
    created_at: i64,
    destroyed_at: Option<i64>,
}

impl PeriodKeys {
    /// The live period keys for `slots`, creating the missing ones.
    pub(crate) async fn live_keys(
        &self,
        tenant: &TenantId,
        slots: BTreeSet<PeriodSlot>,
    ) -> Result<HashMap<PeriodSlot, PeriodKey>> {
        let t = tenant.as_str().to_string();
        let mut found = HashMap::with_capacity(slots.len());
        let mut missing = Vec::new();
        for slot in slots {
            let cached = self
                .index
                .get(&t, &slot)
                .and_then(|id| Some((id.clone(), self.infra.keys.cached(&KeyOwner::Period(id))?)));
            match cached {
                Some((id, keys)) => {
                    found.insert(slot, PeriodKey { id, keys });
                }
                None => missing.push(slot),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let _creating = self.index.1.lock().await;
        // Twice: another instance may create the same key between our read and our insert.
        for _ in 0..2 {
            let (tenant_id, wanted) = (t.clone(), missing.clone());
            let stored = self
                .infra
                .store
                .read(move |conn| live_rows(conn, &tenant_id, &wanted))
                .await?;
            for row in stored {
                let Some(wrapped) = row.wrapped_key else {
                    continue;
                };
                let keys = self
                    .infra
                    .keys
                    .open(KeyOwner::Period(row.id.clone()), &wrapped)?;
                let slot = PeriodSlot {
                    scope: row.scope,
                    period: row.period,
                };
                self.index.put(&t, slot.clone(), row.id.clone());
                found.insert(slot, PeriodKey { id: row.id, keys });
            }
            missing.retain(|slot| !found.contains_key(slot));
            if missing.is_empty() {
                return Ok(found);
            }
            let mut rows = Vec::with_capacity(missing.len());
            let mut created = Vec::with_capacity(missing.len());
            let now = to_micros(self.infra.clock.now());
            for slot in &missing {
                let key = self.infra.keys.generate()?;
                let id = uuid::Uuid::now_v7().hyphenated().to_string();
                rows.push(PeriodKeyRow {
                    id: id.clone(),
                    tenant_id: t.clone(),
                    scope: slot.scope.clone(),
                    period: slot.period.clone(),
                    wrapped_key: Some(key.wrapped),
                    created_at: now,
                    destroyed_at: None,
                });
                created.push((slot.clone(), PeriodKey { id, keys: key.keys }));
            }
            let inserted = self
                .infra
                .store
                .write(move |conn| {
                    for row in &rows {
                        diesel::insert_into(period_keys::table)
                            .values(row.clone())
                            .execute(conn)?;
                    }
                    Ok(())
                })
                .await;
            match inserted {
                Ok(()) => {
                    for (slot, key) in created {
                        self.infra
                            .keys
                            .remember(KeyOwner::Period(key.id.clone()), key.keys.clone());
                        self.index.put(&t, slot.clone(), key.id.clone());
                        found.insert(slot, key);
                    }
                    return Ok(found);
                }
                Err(e) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(
            "period keys conflicted with concurrent writes; retry".into(),
        ))
    }
}

fn live_rows(
    conn: &mut DbConn,
    tenant: &str,
    slots: &[PeriodSlot],
) -> Result<Vec<PeriodKeyRow>, StoreError> {
    let periods: BTreeSet<&str> = slots.iter().map(|s| s.period.as_str()).collect();
    let rows: Vec<PeriodKeyRow> = period_keys::table
        .filter(period_keys::tenant_id.eq(id::bind(tenant)))
        .filter(period_keys::destroyed_at.is_null())
        .filter(period_keys::period.eq_any(periods))
        .select(PeriodKeyRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            slots
                .iter()
                .any(|s| s.scope == r.scope && s.period == r.period)
        })
        .collect())
}

/// Inside the write that stores data sealed under `ids`: fails with `Retry` when one of them
/// was destroyed since it was looked up, so the caller seals again under a fresh key.
pub fn ensure_live(conn: &mut DbConn, ids: &BTreeSet<String>) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let live_keys = period_keys::table.filter(period_keys::destroyed_at.is_null());
    // Most writes name one period key: a statement SQLite keeps prepared.
    let live: i64 = match ids.first() {
        Some(only) if ids.len() == 1 => live_keys
            .filter(period_keys::id.eq(only))
            .count()
            .get_result(conn)?,
        _ => live_keys
            .filter(period_keys::id.eq_any(ids))
            .count()
            .get_result(conn)?,
    };
    if live as usize == ids.len() {
        Ok(())
    } else {
        Err(StoreError::Retry)
    }
}

impl PeriodKeys {
    /// The live period key of `scope` for the month of `at`.
    pub(crate) async fn live_key(
        &self,
        tenant: &TenantId,
        scope: &str,
        at: i64,
    ) -> Result<PeriodKey> {
        let slot = PeriodSlot::new(scope, at);
        self.live_keys(tenant, BTreeSet::from([slot.clone()]))
            .await?
            .remove(&slot)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("period key not created")))
    }

    /// The tenant's keys bound to the live period key of `scope` for the month of `at`, and
    /// that key's id (statuses, event payloads).
    pub(crate) async fn tenant_keys_within(
        &self,
        tenant: &TenantId,
        scope: &str,
        at: i64,
    ) -> Result<(String, Arc<OwnerKeys>)> {
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let slot = PeriodSlot::new(scope, at);
        let mut keys = self
            .live_keys(tenant, BTreeSet::from([slot.clone()]))
            .await?;
        let period = keys
            .remove(&slot)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("period key not created")))?;
        Ok((period.id, Arc::new(tenant_keys.within_period(&period.keys))))
    }
}

/// `base` bound to the period key `period` (None: data sealed before period keys existed,
/// under `base` alone). Err(Shredded) when that period key was destroyed.
pub fn bound_blocking(
    keyring: &KeyRing,
    conn: &mut DbConn,
    base: &Arc<OwnerKeys>,
    period: Option<&str>,
) -> Result<Result<Arc<OwnerKeys>, Shredded>> {
    let Some(id) = period else {
        return Ok(Ok(base.clone()));
    };
    let states = open_blocking(keyring, conn, &BTreeSet::from([id.to_string()]))?;
    Ok(match states.get(id) {
        Some(PeriodState::Live(keys)) => Ok(Arc::new(base.within_period(keys))),
        _ => Err(Shredded),
    })
}

/// The data's period key was destroyed by retention: it can never be read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shredded;

/// What opening a period key found.
#[derive(Debug, Clone)]
pub enum PeriodState {
    Live(Arc<OwnerKeys>),
    /// Destroyed by retention: whatever was sealed under it is gone for good.
    Shredded,
}

/// Opens the given period keys; unknown ids count as shredded (a restored database may name
/// keys this keystore never held, or no longer holds). Whether a key still lives is always
/// read from the database, even when this process holds it in its cache: another instance
/// may have destroyed it, and retention destroys the keys of whole expired months before it
/// deletes their rows (`retention::shred`).
pub fn open_blocking(
    keyring: &KeyRing,
    conn: &mut DbConn,
    ids: &BTreeSet<String>,
) -> Result<HashMap<String, PeriodState>, crate::error::Error> {
    let mut states = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(states);
    }
    let rows: Vec<(String, Option<Vec<u8>>)> = period_keys::table
        .filter(period_keys::id.eq_any(ids))
        .select((period_keys::id, period_keys::wrapped_key))
        .load(conn)
        .map_err(StoreError::from)?;
    for (id, wrapped) in rows {
        let owner = KeyOwner::Period(id.clone());
        let Some(wrapped) = wrapped else {
            keyring.forget(&owner);
            continue;
        };
        let keys = match keyring.cached(&owner) {
            Some(keys) => keys,
            None => keyring.open(owner, &wrapped)?,
        };
        states.insert(id, PeriodState::Live(keys));
    }
    for id in ids {
        states.entry(id.clone()).or_insert(PeriodState::Shredded);
    }
    Ok(states)
}

/// The tenant's live period keys: (id, scope, period), oldest first.
pub fn live_of_tenant(
    conn: &mut DbConn,
    tenant: &str,
) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(period_keys::table
        .filter(period_keys::tenant_id.eq(id::bind(tenant)))
        .filter(period_keys::destroyed_at.is_null())
        .select((period_keys::id, period_keys::scope, period_keys::period))
        .order((period_keys::period, period_keys::id))
        .load(conn)?)
}

/// Inside a write: destroys the given period keys (those still live); returns the ids
/// destroyed. What was sealed under them can never be read again, in any copy.
pub fn destroy(
    conn: &mut DbConn,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut destroyed = Vec::with_capacity(ids.len());
    for id in ids {
        let n = diesel::update(
            period_keys::table
                .filter(period_keys::id.eq(id))
                .filter(period_keys::destroyed_at.is_null()),
        )
        .set((
            period_keys::wrapped_key.eq(None::<Vec<u8>>),
            period_keys::destroyed_at.eq(Some(to_micros(now))),
        ))
        .execute(conn)?;
        if n == 1 {
            destroyed.push(id.clone());
        }
    }
    Ok(destroyed)
}

/// Inside a write: destroys every period key of `tenant` whose month ended more than the
/// grace period ago and under which nothing is stored any more. Returns the destroyed ids.
pub fn destroy_unused(
    conn: &mut DbConn,
    tenant: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut unused = Vec::new();
    for (id, _, period) in live_of_tenant(conn, tenant)? {
        if month_closed(&period, now) && !in_use(conn, &id)? {
            unused.push(id);
        }
    }
    destroy(conn, &unused, now)
}

fn in_use(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    let used = diesel::select(exists(
        messages::table.filter(messages::period_key_id.eq(id)),
    ))
    .get_result::<bool>(conn)?
        || diesel::select(exists(
            attachments::table.filter(attachments::period_key_id.eq(id)),
        ))
        .get_result::<bool>(conn)?
        || diesel::select(exists(
            message_statuses::table.filter(message_statuses::period_key_id.eq(id)),
        ))
        .get_result::<bool>(conn)?
        || diesel::select(exists(
            event_deliveries::table.filter(event_deliveries::period_key_id.eq(id)),
        ))
        .get_result::<bool>(conn)?;
    Ok(used)
}

/// Whether the month `YYYY-MM` ended more than the grace period before `now`: from then on no
/// new data is sealed under its key (late data after that gets a key of its own).
pub fn month_closed(period: &str, now: DateTime<Utc>) -> bool {
    month_bounds(period).is_some_and(|(_, end)| end + chrono::Duration::days(GRACE_DAYS) <= now)
}

/// The month `YYYY-MM` (UTC) as [start, end); None for anything else.
pub fn month_bounds(period: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (year, month) = period.split_once('-')?;
    let (year, month) = (year.parse::<i32>().ok()?, month.parse::<u32>().ok()?);
    let start = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()?;
    Some((start, start.checked_add_months(chrono::Months::new(1))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_utc_months() {
        let at = to_micros("2026-01-31T23:30:00Z".parse().unwrap());
        assert_eq!(PeriodSlot::new("whatsapp", at).period, "2026-01");
    }

    #[test]
    fn a_month_closes_after_its_grace() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(!month_closed("2026-01", t("2026-02-07T23:59:59Z")));
        assert!(month_closed("2026-01", t("2026-02-08T00:00:00Z")));
        assert!(month_closed("2025-12", t("2026-01-08T00:00:00Z")));
        assert!(!month_closed("garbage", t("2030-01-01T00:00:00Z")));
        assert!(!month_closed("2026-13", t("2030-01-01T00:00:00Z")));
        let bounds = |p| month_bounds(p).map(|(_, end)| end);
        assert_eq!(bounds("2025-12"), Some(t("2026-01-01T00:00:00Z")));
        assert_eq!(bounds("2026-02"), Some(t("2026-03-01T00:00:00Z")));
        assert_eq!(
            month_bounds("2024-03").map(|(start, _)| start),
            Some(t("2024-03-01T00:00:00Z"))
        );
    }
}
