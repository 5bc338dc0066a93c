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

mod categories;
mod kept;

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

/// A legal text in both languages of the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Citation {
    pub de: String,
    pub en: String,
}

impl Citation {
    fn of(text: impl Fn(Lang) -> String) -> Self {
        Self {
            de: text(Lang::De),
            en: text(Lang::En),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
        }
    }
}

/// How the erasure treated one category of the contact's data.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryAnswer {
    /// `message_content`, `attachments`, `delivery_statuses`, `message_metadata`,
    /// `consent_requests`, `consent_proofs`, `contacts`.
    pub category: String,
    /// For messages: `business_letter` (kept under its own rules) or `other`.
    pub class: Option<String>,
    /// Items the contact had when the request was answered.
    pub present: u64,
    /// Erased at once.
    pub erased: u64,
    /// Kept back (restricted); `ground`, `citation` and `until` say why and how long.
    pub kept: u64,
    /// Of the kept items, those a legal hold keeps (Art. 17(3)(e) GDPR) while it lasts.
    pub held: u64,
    /// The ground of the rule in force for these items (`none` for items kept only because
    /// other kept data needs them, or because of a legal hold).
    pub ground: String,
    /// The provision that sets the rule's period.
    pub norm: Option<String>,
    /// Why the kept items were kept, in German and English.
    pub citation: Option<Citation>,
    /// When the last kept item's period ends; each item is erased when its own ends.
    pub until: Option<DateTime<Utc>>,
    /// The end cannot be computed (e.g. the end of the relationship is not recorded): the DPO
    /// decides (`POST …/requests/{id}/decisions`).
    pub decision_needed: bool,
    /// The DPO's decision, once recorded: `keep_until` or `erase`.
    pub decision: Option<String>,
}

/// The answer to an erasure request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErasureOutcome {
    /// Nothing was kept: key, contact and every item are gone.
    pub erased: bool,
    /// Something was kept: the contact is restricted (Art. 18 GDPR) until `restricted_until`.
    pub restricted: bool,
    pub restricted_until: Option<DateTime<Utc>>,
    /// At least one category waits for the DPO's decision.
    pub decision_needed: bool,
    /// Per category the contact had: erased, kept, why and until when.
    pub categories: Vec<CategoryAnswer>,
    /// Items deleted per category (a certificate's counts).
    pub deleted: BTreeMap<String, u64>,
    /// The tenant's event hooks told of the erasure (Art. 19 GDPR).
    pub recipients_informed: u64,
    pub certificate_id: String,
}

impl ErasureOutcome {
    /// Recomputes the summary flags from the categories.
    fn settle(&mut self) {
        self.decision_needed = self.categories.iter().any(|c| c.decision_needed);
        self.restricted = self.categories.iter().any(|c| c.kept > 0);
        self.erased = !self.restricted;
        self.restricted_until = self.categories.iter().filter_map(|c| c.until).max();
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = erasure_items)]
struct ItemRow {
    id: String,
    tenant_id: String,
    request_id: String,
    contact_id: String,
    category: String,
    class: Option<String>,
    rule: String,
    start_at: Option<i64>,
    requested_at: i64,
    kept: i32,
    held: i32,
    until: Option<i64>,
    state: String,
    decision: Option<String>,
    decision_reason_sealed: Option<Vec<u8>>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    done_at: Option<i64>,
}

impl ItemRow {
    fn category(&self) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == self.category)
    }

    fn rule(&self) -> Option<Rule> {
        let input: RuleInput = serde_json::from_str(&self.rule).ok()?;
        RuleSet::parse(&[input]).ok()?.rules.into_iter().next()
    }
}

/// Why data under a legal hold is kept.
fn hold_citation() -> Citation {
    Citation::of(|lang| {
        lang.pick(
            "Art. 17 Abs. 3 lit. e DSGVO: Aufbewahrungssperre (Legal Hold) zur Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen, solange sie besteht",
            "Art. 17(3)(e) GDPR: legal hold for the establishment, exercise or defence of legal claims, while it lasts",
        )
    })
}

/// Why data kept only because other kept data needs it is kept.
fn dependency_citation(category: Category) -> Citation {
    Citation::of(|lang| {
        match category {
        Category::Contacts => lang.pick(
            "wird mit den übrigen aufbewahrten Daten gelöscht: ohne Kontaktdaten ließen sie sich der Person nicht mehr zuordnen",
            "erased together with the other kept data, which could not be related to the person without the contact data",
        ),
        _ => lang.pick(
            "wird mit dem aufbewahrten Inhalt der Nachrichten gelöscht, zu dem diese Angaben gehören",
            "erased together with the kept message content these details belong to",
        ),
    }
    })
}

/// What answering an erasure request is going to do, shown before the DPO confirms: per
/// category the items the contact has, and whether the rule in force may keep them.
#[derive(Debug, Clone)]
pub struct ErasureOverview {
    pub categories: Vec<OverviewLine>,
    /// A legal hold of the tenant is active: held items stay while it lasts.
    pub holds: bool,
}

#[derive(Debug, Clone)]
pub struct OverviewLine {
    pub category: String,
    pub present: u64,
    /// Why these items may be kept (the rule's ground, in the reader's words); None: erased.
    pub may_keep: Option<String>,
}

/// The row that keeps track of a kept category.
fn item_row(
    contact: &ContactRow,
    request: &str,
    rule: &Rule,
    answer: &CategoryAnswer,
    now: DateTime<Utc>,
) -> ItemRow {
    ItemRow {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        tenant_id: contact.tenant_id.clone(),
        request_id: request.to_string(),
        contact_id: contact.id.clone(),
        category: rule.category.as_str().into(),
        class: answer.class.clone(),
        rule: serde_json::to_string(&rule.input()).unwrap_or_default(),
        start_at: fixed_start(rule, contact),
        requested_at: to_micros(now),
        kept: answer.kept as i32,
        held: answer.held as i32,
        until: answer.until.map(to_micros),
        state: if answer.decision_needed {
            AWAITING
        } else {
            KEPT
        }
        .into(),
        decision: None,
        decision_reason_sealed: None,
        decided_by: None,
        decided_at: None,
        done_at: None,
    }
}

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
