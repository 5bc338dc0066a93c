//! Erasure on request (Art. 17): the contact's key and rows are destroyed — unless a legal
//! hold or a statutory retention duty (a rule marked `statutory`, e.g. § 257 HGB) still
//! covers some of its data. Then, as § 35(3) BDSG requires, the contact is *restricted*
//! instead; what no duty covers is deleted anyway, and the answer names every kept category
//! with its reason and the date the duty ends. Either way the outcome is a deletion
//! certificate in the same hash chain as the retention runs.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Kind, COMPLETED};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::contacts::ContactRow;
use crate::crypto::keyring::KeyOwner;
use crate::error::{Error, Result};
use crate::retention::certificates::{self, CertificateProgress};
use crate::retention::holds;
use crate::retention::rules::{Category, Retain, Rule, StartPoint};
use crate::service::Hafen;
use crate::store::schema::{
    attachments, consent_ledger, consents, message_statuses, messages, outbox,
};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// Certificate state of an erasure answered by restriction.
pub const RESTRICTED: &str = "restricted";

/// Data kept back from an erasure, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Kept {
    pub category: String,
    pub reason: String,
    /// When the duty ends (None: a legal hold without end, or an open relationship).
    pub until: Option<DateTime<Utc>>,
}

/// The answer to an erasure request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErasureOutcome {
    /// Everything was destroyed: key, contact, messages, files, statuses, consents.
    pub erased: bool,
    /// Some data had to be kept: the contact is restricted (§ 35(3) BDSG).
    pub restricted: bool,
    pub kept: Vec<Kept>,
    /// Items deleted per category.
    pub deleted: std::collections::BTreeMap<String, u64>,
    pub certificate_id: String,
}

/// Times of one contact's data, for deciding what a rule still keeps.
struct ContactData {
    contact: ContactRow,
    newest_message: Option<i64>,
    newest_status: Option<i64>,
    newest_request: Option<i64>,
    /// Withdrawal times of its consents; None for a consent still in force (an erasure
    /// request ends it now).
    consent_ends: Vec<Option<i64>>,
}

fn load(
    conn: &mut DbConn,
    tenant: &TenantId,
    contact: &str,
) -> Result<Option<ContactData>, StoreError> {
    let Some(row) = crate::contacts::find(conn, tenant, contact)? else {
        return Ok(None);
    };
    let t = tenant.as_str();
    let newest_message: Option<i64> = messages::table
        .filter(messages::tenant_id.eq(t))
        .filter(messages::contact_id.eq(contact))
        .select(diesel::dsl::max(messages::occurred_at))
        .first(conn)?;
    let newest_status: Option<i64> = message_statuses::table
        .filter(message_statuses::tenant_id.eq(t))
        .filter(
            message_statuses::message_id.eq_any(
                messages::table
                    .filter(messages::contact_id.eq(contact))
                    .select(messages::id.nullable()),
            ),
        )
        .select(diesel::dsl::max(message_statuses::received_at))
        .first(conn)?;
    let consent_rows: Vec<(String, i64, Option<i64>)> = consents::table
        .filter(consents::tenant_id.eq(t))
        .filter(consents::contact_id.eq(contact))
        .select((
            consents::state,
            consents::requested_at,
            consents::withdrawn_at,
        ))
        .load(conn)?;
    let newest_request = consent_rows
        .iter()
        .filter(|(s, ..)| s == "requested" || s == "expired")
        .map(|(_, at, _)| *at)
        .max();
    let consent_ends = consent_rows
        .iter()
        .filter(|(s, ..)| s == "confirmed" || s == "withdrawn")
        .map(|(_, _, w)| *w)
        .collect();
    Ok(Some(ContactData {
        contact: row,
        newest_message,
        newest_status,
        newest_request,
        consent_ends,
    }))
}

