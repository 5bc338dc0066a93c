//! Data-subject requests (Art. 12, 15, 17, 18, 20 GDPR): a register of what was asked, when
//! it is due, and how it was answered. Answering is `access` (the export), `erase` (erasure,
//! or restriction where the law requires keeping the data) and restriction; each answer closes
//! its request and is audited.
//!
//! Deadlines follow Art. 12(3) with the month arithmetic of Regulation 1182/71: one month from
//! receipt ends on the same day of the next month, or on that month's last day when it has no
//! such day (received 31 January → due 28/29 February). The deadline is not moved past
//! weekends or holidays: the stricter reading. An extension by two further months needs a
//! reason and must be made before the first month ends.

pub mod access;
mod decisions;
pub mod erase;
pub mod letters;
pub mod no_data;
mod types;
pub mod wording;
pub use types::*;

use chrono::{DateTime, Months, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::address::{Address, ChannelName};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::consent::Consent;
use crate::contacts::Contacts;
use crate::contacts::{self, ContactView};
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::messages::Messages;
use crate::periods::PeriodKeys;
use crate::register::Register;
use crate::store::id;
use crate::store::schema::subject_requests;
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

const MAX_REASON: usize = 2000;

pub const OPEN: &str = "open";
pub const COMPLETED: &str = "completed";
/// An erasure answered in part: a category's end could not be computed and waits for the
/// DPO's decision. Still pending: the deadline runs.
pub const DECISION_NEEDED: &str = "decision_needed";
pub const REJECTED: &str = "rejected";

/// One month after `received` (Art. 12(3)).
pub fn due_date(received: NaiveDate) -> Option<NaiveDate> {
    received.checked_add_months(Months::new(1))
}

/// Three months after `received`: the deadline once extended (Art. 12(3) sentence 2).
pub fn extended_due_date(received: NaiveDate) -> Option<NaiveDate> {
    received.checked_add_months(Months::new(3))
}

fn binding<'a>(tenant: &'a str, id: &'a str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: "subject_requests",
        column: "extension",
        row: id,
    }
}

fn reason(text: &str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_REASON {
        return Err(Error::invalid(
            "reason",
            format!("must say why (1 to {MAX_REASON} characters)"),
        ));
    }
    Ok(t.to_string())
}

