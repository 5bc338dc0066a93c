//! Legal holds: data under a hold is never deleted, whatever the rules say. A hold covers the
//! whole tenant, one contact, or a range of data time; it lasts until released (or until its
//! `until`, if given). Its reason may name people, so it is sealed under the tenant's key.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Retention;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::crypto::seal::FieldBinding;
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::{contacts, legal_holds};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

const MAX_REASON: usize = 2000;

fn binding<'a>(tenant: &'a str, id: &'a str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: "legal_holds",
        column: "reason",
        row: id,
    }
}

/// The end of a hold given as a day (`YYYY-MM-DD`): the hold covers that whole day, so it ends
/// at its last second (UTC, as every time Hafen stores).
pub fn end_of_day(day: &str) -> Result<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|d| d.and_utc())
        .ok_or_else(|| Error::invalid("until", "must be a date (YYYY-MM-DD)"))
}

/// A hold to place. Give a contact, or a data time range, or neither (the whole tenant).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    pub contact_id: Option<String>,
    /// Data whose time is at or after this instant…
    pub data_from: Option<DateTime<Utc>>,
    /// …and before this one.
    pub data_until: Option<DateTime<Utc>>,
    /// Why: the proceedings, the authority's request, the claim.
    pub reason: String,
    /// When the hold ends by itself; absent: when released.
    pub until: Option<DateTime<Utc>>,
}

impl HoldInput {
    /// Checks the hold before anything is read or stored; returns the trimmed reason.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<&str> {
        let reason = self.reason.trim();
        if reason.is_empty() || reason.len() > MAX_REASON {
            return Err(Error::invalid(
                "reason",
                format!("must say why (1 to {MAX_REASON} characters)"),
            ));
        }
        if self.contact_id.is_some() && (self.data_from.is_some() || self.data_until.is_some()) {
            return Err(Error::invalid(
                "contact_id",
                "a hold covers a contact or a time range, not both; place two holds",
            ));
        }
        if let (Some(from), Some(until)) = (self.data_from, self.data_until) {
            if from >= until {
                return Err(Error::invalid("data_until", "must be after data_from"));
            }
        }
        if self.until.is_some_and(|u| u <= now) {
            return Err(Error::invalid("until", "must be in the future"));
        }
        Ok(reason)
    }
}

/// A hold as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HoldView {
    pub id: String,
    /// `tenant`, `contact` or `time_range`.
    pub scope: &'static str,
    pub contact_id: Option<String>,
    pub data_from: Option<DateTime<Utc>>,
    pub data_until: Option<DateTime<Utc>>,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub released_by: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = legal_holds)]
pub struct HoldRow {
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    #[diesel(serialize_as = crate::store::id::BoundOptionalId)]
    pub contact_id: Option<String>,
    pub data_from: Option<i64>,
    pub data_until: Option<i64>,
    pub reason_sealed: Vec<u8>,
    pub created_by: String,
    pub created_at: i64,
    pub hold_until: Option<i64>,
    pub released_at: Option<i64>,
    pub released_by: Option<String>,
}

impl HoldRow {
    fn active_at(&self, now: i64) -> bool {
        self.released_at.is_none() && self.hold_until.is_none_or(|u| u > now)
    }
}

/// The holds in force at one moment, as the sweep applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveHolds {
    pub whole_tenant: bool,
    pub contacts: Vec<String>,
    /// Data time ranges `[from, until)`; an open end is unbounded.
    pub ranges: Vec<(Option<i64>, Option<i64>)>,
}

impl ActiveHolds {
    /// Whether an item at `at` (data time) of `contact` is held.
    pub fn holds(&self, contact: Option<&str>, at: i64) -> bool {
        self.whole_tenant
            || contact.is_some_and(|c| self.contacts.iter().any(|h| h == c))
            || self
                .ranges
                .iter()
                .any(|(from, until)| from.is_none_or(|f| at >= f) && until.is_none_or(|u| at < u))
    }
}

/// The holds of `tenant` in force at `now`.
pub fn active(conn: &mut DbConn, tenant: &str, now: i64) -> Result<ActiveHolds, StoreError> {
    let rows: Vec<HoldRow> = legal_holds::table
        .filter(legal_holds::tenant_id.eq(id::bind(tenant)))
        .filter(legal_holds::released_at.is_null())
        .select(HoldRow::as_select())
        .load(conn)?;
    let mut holds = ActiveHolds::default();
    for row in rows.into_iter().filter(|r| r.active_at(now)) {
        match (row.contact_id, row.data_from, row.data_until) {
            (Some(contact), _, _) => holds.contacts.push(contact),
            (None, None, None) => holds.whole_tenant = true,
            (None, from, until) => holds.ranges.push((from, until)),
        }
    }
    Ok(holds)
}