/// When `rule` lets go of data that started at `start` (micros).
fn release_time(rule: &Rule, start: i64) -> Option<DateTime<Utc>> {
    let Retain::For(p) = rule.retain else {
        return None;
    };
    let start = from_micros(start);
    let from = if rule.end_of_year {
        Utc.with_ymd_and_hms(start.year() + 1, 1, 1, 0, 0, 0)
            .single()?
    } else {
        start
    };
    let until = from
        .checked_add_months(chrono::Months::new(p.years * 12 + p.months))?
        .checked_add_signed(chrono::Duration::days(i64::from(p.days)))?
        .checked_add_signed(chrono::Duration::hours(i64::from(p.hours)))?;
    Some(until)
}

/// The start time `rule` measures this contact's data of its category from; None when there
/// is no such data (or, for an ongoing relationship, Some(now): the period has not begun).
fn start_of(rule: &Rule, d: &ContactData, now: i64) -> Option<i64> {
    let c = &d.contact;
    let relationship_end = Some(c.closed_at.unwrap_or(now));
    match rule.category {
        Category::Contacts => match rule.start {
            StartPoint::Collection => Some(c.first_seen_at),
            StartPoint::ConversationEnd => Some(c.last_message_at),
            StartPoint::RelationshipEnd => relationship_end,
            StartPoint::ConsentWithdrawal => None,
        },
        Category::MessageContent | Category::Attachments | Category::MessageMetadata => {
            d.newest_message?;
            match rule.start {
                StartPoint::Collection => d.newest_message,
                StartPoint::ConversationEnd => Some(c.last_message_at),
                StartPoint::RelationshipEnd => relationship_end,
                StartPoint::ConsentWithdrawal => None,
            }
        }
        Category::DeliveryStatuses => d.newest_status,
        Category::ConsentRequests => d.newest_request,
        Category::ConsentProofs => {
            if d.consent_ends.is_empty() {
                return None;
            }
            d.consent_ends.iter().map(|w| w.unwrap_or(now)).max()
        }
        Category::WebhookLogs => None,
    }
}

/// What still has to be kept of this contact's data at `now`.
fn kept(
    d: &ContactData,
    rules: &[Rule],
    holds: &holds::ActiveHolds,
    now: DateTime<Utc>,
) -> Vec<Kept> {
    let mut out: Vec<Kept> = Vec::new();
    let n = to_micros(now);
    let held = holds.whole_tenant
        || holds.contacts.iter().any(|c| c == &d.contact.id)
        || d.newest_message.is_some()
            && !holds.ranges.is_empty()
            && holds.holds(None, d.newest_message.unwrap_or(0));
    if held {
        out.push(Kept {
            category: "all".into(),
            reason: "legal hold (Art. 17(3)(e) GDPR: legal claims)".into(),
            until: None,
        });
    }
    for rule in rules.iter().filter(|r| r.ground.keeps_on_erasure()) {
        let Some(start) = start_of(rule, d, n) else {
            continue;
        };
        let until = release_time(rule, start);
        let open_relationship =
            rule.start == StartPoint::RelationshipEnd && d.contact.closed_at.is_none();
        if until.is_some_and(|u| u <= now) && !open_relationship {
            continue;
        }
        let category = rule.category.as_str().to_string();
        let until = if open_relationship { None } else { until };
        match out.iter_mut().find(|k| k.category == category) {
            Some(k) => {
                if k.until.is_some() && (until.is_none() || until > k.until) {
                    k.until = until;
                    k.reason = rule.citation(crate::records::Lang::De);
                }
            }
            None => out.push(Kept {
                category,
                reason: rule.citation(crate::records::Lang::De),
                until,
            }),
        }
    }
    out
}

