//! Erasure on request (Art. 17 GDPR), decided per data item.
//!
//! For every category of data the contact actually has, the rule in force for the contact's
//! channel decides: a rule whose ground is `none` lets the items go at once; a rule with a
//! keeping ground (statutory: Art. 17(3)(b); contractual or by-law: § 35(3) BDSG; legal
//! claims: Art. 17(3)(e)) keeps each item until its own period ends, restricted (Art. 18), and
//! erases the items already past it. A legal hold keeps what it covers while it lasts. An end
//! that cannot be computed (an unknown end of relationship, a rule saying "keep") puts the
//! request in the DPO's queue as `decision_needed`; the DPO records a decision per category.
//!
//! What was kept is written down per category in `erasure_items` (the rule as it stood, the
//! fixed start of its period, the request's time); the retention run erases each kept item
//! when its end passes, even if the rules change meanwhile, with a certificate naming the
//! request. Deleting goes through `retention::run::delete_items`, the one place that deletes
//! personal data.

mod answer;
mod categories;
mod kept;
pub use answer::*;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Requests;
use super::{Kind, COMPLETED, DECISION_NEEDED};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::consent::{ConsentState, Evidence, Source};
use crate::contacts::ContactRow;
use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::retention::certificates::{self, CertificateProgress};
use crate::retention::holds::{self, ActiveHolds};
use crate::retention::rules::{
    Category, Ground, Retain, Rule, RuleInput, RuleSet, StartPoint, BUSINESS_LETTER,
};
use crate::retention::run::delete_items;
use crate::retention::select::Selection;
use crate::store::schema::{attachments, consents, erasure_items, messages};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

use categories::*;
pub use kept::*;

/// Certificate state of an erasure that kept data back.
pub const RESTRICTED: &str = "restricted";

/// States of a kept category.
const KEPT: &str = "kept";

const AWAITING: &str = "decision_needed";

const DONE: &str = "done";

const MAX_REASON: usize = 2000;

/// Items deleted or counted per query.
const PAGE: i64 = 5_000;

/// The order erasure takes: what hangs off a message before the message row, consents, and
/// the contact last (it goes only once nothing refers to it). Webhook logs are not linked to
/// contacts; the tenant's event hooks are told instead (Art. 19).
const ORDER: [Category; 7] = [
    Category::MessageContent,
    Category::Attachments,
    Category::DeliveryStatuses,
    Category::MessageMetadata,
    Category::ConsentRequests,
    Category::ConsentProofs,
    Category::Contacts,
];

/// The class of a unit of message data, as answers and rows name it.
fn class_name(letters: Option<bool>) -> Option<String> {
    letters.map(|l| if l { BUSINESS_LETTER } else { OTHER_MESSAGES }.to_string())
}

fn class_letters(class: Option<&str>) -> Option<bool> {
    class.map(|c| c == BUSINESS_LETTER)
}

const OTHER_MESSAGES: &str = "other";

/// Tells every enabled event hook of the tenant that the contact was erased or restricted
/// (Art. 19 GDPR: recipients learn of erasure and restriction), whatever events it
/// subscribed to. The payload names the contact's id and the categories, nothing personal.
fn notify_recipients(
    conn: &mut DbConn,
    contact: &ContactRow,
    request: &str,
    outcome: &ErasureOutcome,
    (period, keys): &(String, std::sync::Arc<OwnerKeys>),
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    crate::periods::ensure_live(conn, &std::collections::BTreeSet::from([period.clone()]))?;
    let payload = serde_json::json!({
        "event": crate::events::EventKind::ContactErasure.as_str(),
        "tenant_id": contact.tenant_id,
        "contact_id": contact.id,
        "request_id": request,
        "erased": outcome.erased,
        "restricted": outcome.restricted,
        "restricted_until": outcome.restricted_until,
        "categories": outcome.categories.iter().map(|c| serde_json::json!({
            "category": c.category, "erased": c.erased, "kept": c.kept, "until": c.until,
        })).collect::<Vec<_>>(),
        "instruction": "Art. 19 GDPR: erase this person's data received from Hafen; keep only what the categories say is kept, restricted, until the dates given",
    });
    crate::events::enqueue(
        conn,
        &contact.tenant_id,
        (period, keys),
        vec![(crate::events::EventKind::ContactErasure, payload)],
        to_micros(now),
    )
}