pub fn find(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Option<RequestRow>, StoreError> {
    Ok(subject_requests::table
        .filter(subject_requests::tenant_id.eq(id::bind(tenant)))
        .filter(subject_requests::id.eq(id))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a request answered (inside the answer's own transaction).
pub fn complete(
    conn: &mut DbConn,
    id: &str,
    status: &str,
    outcome: &serde_json::Value,
    certificate: Option<&str>,
    by: &str,
    at: i64,
) -> Result<(), StoreError> {
    diesel::update(subject_requests::table.filter(subject_requests::id.eq(id)))
        .set((
            subject_requests::status.eq(status),
            subject_requests::outcome.eq(Some(outcome.to_string())),
            subject_requests::certificate_id.eq(certificate),
            subject_requests::handled_by.eq(Some(by)),
            subject_requests::completed_at.eq(Some(at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Open requests past their deadline on `today`, over all tenants (for /metrics).
pub fn count_overdue(conn: &mut DbConn, today: NaiveDate) -> Result<i64, StoreError> {
    let today = today.to_string();
    let rows: Vec<(String, Option<String>)> = subject_requests::table
        .filter(subject_requests::status.eq_any([OPEN, DECISION_NEEDED]))
        .filter(subject_requests::due_on.lt(&today))
        .select((subject_requests::due_on, subject_requests::extended_due_on))
        .load(conn)?;
    Ok(rows
        .iter()
        .filter(|(due, extended)| extended.as_deref().unwrap_or(due) < today.as_str())
        .count() as i64)
}

/// The data-subject requests service: the register of requests and their deadlines, access
/// exports, erasure, restriction answers, letters to the person.
#[derive(Debug, Clone)]
pub struct Requests {
    pub(crate) infra: Infra,
    pub(crate) consent: Consent,
    pub(crate) contacts: Contacts,
    pub(crate) messages: Messages,
    pub(crate) register: Register,
    pub(crate) periods: PeriodKeys,
    /// The install's own wording for letters to data subjects (`templates_dir`).
    pub(crate) letter_wording: std::sync::Arc<wording::LetterWording>,
}

impl Requests {
    pub fn new(
        infra: Infra,
        consent: Consent,
        contacts: Contacts,
        messages: Messages,
        register: Register,
        periods: PeriodKeys,
        letter_wording: std::sync::Arc<wording::LetterWording>,
    ) -> Self {
        Self {
            infra,
            consent,
            contacts,
            messages,
            register,
            periods,
            letter_wording,
        }
    }
}

impl Requests {
    fn today(&self) -> NaiveDate {
        self.infra.clock.now().date_naive()
    }

    /// Sets the overdue-requests gauge from the register.
    pub async fn refresh_metrics(&self) -> Result<()> {
        let today = self.today();
        let n = self
            .infra
            .store
            .read(move |conn| count_overdue(conn, today))
            .await?;
        self.infra.metrics.dsr_overdue.set(n);
        Ok(())
    }

    /// Registers a request; the deadline runs from `received_on`.
    pub async fn create(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: NewRequest,
    ) -> Result<RequestView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let today = self.today();
        let received = input.received_on.unwrap_or(today);
        if received > today {
            return Err(Error::invalid("received_on", "must not be in the future"));
        }
        if today.signed_duration_since(received).num_days() > 366 {
            return Err(Error::invalid(
                "received_on",
                "is more than a year ago; register requests when they arrive",
            ));
        }
        let due =
            due_date(received).ok_or_else(|| Error::invalid("received_on", "is out of range"))?;
        let at = self.infra.clock.now();
        let row = RequestRow {
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            tenant_id: tenant.as_str().to_string(),
            contact_id: crate::error::Error::named_id("contact_id", "contact", &input.contact_id)?,
            kind: input.kind.as_str().into(),
            received_on: received.to_string(),
            due_on: due.to_string(),
            extended_due_on: None,
            extension_sealed: None,
            status: OPEN.into(),
            outcome: None,
            certificate_id: None,
            created_by: actor.audit_label(),
            created_at: to_micros(at),
            handled_by: None,
            completed_at: None,
        };
        let event = AuditEvent::new(actor, "dsr.create")
            .tenant(tenant)
            .object("subject_request", &row.id)
            .detail(format!("kind={} contact={}", row.kind, row.contact_id));
        let stored = row.clone();
        let t = tenant.clone();
        self.infra
            .store
            .write(move |conn| {
                if contacts::find(conn, &t, &stored.contact_id)?.is_none() {
                    return Err(StoreError::from(Error::invalid(
                        "contact_id",
                        "is not a contact of this tenant",
                    )));
                }
                diesel::insert_into(subject_requests::table)
                    .values(stored.clone())
                    .execute(conn)?;
                audit::append(conn, at, event.clone())
            })
            .await?;
        Ok(row.view(today, None))
    }

    /// The tenant's requests, newest first; only open ones past their deadline with `overdue`.
    pub async fn list(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        overdue_only: bool,
    ) -> Result<Vec<RequestView>> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        self.infra.ensure_tenant(tenant).await?;
        let t = tenant.as_str().to_string();
        let rows: Vec<RequestRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(subject_requests::table
                    .filter(subject_requests::tenant_id.eq(id::bind(&t)))
                    .order(subject_requests::created_at.desc())
                    .limit(10_000)
                    .select(RequestRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let today = self.today();
        let keys = self.infra.tenant_keys(tenant).await?;
        rows.iter()
            .filter(|r| !overdue_only || r.overdue_on(today))
            .map(|r| {
                let reason = r
                    .extension_sealed
                    .as_deref()
                    .map(|s| keys.seal.open_string(&binding(&r.tenant_id, &r.id), s))
                    .transpose()?;
                Ok(r.view(today, reason))
            })
            .collect()
    }

    /// One request.
    pub async fn read(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<RequestView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let row = self.request_row(tenant, id).await?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let reason = row
            .extension_sealed
            .as_deref()
            .map(|s| keys.seal.open_string(&binding(&row.tenant_id, &row.id), s))
            .transpose()?;
        let (t, rid) = (tenant.as_str().to_string(), id.to_string());
        let history = self
            .infra
            .store
            .read(move |conn| {
                use crate::store::schema::audit_log;
                let rows: Vec<(i64, String, String, Option<String>)> = audit_log::table
                    .filter(audit_log::object_type.eq("subject_request"))
                    .filter(audit_log::object_id.eq(&rid))
                    .filter(audit_log::tenant_id.eq(id::bind(&t)))
                    .order(audit_log::seq)
                    .select((
                        audit_log::at,
                        audit_log::action,
                        audit_log::actor,
                        audit_log::detail,
                    ))
                    .load(conn)?;
                Ok(rows)
            })
            .await?
            .into_iter()
            .map(|(at, action, actor, detail)| HistoryEntry {
                at: from_micros(at),
                action,
                actor,
                detail,
            })
            .collect();
        let mut view = row.view(self.today(), reason);
        view.history = Some(history);
        Ok(view)
    }

    pub(crate) async fn request_row(&self, tenant: &TenantId, id: &str) -> Result<RequestRow> {
        let (t, id) = (tenant.as_str().to_string(), id.to_string());
        self.infra
            .store
            .read(move |conn| find(conn, &t, &id))
            .await?
            .ok_or(Error::NotFound)
    }

    /// An open request of `kind` (or one of `kinds`), or a clear refusal.
    pub(crate) async fn open_request(
        &self,
        tenant: &TenantId,
        id: &str,
        kinds: &[Kind],
    ) -> Result<RequestRow> {
        let row = self.request_row(tenant, id).await?;
        if row.status != OPEN {
            return Err(Error::Conflict(format!(
                "this request is already {}",
                row.status
            )));
        }
        if !kinds.contains(&Kind::from_stored(&row.kind)) {
            return Err(Error::Conflict(format!(
                "this is a request for {}; it cannot be answered this way",
                row.kind
            )));
        }
        Ok(row)
    }

    /// Finds a contact by channel and address through the blind index (the DPO's lookup for
    /// a request by phone number); audited.
    pub async fn lookup_contact(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        channel: &str,
        address: &str,
    ) -> Result<ContactView> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let channel = ChannelName::parse("channel", channel)?;
        let address = Address::parse("address", &channel, address)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let index = crate::contacts::find::address_index(&keys, &channel, &address);
        let (t, ch) = (tenant.as_str().to_string(), channel.as_str().to_string());
        let found: Option<String> = self
            .infra
            .store
            .read(move |conn| {
                use crate::store::schema::contacts as c;
                Ok(c::table
                    .filter(c::tenant_id.eq(id::bind(&t)))
                    .filter(c::channel.eq(&ch))
                    .filter(c::address_index.eq(&index))
                    .filter(crate::store::backend::plan_with_actual_values())
                    .select(c::id)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        let outcome = if found.is_some() { "found" } else { "none" };
        self.infra
            .record(
                AuditEvent::new(actor, "contact.lookup")
                    .tenant(tenant)
                    .detail(format!("channel={} result={outcome}", channel.as_str())),
            )
            .await?;
        let id = found.ok_or(Error::NotFound)?;
        // The summary only: restricted contacts stay sealed here too.
        let (t, cid) = (tenant.clone(), id.clone());
        let row = self
            .infra
            .store
            .read(move |conn| contacts::find(conn, &t, &cid))
            .await?
            .ok_or(Error::NotFound)?;
        let keys = self.contacts.keys_for(tenant, &id).await.ok();
        ContactView::open(&row, keys.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn deadlines_across_month_ends() {
        assert_eq!(due_date(d("2026-01-31")), Some(d("2026-02-28")));
        assert_eq!(due_date(d("2028-01-31")), Some(d("2028-02-29")));
        assert_eq!(due_date(d("2026-01-15")), Some(d("2026-02-15")));
        assert_eq!(due_date(d("2026-12-31")), Some(d("2027-01-31")));
        assert_eq!(due_date(d("2026-03-31")), Some(d("2026-04-30")));
        assert_eq!(extended_due_date(d("2026-01-31")), Some(d("2026-04-30")));
        assert_eq!(extended_due_date(d("2026-11-30")), Some(d("2027-02-28")));
    }

    #[test]
    fn overdue_only_after_the_deadline_day() {
        let row = RequestRow {
            id: "r".into(),
            tenant_id: "t".into(),
            contact_id: "c".into(),
            kind: "access".into(),
            received_on: "2026-01-31".into(),
            due_on: "2026-02-28".into(),
            extended_due_on: None,
            extension_sealed: None,
            status: OPEN.into(),
            outcome: None,
            certificate_id: None,
            created_by: "x".into(),
            created_at: 0,
            handled_by: None,
            completed_at: None,
        };
        assert!(!row.overdue_on(d("2026-02-28")));
        assert!(row.overdue_on(d("2026-03-01")));
        let extended = RequestRow {
            extended_due_on: Some("2026-04-30".into()),
            ..row.clone()
        };
        assert!(!extended.overdue_on(d("2026-03-01")));
        let done = RequestRow {
            status: COMPLETED.into(),
            ..row
        };
        assert!(!done.overdue_on(d("2027-01-01")));
    }
}