/// Deletes everything of the contact and destroys its key (inside the caller's transaction).
fn erase_all(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    now: i64,
    progress: &mut CertificateProgress,
) -> Result<(), StoreError> {
    let message_ids: Vec<String> = messages::table
        .filter(messages::tenant_id.eq(tenant))
        .filter(messages::contact_id.eq(contact))
        .select(messages::id)
        .load(conn)?;
    for chunk in message_ids.chunks(5_000) {
        let files: Vec<String> = attachments::table
            .filter(attachments::tenant_id.eq(tenant))
            .filter(attachments::message_id.eq_any(chunk))
            .select(attachments::id)
            .load(conn)?;
        diesel::delete(attachments::table.filter(attachments::id.eq_any(&files))).execute(conn)?;
        progress.record(Category::Attachments, &files);
        let nullable: Vec<Option<String>> = chunk.iter().cloned().map(Some).collect();
        let statuses: Vec<String> = message_statuses::table
            .filter(message_statuses::tenant_id.eq(tenant))
            .filter(message_statuses::message_id.eq_any(&nullable))
            .select(message_statuses::id)
            .load(conn)?;
        diesel::delete(message_statuses::table.filter(message_statuses::id.eq_any(&statuses)))
            .execute(conn)?;
        progress.record(Category::DeliveryStatuses, &statuses);
        diesel::delete(outbox::table.filter(outbox::message_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(messages::table.filter(messages::id.eq_any(chunk))).execute(conn)?;
        progress.record(Category::MessageMetadata, chunk);
    }
    let consent_ids: Vec<String> = consents::table
        .filter(consents::tenant_id.eq(tenant))
        .filter(consents::contact_id.eq(contact))
        .select(consents::id)
        .load(conn)?;
    // The ledger keeps each entry's place and hash (the chain still verifies); the evidence goes.
    diesel::update(consent_ledger::table.filter(consent_ledger::consent_id.eq_any(&consent_ids)))
        .set((
            consent_ledger::evidence_sealed.eq(None::<Vec<u8>>),
            consent_ledger::redacted_at.eq(Some(now)),
        ))
        .execute(conn)?;
    diesel::delete(consents::table.filter(consents::id.eq_any(&consent_ids))).execute(conn)?;
    progress.record(Category::ConsentProofs, &consent_ids);
    crate::contacts::erase::tombstone(conn, tenant, contact)?;
    progress.record(Category::Contacts, &[contact.to_string()]);
    progress.keys_shredded.push(format!("contact:{contact}"));
    Ok(())
}

/// Deletes what no duty keeps when the rest must stay: statuses and unconfirmed requests
/// (unless kept themselves).
fn erase_unkept(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    kept: &[Kept],
    progress: &mut CertificateProgress,
) -> Result<(), StoreError> {
    let keeps = |c: Category| {
        kept.iter()
            .any(|k| k.category == c.as_str() || k.category == "all")
    };
    if !keeps(Category::DeliveryStatuses) {
        let statuses: Vec<String> = message_statuses::table
            .filter(message_statuses::tenant_id.eq(tenant))
            .filter(
                message_statuses::message_id.eq_any(
                    messages::table
                        .filter(messages::contact_id.eq(contact))
                        .select(messages::id.nullable()),
                ),
            )
            .select(message_statuses::id)
            .load(conn)?;
        diesel::delete(message_statuses::table.filter(message_statuses::id.eq_any(&statuses)))
            .execute(conn)?;
        progress.record(Category::DeliveryStatuses, &statuses);
    }
    if !keeps(Category::ConsentRequests) {
        let pending: Vec<String> = consents::table
            .filter(consents::tenant_id.eq(tenant))
            .filter(consents::contact_id.eq(contact))
            .filter(consents::state.eq_any(["requested", "expired"]))
            .select(consents::id)
            .load(conn)?;
        diesel::delete(consents::table.filter(consents::id.eq_any(&pending))).execute(conn)?;
        progress.record(Category::ConsentRequests, &pending);
    }
    Ok(())
}

impl Hafen {
    /// Answers an erasure request (see the module documentation).
    pub async fn erase_request(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<ErasureOutcome> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let row = self.open_request(tenant, id, &[Kind::Erasure]).await?;
        let contact = row.contact_id.clone();
        let now = self.clock.now();
        let (t, c) = (tenant.clone(), contact.clone());
        let (data, rules, holds) = self
            .store
            .read(move |conn| {
                let data = load(conn, &t, &c)?;
                let (rules, _) = crate::retention::rules_in_force(conn, t.as_str())?;
                let holds = holds::active(conn, t.as_str(), to_micros(now))?;
                Ok((data, rules, holds))
            })
            .await?;
        let data = data.ok_or_else(|| Error::Conflict("the contact no longer exists".into()))?;
        let kept = kept(&data, &rules.rules, &holds, now);
        let restricted = !kept.is_empty();
        if restricted && data.contact.restricted_at.is_none() {
            self.restrict_contact(
                &Actor::System,
                tenant,
                &contact,
                &format!("§ 35 Abs. 3 BDSG: Löschantrag {id}, gesetzliche Aufbewahrungspflicht oder Legal Hold"),
            )
            .await?;
        }
        if restricted {
            // No more advertising to someone who asked to be erased (Art. 21(3)).
            self.withdraw_consent(&Actor::System, tenant, &contact, None)
                .await?;
        }
        let mut progress = CertificateProgress::new(
            &format!("erasure:{id}"),
            tenant.as_str(),
            serde_json::json!({ "erasure_request": id }).to_string(),
            now,
        );
        let event = AuditEvent::new(actor, "dsr.erase")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!(
                "contact={contact} outcome={}",
                if restricted { "restricted" } else { "erased" }
            ));
        let (t, rid, by) = (
            tenant.as_str().to_string(),
            id.to_string(),
            actor.audit_label(),
        );
        let kept_for_write = kept.clone();
        let (certificate_id, deleted) = self
            .store
            .write(move |conn| {
                certificates::start(conn, &progress)?;
                if restricted {
                    erase_unkept(conn, &t, &contact, &kept_for_write, &mut progress)?;
                } else {
                    erase_all(conn, &t, &contact, to_micros(now), &mut progress)?;
                }
                let state = if restricted {
                    RESTRICTED
                } else {
                    certificates::COMPLETED
                };
                certificates::finish(conn, &progress.id, state, now, Some(&progress))?;
                let outcome = serde_json::json!({
                    "erased": !restricted,
                    "restricted": restricted,
                    "kept": kept_for_write,
                    "certificate_id": progress.id,
                });
                super::complete(
                    conn,
                    &rid,
                    COMPLETED,
                    &outcome,
                    Some(&progress.id),
                    &by,
                    to_micros(now),
                )?;
                audit::append(conn, now, event.clone())?;
                Ok((progress.id.clone(), progress.counts.clone()))
            })
            .await?;
        if !restricted {
            self.keys.forget(&KeyOwner::Contact(row.contact_id.clone()));
        }
        Ok(ErasureOutcome {
            erased: !restricted,
            restricted,
            kept,
            deleted: deleted.into_iter().filter(|(_, v)| *v > 0).collect(),
            certificate_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::rules::defaults;

    fn contact(first: &str, last: &str) -> ContactRow {
        ContactRow {
            id: "c".into(),
            tenant_id: "t".into(),
            channel: "whatsapp".into(),
            address_index: vec![],
            address_sealed: vec![],
            display_name_sealed: None,
            first_seen_at: to_micros(first.parse().unwrap()),
            last_message_at: to_micros(last.parse().unwrap()),
            closed_at: None,
            restricted_at: None,
        }
    }

    #[test]
    fn hgb_keeps_messages_until_six_years_after_the_year_ends() {
        let data = ContactData {
            contact: contact("2025-03-01T10:00:00Z", "2025-06-01T10:00:00Z"),
            newest_message: Some(to_micros("2025-06-01T10:00:00Z".parse().unwrap())),
            newest_status: None,
            newest_request: None,
            consent_ends: vec![],
        };
        let now: DateTime<Utc> = "2026-11-27T00:00:00Z".parse().unwrap();
        let k = kept(
            &data,
            &defaults().rules,
            &holds::ActiveHolds::default(),
            now,
        );
        let content = k.iter().find(|k| k.category == "message_content").unwrap();
        assert_eq!(content.until, Some("2032-01-01T00:00:00Z".parse().unwrap()));
        assert!(content.reason.contains("HGB"));
        // Without statutory rules nothing is kept.
        let mut loose = defaults().rules;
        for r in &mut loose {
            r.ground = crate::retention::rules::Ground::None;
        }
        assert!(kept(&data, &loose, &holds::ActiveHolds::default(), now).is_empty());
        // A hold on the contact keeps everything.
        let held = holds::ActiveHolds {
            contacts: vec!["c".into()],
            ..Default::default()
        };
        assert!(kept(&data, &loose, &held, now)
            .iter()
            .any(|k| k.category == "all"));
    }
}