impl Requests {
    /// What an erasure would erase and what it may keep, without changing anything.
    pub async fn erasure_overview(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        lang: crate::i18n::Lang,
    ) -> Result<ErasureOverview> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let row = self.open_request(tenant, id, &[Kind::Erasure]).await?;
        let (t, c) = (tenant.clone(), row.contact_id.clone());
        let (contact, set, _) = self
            .infra
            .store
            .read(move |conn| {
                let contact = crate::contacts::find(conn, &t, &c)?;
                let (set, version) = crate::retention::rules_in_force(conn, t.as_str())?;
                Ok((contact, set, version))
            })
            .await?;
        let contact =
            contact.ok_or_else(|| Error::Conflict("the contact no longer exists".into()))?;
        let now = self.infra.clock.now();
        let plan = self.plan_erasure(&contact, &set, now).await?;
        let categories = plan
            .into_iter()
            .map(|(rule, _, present)| OverviewLine {
                category: rule.category.as_str().to_string(),
                present,
                may_keep: rule.ground.keeps_on_erasure().then(|| match &rule.norm {
                    Some(norm) => format!("{} ({norm})", rule.ground.citation(lang)),
                    None => rule.ground.citation(lang),
                }),
            })
            .collect();
        Ok(ErasureOverview {
            categories,
            holds: self.tenant_has_holds(tenant, now).await?,
        })
    }

    /// Answers an erasure request (see the module documentation).
    pub async fn erase(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<ErasureOutcome> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let row = self.open_request(tenant, id, &[Kind::Erasure]).await?;
        let contact_id = row.contact_id.clone();
        let (t, c) = (tenant.clone(), contact_id.clone());
        let (contact, set, version) = self
            .infra
            .store
            .read(move |conn| {
                let contact = crate::contacts::find(conn, &t, &c)?;
                let (set, version) = crate::retention::rules_in_force(conn, t.as_str())?;
                Ok((contact, set, version))
            })
            .await?;
        let contact =
            contact.ok_or_else(|| Error::Conflict("the contact no longer exists".into()))?;
        // No more advertising to someone who asked to be erased (Art. 17, 21(3)): every
        // consent ends now, and the proof of it is what a consent-proof rule may keep.
        if contact.address_sealed.is_empty() {
            return Err(Error::Conflict(
                "the contact was already erased (its key is destroyed)".into(),
            ));
        }
        self.consent
            .transition(
                tenant,
                &contact_id,
                None,
                &["confirmed"],
                ConsentState::Withdrawn,
                Source::System,
                Evidence {
                    note: Some(format!(
                        "withdrawn by erasure request {id} (Art. 17, 21(3) GDPR)"
                    )),
                    ..Evidence::default()
                },
                None,
            )
            .await?;
        let now = self.infra.clock.now();
        let plan = self.plan_erasure(&contact, &set, now).await?;
        let may_keep = plan
            .iter()
            .any(|(rule, _, _)| rule.ground.keeps_on_erasure())
            || self.tenant_has_holds(tenant, now).await?;
        if may_keep && contact.restricted_at.is_none() {
            self.contacts.restrict(
                &Actor::System,
                tenant,
                &contact_id,
                &format!(
                    "Art. 18 DSGVO: Löschverlangen {id}; Daten mit Aufbewahrungsgrund werden bis zum Ende ihrer Frist nur noch dafür aufbewahrt"
                ),
            )
            .await?;
        }
        let events = self.erasure_event_keys(tenant, now).await?;
        let progress = CertificateProgress::new(
            &format!("erasure:{id}"),
            tenant.as_str(),
            serde_json::json!({ "erasure_request": id, "tenant_rules": version }).to_string(),
            now,
        );
        let event = AuditEvent::new(actor, "dsr.erase")
            .tenant(tenant)
            .object("subject_request", id);
        let (rid, by) = (id.to_string(), actor.audit_label());
        let outcome = self
            .infra
            .store
            .write(move |conn| {
                let mut progress = progress.clone();
                let holds = holds::active(conn, &contact.tenant_id, to_micros(now))?;
                certificates::start(conn, &progress)?;
                let mut answered: Vec<(&Rule, CategoryAnswer)> = Vec::new();
                for (rule, letters, present) in &plan {
                    let kept =
                        |c: Category| answered.iter().any(|(r, a)| r.category == c && a.kept > 0);
                    let spare = if rule.category == Category::MessageMetadata {
                        protected_messages(
                            conn,
                            &contact.tenant_id,
                            &contact.id,
                            kept(Category::MessageContent),
                            kept(Category::Attachments),
                        )?
                    } else {
                        HashSet::new()
                    };
                    let answer = erase_category(
                        conn,
                        &contact,
                        rule,
                        *letters,
                        *present,
                        &holds,
                        &spare,
                        now,
                        &mut progress,
                    )?;
                    answered.push((rule, answer));
                }
                // Data kept because other kept data needs it lasts as long as that does.
                let last = answered.iter().filter_map(|(_, a)| a.until).max();
                for (rule, answer) in answered.iter_mut() {
                    if answer.kept > answer.held && !rule.ground.keeps_on_erasure() {
                        answer.until = last;
                    }
                }
                for (rule, answer) in answered.iter().filter(|(_, a)| a.kept > 0) {
                    diesel::insert_into(erasure_items::table)
                        .values(item_row(&contact, &rid, rule, answer, now))
                        .execute(conn)?;
                }
                let categories: Vec<CategoryAnswer> =
                    answered.into_iter().map(|(_, a)| a).collect();
                let mut outcome = ErasureOutcome {
                    erased: false,
                    restricted: false,
                    restricted_until: None,
                    decision_needed: false,
                    categories,
                    deleted: BTreeMap::new(),
                    recipients_informed: 0,
                    certificate_id: progress.id.clone(),
                };
                outcome.settle();
                outcome.deleted = progress
                    .counts
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| (k.clone(), *n))
                    .collect();
                outcome.recipients_informed =
                    notify_recipients(conn, &contact, &rid, &outcome, &events, now)? as u64;
                let state = if outcome.restricted {
                    RESTRICTED
                } else {
                    certificates::COMPLETED
                };
                certificates::finish(conn, &progress.id, state, now, Some(&progress))?;
                let status = if outcome.decision_needed {
                    DECISION_NEEDED
                } else {
                    COMPLETED
                };
                super::complete(
                    conn,
                    &rid,
                    status,
                    &serde_json::to_value(&outcome).unwrap_or_default(),
                    Some(&progress.id),
                    &by,
                    to_micros(now),
                )?;
                audit::append(
                    conn,
                    now,
                    event.clone().detail(format!(
                        "contact={} outcome={}{}",
                        contact.id,
                        if outcome.restricted {
                            "restricted"
                        } else {
                            "erased"
                        },
                        if outcome.decision_needed {
                            " decision_needed"
                        } else {
                            ""
                        }
                    )),
                )?;
                Ok(outcome)
            })
            .await?;
        if outcome.erased {
            self.infra
                .keys
                .forget(&KeyOwner::Contact(row.contact_id.clone()));
        }
        Ok(outcome)
    }

    /// The categories the contact has, in erasure order, each with its rule and item count;
    /// message categories once for business letters and once for the other messages.
    async fn plan_erasure(
        &self,
        contact: &ContactRow,
        set: &RuleSet,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Rule, Option<bool>, u64)>> {
        let set = set.effective();
        let (contact, n) = (contact.clone(), to_micros(now));
        Ok(self
            .infra
            .store
            .read(move |conn| {
                let mut plan = Vec::new();
                for category in ORDER {
                    let classes: &[Option<bool>] = if category.has_class() {
                        &[Some(true), Some(false)]
                    } else {
                        &[None]
                    };
                    for letters in classes {
                        let present = remaining(
                            conn,
                            &contact.tenant_id,
                            &contact.id,
                            category,
                            *letters,
                            n + 1,
                        )?;
                        if present == 0 {
                            continue;
                        }
                        let rule = set
                            .rule_for(category, &contact.channel, letters.unwrap_or(false))
                            .cloned()
                            .ok_or_else(|| {
                                StoreError::from(Error::internal(anyhow::anyhow!(
                                    "no rule for {}",
                                    category.as_str()
                                )))
                            })?;
                        plan.push((rule, *letters, present));
                    }
                }
                Ok(plan)
            })
            .await?)
    }

    async fn tenant_has_holds(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<bool> {
        let t = tenant.as_str().to_string();
        let holds = self
            .infra
            .store
            .read(move |conn| holds::active(conn, &t, to_micros(now)))
            .await?;
        Ok(holds.whole_tenant || !holds.contacts.is_empty() || !holds.ranges.is_empty())
    }

    /// The keys event payloads are sealed with (this month's event period).
    async fn erasure_event_keys(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<(String, std::sync::Arc<OwnerKeys>)> {
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let period = self
            .periods
            .live_key(tenant, crate::periods::EVENTS_SCOPE, to_micros(now))
            .await?;
        Ok((
            period.id.clone(),
            std::sync::Arc::new(tenant_keys.within_period(&period.keys)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::rules::defaults;

    #[test]
    fn the_channels_own_rule_wins_over_the_tenant_wide_one() {
        let mut whatsapp = defaults()
            .rules
            .into_iter()
            .find(|r| r.category == Category::MessageContent && !r.business_letters)
            .unwrap();
        whatsapp.channel = Some(crate::address::ChannelName::parse("c", "whatsapp").unwrap());
        whatsapp.legal_basis = "nur WhatsApp".into();
        let mut tenant_wide = whatsapp.clone();
        tenant_wide.channel = None;
        tenant_wide.legal_basis = "alle anderen".into();
        tenant_wide.ground = Ground::None;
        let set = RuleSet {
            rules: vec![tenant_wide, whatsapp],
        };
        assert_eq!(
            set.rule_for(Category::MessageContent, "whatsapp", false)
                .unwrap()
                .legal_basis,
            "nur WhatsApp"
        );
        assert_eq!(
            set.rule_for(Category::MessageContent, "telegram", false)
                .unwrap()
                .legal_basis,
            "alle anderen",
            "a WhatsApp rule says nothing about Telegram"
        );
    }
}