impl Retention {
    pub async fn place_hold(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: HoldInput,
    ) -> Result<HoldView> {
        actor.authorize(tenant, Permission::ManageHolds)?;
        let now = self.infra.clock.now();
        let reason = input.validate(now)?;
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let t = tenant.as_str().to_string();
        let row = HoldRow {
            id: id.clone(),
            tenant_id: t.clone(),
            contact_id: input
                .contact_id
                .as_deref()
                .map(|c| crate::error::Error::named_id("contact_id", "contact", c))
                .transpose()?,
            data_from: input.data_from.map(to_micros),
            data_until: input.data_until.map(to_micros),
            reason_sealed: tenant_keys.seal.seal_str(&binding(&t, &id), reason)?,
            created_by: actor.audit_label(),
            created_at: to_micros(now),
            hold_until: input.until.map(to_micros),
            released_at: None,
            released_by: None,
        };
        let event = AuditEvent::new(actor, "retention.hold.place")
            .tenant(tenant)
            .object("legal_hold", &id);
        let stored = row.clone();
        self.infra
            .store
            .write(move |conn| {
                if let Some(contact) = &stored.contact_id {
                    let known: i64 = contacts::table
                        .filter(contacts::tenant_id.eq(id::bind(&stored.tenant_id)))
                        .filter(contacts::id.eq(id::bind(contact)))
                        .count()
                        .get_result(conn)?;
                    if known == 0 {
                        return Err(StoreError::from(Error::NotFound));
                    }
                }
                diesel::insert_into(legal_holds::table)
                    .values(stored.clone())
                    .execute(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        view(&row, reason.to_string(), to_micros(now))
    }

    pub async fn release_hold(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<HoldView> {
        actor.authorize(tenant, Permission::ManageHolds)?;
        let now = self.infra.clock.now();
        let (t, hold_id, by) = (
            tenant.as_str().to_string(),
            id.to_string(),
            actor.audit_label(),
        );
        let event = AuditEvent::new(actor, "retention.hold.release")
            .tenant(tenant)
            .object("legal_hold", id);
        let row = self
            .infra
            .store
            .write(move |conn| {
                let n = diesel::update(
                    legal_holds::table
                        .filter(legal_holds::tenant_id.eq(id::bind(&t)))
                        .filter(legal_holds::id.eq(&hold_id))
                        .filter(legal_holds::released_at.is_null()),
                )
                .set((
                    legal_holds::released_at.eq(Some(to_micros(now))),
                    legal_holds::released_by.eq(Some(by.clone())),
                ))
                .execute(conn)?;
                let row: Option<HoldRow> = legal_holds::table
                    .filter(legal_holds::tenant_id.eq(id::bind(&t)))
                    .filter(legal_holds::id.eq(&hold_id))
                    .select(HoldRow::as_select())
                    .first(conn)
                    .optional()?;
                match (n, row) {
                    (_, None) => Err(StoreError::from(Error::NotFound)),
                    (0, Some(_)) => Err(StoreError::from(Error::Conflict(
                        "this hold was already released".into(),
                    ))),
                    (_, Some(row)) => {
                        audit::append(conn, now, event.clone())?;
                        Ok(row)
                    }
                }
            })
            .await?;
        self.open_hold(tenant, &row, to_micros(now)).await
    }

    pub async fn list_holds(&self, actor: &Actor, tenant: &TenantId) -> Result<Vec<HoldView>> {
        actor.authorize(tenant, Permission::ViewRetention)?;
        let t = tenant.as_str().to_string();
        let rows: Vec<HoldRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(legal_holds::table
                    .filter(legal_holds::tenant_id.eq(id::bind(&t)))
                    .order(legal_holds::created_at.desc())
                    .select(HoldRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let now = to_micros(self.infra.clock.now());
        let mut views = Vec::with_capacity(rows.len());
        for row in &rows {
            views.push(self.open_hold(tenant, row, now).await?);
        }
        Ok(views)
    }

    async fn open_hold(&self, tenant: &TenantId, row: &HoldRow, now: i64) -> Result<HoldView> {
        let keys = self.infra.tenant_keys(tenant).await?;
        let reason = keys
            .seal
            .open_string(&binding(tenant.as_str(), &row.id), &row.reason_sealed)?;
        view(row, reason, now)
    }
}

fn view(row: &HoldRow, reason: String, now: i64) -> Result<HoldView> {
    let scope = match (&row.contact_id, row.data_from, row.data_until) {
        (Some(_), _, _) => "contact",
        (None, None, None) => "tenant",
        _ => "time_range",
    };
    Ok(HoldView {
        id: row.id.clone(),
        scope,
        contact_id: row.contact_id.clone(),
        data_from: row.data_from.map(from_micros),
        data_until: row.data_until.map(from_micros),
        reason,
        created_by: row.created_by.clone(),
        created_at: from_micros(row.created_at),
        until: row.hold_until.map(from_micros),
        released_at: row.released_at.map(from_micros),
        released_by: row.released_by.clone(),
        active: row.active_at(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_cover_tenant_contact_and_half_open_ranges() {
        let mut holds = ActiveHolds::default();
        assert!(!holds.holds(Some("c"), 5));
        holds.contacts.push("c".into());
        assert!(holds.holds(Some("c"), 5));
        assert!(!holds.holds(Some("d"), 5));
        holds.ranges.push((Some(10), Some(20)));
        assert!(holds.holds(None, 10));
        assert!(!holds.holds(None, 20), "the end is exclusive");
        holds.ranges.push((None, Some(3)));
        assert!(holds.holds(None, -100));
        holds.whole_tenant = true;
        assert!(holds.holds(None, 1000));
    }
}
