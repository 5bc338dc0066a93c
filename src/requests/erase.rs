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

/// A DPO's decision on a category whose end could not be computed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub category: String,
    /// For message categories: `business_letter` or `other` (the class the answer names).
    #[serde(default)]
    pub class: Option<String>,
    /// `keep_until` (with `until`) or `erase`.
    pub decision: String,
    /// The last day the data is kept (ISO 8601 date, after today); only with `keep_until`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
    /// Why: stored encrypted, shown in the request's record.
    pub reason: String,
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

/// The contact's items of `rule`'s category that the rule makes due before `before` (the
/// start of their period, as the rule measures it).
fn due(
    tenant: &str,
    contact: &str,
    rule: &Rule,
    letters: Option<bool>,
    before: i64,
    holds: ActiveHolds,
) -> Selection {
    Selection {
        tenant: tenant.to_string(),
        rule: rule.clone(),
        other_channels: Vec::new(),
        before,
        not_before: None,
        holds,
        contact: Some(contact.to_string()),
        letters,
        ordered: true,
    }
}

/// All of the contact's items of `category` collected before `before`, whatever a rule says.
fn all_of(
    tenant: &str,
    contact: &str,
    category: Category,
    letters: Option<bool>,
    before: i64,
    holds: ActiveHolds,
) -> Selection {
    let rule = Rule {
        category,
        channel: None,
        business_letters: false,
        start: if category == Category::ConsentProofs {
            StartPoint::ConsentWithdrawal
        } else {
            StartPoint::Collection
        },
        end_of_year: false,
        retain: Retain::Keep,
        legal_basis: String::new(),
        deletion_class: None,
        ground: Ground::None,
        norm: None,
    };
    due(tenant, contact, &rule, letters, before, holds)
}

/// How many items a selection finds.
fn count(conn: &mut DbConn, selection: &Selection) -> Result<u64, StoreError> {
    let mut total = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = selection.page(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(total);
        };
        after = Some(last.id.clone());
        total += page.len() as u64;
    }
}

/// The newest item time (micros) a selection finds; for consent proofs, the newest
/// withdrawal.
fn newest(conn: &mut DbConn, selection: &Selection) -> Result<Option<i64>, StoreError> {
    if selection.rule.category == Category::ConsentProofs {
        let contact = selection.contact.clone().unwrap_or_default();
        return Ok(consents::table
            .filter(consents::tenant_id.eq(&selection.tenant))
            .filter(consents::contact_id.eq(contact))
            .filter(consents::state.eq("withdrawn"))
            .select(diesel::dsl::max(consents::withdrawn_at))
            .first(conn)?);
    }
    let mut newest: Option<i64> = None;
    let mut after: Option<String> = None;
    loop {
        let page = selection.page(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(newest);
        };
        after = Some(last.id.clone());
        newest = page.iter().map(|i| i.at).chain(newest).max();
    }
}

/// Messages whose content or files are still kept: their rows stay while those do.
fn protected_messages(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    content: bool,
    files: bool,
) -> Result<HashSet<String>, StoreError> {
    let mut ids = HashSet::new();
    if content {
        let with_content: Vec<String> = messages::table
            .filter(messages::tenant_id.eq(tenant))
            .filter(messages::contact_id.eq(contact))
            .filter(messages::content_deleted_at.is_null())
            .filter(
                messages::body_sealed
                    .is_not_null()
                    .or(messages::raw_sealed.is_not_null())
                    .or(messages::external_id_sealed.is_not_null()),
            )
            .select(messages::id)
            .load(conn)?;
        ids.extend(with_content);
    }
    if files {
        let with_files: Vec<String> = attachments::table
            .filter(attachments::tenant_id.eq(tenant))
            .filter(
                attachments::message_id.eq_any(
                    messages::table
                        .filter(messages::tenant_id.eq(tenant))
                        .filter(messages::contact_id.eq(contact))
                        .select(messages::id),
                ),
            )
            .select(attachments::message_id)
            .load(conn)?;
        ids.extend(with_files);
    }
    Ok(ids)
}

/// Deletes what `selection` finds, except `spare` (message ids), page by page; returns how
/// many items went.
fn delete_selected(
    conn: &mut DbConn,
    selection: &Selection,
    spare: &HashSet<String>,
    now: DateTime<Utc>,
    progress: &mut CertificateProgress,
) -> Result<u64, StoreError> {
    let category = selection.rule.category;
    let mut deleted = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = selection.page(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(deleted);
        };
        after = Some(last.id.clone());
        let ids: Vec<String> = page
            .into_iter()
            .map(|i| i.id)
            .filter(|id| !spare.contains(id))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let n = ids.len() as u64;
        delete_items(conn, &selection.tenant, category, ids, now, progress)?;
        deleted += n;
    }
}

/// The fixed start of a rule's period for the contact, where it is not the item's own time.
fn fixed_start(rule: &Rule, contact: &ContactRow) -> Option<i64> {
    match rule.start {
        StartPoint::ConversationEnd => Some(contact.last_message_at),
        StartPoint::RelationshipEnd => contact.closed_at,
        StartPoint::Collection | StartPoint::ConsentWithdrawal => None,
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

/// Why the DPO decided to keep data.
fn decision_citation(until: NaiveDate) -> Citation {
    Citation::of(|lang| {
        lang.pick(
            &format!(
                "Entscheidung der/des Datenschutzbeauftragten: aufbewahrt bis {}",
                until.format("%d.%m.%Y")
            ),
            &format!("decision of the data protection officer: kept until {until}"),
        )
    })
}

/// Whether the contact's data (address, name, key) is still there: its row goes only once
/// nothing refers to it, and an erased contact stays as an empty tombstone.
fn contact_remains(conn: &mut DbConn, tenant: &str, contact: &str) -> Result<bool, StoreError> {
    use crate::store::schema::contacts;
    let sealed: Option<Vec<u8>> = contacts::table
        .filter(contacts::tenant_id.eq(tenant))
        .filter(contacts::id.eq(contact))
        .select(contacts::address_sealed)
        .first(conn)
        .optional()?;
    Ok(sealed.is_some_and(|s| !s.is_empty()))
}

/// Items of `category` the contact has that were collected before `before` (the contact
/// itself counts as one).
fn remaining(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    category: Category,
    letters: Option<bool>,
    before: i64,
) -> Result<u64, StoreError> {
    if category == Category::Contacts {
        return Ok(u64::from(contact_remains(conn, tenant, contact)?));
    }
    count(
        conn,
        &all_of(
            tenant,
            contact,
            category,
            letters,
            before,
            ActiveHolds::default(),
        ),
    )
}

/// Erases the contact's own data once no message or consent of it is left and no active hold
/// names it: destroys its key and empties its row, which stays as a tombstone (requests, hold
/// records and ledger entries name it).
fn erase_contact(
    conn: &mut DbConn,
    selection: &Selection,
    progress: &mut CertificateProgress,
) -> Result<u64, StoreError> {
    let (t, contact) = (
        selection.tenant.as_str(),
        selection.contact.clone().unwrap_or_default(),
    );
    let holds = &selection.holds;
    let held = holds.whole_tenant || holds.contacts.iter().any(|h| h == &contact);
    let referred: i64 = messages::table
        .filter(messages::tenant_id.eq(t))
        .filter(messages::contact_id.eq(&contact))
        .count()
        .get_result(conn)?;
    let consented: i64 = consents::table
        .filter(consents::tenant_id.eq(t))
        .filter(consents::contact_id.eq(&contact))
        .count()
        .get_result(conn)?;
    use crate::store::schema::contacts;
    let times: Option<(i64, i64, Option<i64>)> = contacts::table
        .filter(contacts::tenant_id.eq(t))
        .filter(contacts::id.eq(&contact))
        .select((
            contacts::first_seen_at,
            contacts::last_message_at,
            contacts::closed_at,
        ))
        .first(conn)
        .optional()?;
    // The selection's rule decides when the contact's own period has run out.
    let due = times.is_some_and(|(first_seen, last_message, closed)| {
        let start = match selection.rule.start {
            StartPoint::Collection => Some(first_seen),
            StartPoint::ConversationEnd => Some(last_message),
            StartPoint::RelationshipEnd => closed,
            StartPoint::ConsentWithdrawal => None,
        };
        start.is_some_and(|s| s < selection.before)
    });
    if !due || held || referred > 0 || consented > 0 || !contact_remains(conn, t, &contact)? {
        return Ok(0);
    }
    crate::contacts::erase::tombstone(conn, t, &contact)?;
    progress.record(Category::Contacts, std::slice::from_ref(&contact));
    progress
        .keys_shredded
        .push(KeyOwner::Contact(contact.to_string()));
    Ok(1)
}

/// One category's erasure inside the request's write: deletes what may go now and measures
/// what stays. The answer's `until` for data kept only because other data needs it is filled
/// in by the caller, once every category is measured.
#[allow(clippy::too_many_arguments)]
fn erase_category(
    conn: &mut DbConn,
    contact: &ContactRow,
    rule: &Rule,
    letters: Option<bool>,
    present_before: u64,
    holds: &ActiveHolds,
    spare: &HashSet<String>,
    now: DateTime<Utc>,
    progress: &mut CertificateProgress,
) -> Result<CategoryAnswer, StoreError> {
    let (t, c) = (contact.tenant_id.as_str(), contact.id.as_str());
    let category = rule.category;
    let n = to_micros(now);
    let keeps = rule.ground.keeps_on_erasure();
    let cutoff = if keeps {
        rule.cutoff(now).map(|c| c.before).unwrap_or(i64::MIN)
    } else {
        i64::MAX
    };
    let may_go = |holds: &ActiveHolds| {
        if keeps {
            due(t, c, rule, letters, cutoff, holds.clone())
        } else {
            all_of(t, c, category, letters, i64::MAX, holds.clone())
        }
    };
    let erased = if category == Category::Contacts {
        erase_contact(conn, &may_go(holds), progress)?
    } else {
        delete_selected(conn, &may_go(holds), spare, now, progress)?
    };
    let kept = remaining(conn, t, c, category, letters, n + 1)?;
    // Held: what could go now but for a hold; for the contact, a hold naming it.
    let held = if category == Category::Contacts {
        let named = holds.contacts.iter().any(|h| h == c) || holds.whole_tenant;
        u64::from(kept > 0 && named)
    } else {
        count(conn, &may_go(&ActiveHolds::default()))?
            .saturating_sub(spare.len() as u64)
            .min(kept)
    };
    let mut answer = CategoryAnswer {
        category: category.as_str().into(),
        class: class_name(letters),
        present: present_before,
        erased,
        kept,
        held,
        ground: rule.ground.as_str().into(),
        norm: rule.norm.clone(),
        citation: None,
        until: None,
        decision_needed: false,
        decision: None,
    };
    if kept == 0 {
        return Ok(answer);
    }
    if !keeps {
        answer.citation = Some(if held == kept {
            hold_citation()
        } else {
            dependency_citation(category)
        });
        return Ok(answer);
    }
    answer.citation = Some(Citation::of(|lang| rule.citation(lang)));
    let start = match rule.start {
        StartPoint::Collection | StartPoint::ConsentWithdrawal => newest(
            conn,
            &all_of(t, c, category, letters, i64::MAX, ActiveHolds::default()),
        )?,
        _ => fixed_start(rule, contact),
    };
    match start.and_then(|s| rule.release(from_micros(s))) {
        // Past its end: what is left is held.
        Some(end) if end <= now => answer.citation = Some(hold_citation()),
        Some(end) => answer.until = Some(end),
        // Every kept item needs an end: without one the DPO decides.
        None => answer.decision_needed = kept > held,
    }
    Ok(answer)
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

    /// Records the DPO's decision on a category whose end could not be computed: keep it until
    /// a date, or erase it now. Completes the request once nothing waits any more.
    pub async fn decide_erasure(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        input: DecisionInput,
    ) -> Result<ErasureOutcome> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let category = Category::ALL
            .into_iter()
            .find(|c| c.as_str() == input.category)
            .ok_or_else(|| Error::invalid("category", "is not a data category of Hafen"))?;
        let reason = input.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(Error::invalid(
                "reason",
                format!("must say why (1 to {MAX_REASON} characters)"),
            ));
        }
        let today = self.infra.clock.now().date_naive();
        let keep_until = match (input.decision.as_str(), input.until) {
            ("keep_until", Some(until)) if until > today => Some(until),
            ("keep_until", Some(_)) => {
                return Err(Error::invalid("until", "must be a date after today"))
            }
            ("keep_until", None) => {
                return Err(Error::invalid(
                    "until",
                    "is required to keep the data until a date",
                ))
            }
            ("erase", None) => None,
            ("erase", Some(_)) => return Err(Error::invalid("until", "goes with keep_until only")),
            _ => return Err(Error::invalid("decision", "must be keep_until or erase")),
        };
        let request = self.request_row(tenant, id).await?;
        if request.status != DECISION_NEEDED {
            return Err(Error::Conflict(format!(
                "this request is {}: no decision is waiting",
                request.status
            )));
        }
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let item_id_for_seal = format!("{id}:{}", category.as_str());
        let sealed = tenant_keys.seal.seal(
            &FieldBinding {
                tenant: tenant.as_str(),
                table: "erasure_items",
                column: "decision_reason",
                row: &item_id_for_seal,
            },
            reason.as_bytes(),
        )?;
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "dsr.erasure_decision")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!(
                "category={} decision={}",
                category.as_str(),
                input.decision
            ));
        let (t, rid, by) = (
            tenant.as_str().to_string(),
            id.to_string(),
            actor.audit_label(),
        );
        let decision = input.decision.clone();
        let class = match input.class.as_deref() {
            None => None,
            Some(c @ (BUSINESS_LETTER | OTHER_MESSAGES)) => Some(c.to_string()),
            Some(_) => {
                return Err(Error::invalid(
                    "class",
                    format!("must be {BUSINESS_LETTER} or {OTHER_MESSAGES}"),
                ))
            }
        };
        let outcome = self
            .infra
            .store
            .write(move |conn| {
                let rows: Vec<ItemRow> = erasure_items::table
                    .filter(erasure_items::tenant_id.eq(&t))
                    .filter(erasure_items::request_id.eq(&rid))
                    .filter(erasure_items::category.eq(category.as_str()))
                    .select(ItemRow::as_select())
                    .load(conn)?;
                let row = rows
                    .into_iter()
                    .find(|r| r.state == AWAITING && (class.is_none() || r.class == class));
                let Some(row) = row.filter(|r| r.state == AWAITING) else {
                    return Err(StoreError::from(Error::Conflict(format!(
                        "no decision is waiting for {}",
                        category.as_str()
                    ))));
                };
                let mut erased = 0;
                let mut certificate = None;
                if keep_until.is_none() {
                    let mut progress = CertificateProgress::new(
                        &format!("erasure:{rid}"),
                        &t,
                        serde_json::json!({ "erasure_request": rid, "decision": "erase" })
                            .to_string(),
                        now,
                    );
                    certificates::start(conn, &progress)?;
                    let holds = holds::active(conn, &t, to_micros(now))?;
                    let selection = all_of(
                        &t,
                        &row.contact_id,
                        category,
                        class_letters(row.class.as_deref()),
                        row.requested_at + 1,
                        holds,
                    );
                    erased = if category == Category::Contacts {
                        erase_contact(conn, &selection, &mut progress)?
                    } else {
                        delete_selected(conn, &selection, &HashSet::new(), now, &mut progress)?
                    };
                    certificates::finish(
                        conn,
                        &progress.id,
                        certificates::COMPLETED,
                        now,
                        Some(&progress),
                    )?;
                    certificate = Some(progress.id.clone());
                }
                let left = remaining(
                    conn,
                    &t,
                    &row.contact_id,
                    category,
                    class_letters(row.class.as_deref()),
                    row.requested_at + 1,
                )?;
                let until = keep_until
                    .and_then(|d| d.succ_opt())
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc());
                diesel::update(erasure_items::table.filter(erasure_items::id.eq(&row.id)))
                    .set((
                        erasure_items::state.eq(if left == 0 { DONE } else { KEPT }),
                        erasure_items::decision.eq(Some(&decision)),
                        erasure_items::decision_reason_sealed.eq(Some(&sealed)),
                        erasure_items::decided_by.eq(Some(&by)),
                        erasure_items::decided_at.eq(Some(to_micros(now))),
                        erasure_items::until.eq(until.map(to_micros)),
                        erasure_items::kept.eq(left as i32),
                        erasure_items::done_at.eq((left == 0).then_some(to_micros(now))),
                    ))
                    .execute(conn)?;
                let request =
                    super::find(conn, &t, &rid)?.ok_or(StoreError::from(Error::NotFound))?;
                let mut outcome: ErasureOutcome = request
                    .outcome
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .ok_or_else(|| {
                        StoreError::from(Error::internal(anyhow::anyhow!(
                            "erasure outcome unreadable"
                        )))
                    })?;
                if let Some(answer) = outcome
                    .categories
                    .iter_mut()
                    .find(|c| c.category == category.as_str() && c.class == row.class)
                {
                    answer.decision_needed = false;
                    answer.decision = Some(decision.clone());
                    answer.erased += erased;
                    answer.kept = left;
                    answer.until = until;
                    if let Some(d) = keep_until {
                        answer.citation = Some(decision_citation(d));
                    } else if left == 0 {
                        answer.citation = None;
                    }
                }
                if erased > 0 {
                    *outcome.deleted.entry(category.as_str().into()).or_default() += erased;
                }
                outcome.settle();
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
                    certificate.as_deref().or(request.certificate_id.as_deref()),
                    &by,
                    to_micros(now),
                )?;
                audit::append(conn, now, event.clone())?;
                Ok(outcome)
            })
            .await?;
        Ok(outcome)
    }

    /// Erases what erasure requests kept back once its end has passed (called by each
    /// tenant's retention run); one certificate per request that deleted something.
    pub(crate) async fn erase_kept_items(
        &self,
        tenant: &str,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let t = tenant.to_string();
        let rows: Vec<ItemRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(erasure_items::table
                    .filter(erasure_items::tenant_id.eq(&t))
                    .filter(erasure_items::state.eq(KEPT))
                    .order((erasure_items::request_id, erasure_items::id))
                    .select(ItemRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut by_request: BTreeMap<String, Vec<ItemRow>> = BTreeMap::new();
        for row in rows {
            by_request
                .entry(row.request_id.clone())
                .or_default()
                .push(row);
        }
        let mut total = 0;
        for (request, mut rows) in by_request {
            rows.sort_by_key(|r| ORDER.iter().position(|c| c.as_str() == r.category));
            let progress = CertificateProgress::new(
                &format!("erasure:{request}"),
                tenant,
                serde_json::json!({ "erasure_request": request, "retention_run": run_id })
                    .to_string(),
                now,
            );
            let deleted = self
                .infra
                .store
                .write(move |conn| {
                    let mut progress = progress.clone();
                    let holds = holds::active(conn, &progress.tenant_id, to_micros(now))?;
                    let mut started = false;
                    let mut deleted = 0;
                    for row in &rows {
                        let Some(selection) = due_for_row(row, &holds, now) else {
                            continue;
                        };
                        if !started {
                            certificates::start(conn, &progress)?;
                            started = true;
                        }
                        let spare = if selection.rule.category == Category::MessageMetadata {
                            let content = still_kept(conn, &rows, Category::MessageContent)?;
                            let files = still_kept(conn, &rows, Category::Attachments)?;
                            protected_messages(
                                conn,
                                &row.tenant_id,
                                &row.contact_id,
                                content,
                                files,
                            )?
                        } else {
                            HashSet::new()
                        };
                        let category = selection.rule.category;
                        deleted += if category == Category::Contacts {
                            erase_contact(conn, &selection, &mut progress)?
                        } else {
                            delete_selected(conn, &selection, &spare, now, &mut progress)?
                        };
                        let left = remaining(
                            conn,
                            &row.tenant_id,
                            &row.contact_id,
                            category,
                            class_letters(row.class.as_deref()),
                            row.requested_at + 1,
                        )?;
                        diesel::update(erasure_items::table.filter(erasure_items::id.eq(&row.id)))
                            .set((
                                erasure_items::kept.eq(left as i32),
                                erasure_items::state.eq(if left == 0 { DONE } else { KEPT }),
                                erasure_items::done_at.eq((left == 0).then_some(to_micros(now))),
                            ))
                            .execute(conn)?;
                    }
                    if started {
                        certificates::finish(
                            conn,
                            &progress.id,
                            certificates::COMPLETED,
                            now,
                            Some(&progress),
                        )?;
                    }
                    Ok((deleted, progress.keys_shredded.clone()))
                })
                .await?;
            let (deleted, shredded) = deleted;
            for key in shredded {
                if let KeyOwner::Contact(_) = key {
                    self.infra.keys.forget(&key);
                }
            }
            total += deleted;
        }
        Ok(total)
    }
}

/// What erasure requests keep back in a tenant, for the deletion report: one entry per request
/// and category still kept or waiting for a decision.
#[derive(Debug, Clone)]
pub struct KeptByRequest {
    pub request_id: String,
    pub category: String,
    pub kept: i64,
    pub citation: Citation,
    pub until: Option<DateTime<Utc>>,
    pub decision_needed: bool,
}

pub fn kept_by_requests(conn: &mut DbConn, tenant: &str) -> Result<Vec<KeptByRequest>, StoreError> {
    let rows: Vec<ItemRow> = erasure_items::table
        .filter(erasure_items::tenant_id.eq(tenant))
        .filter(erasure_items::state.ne(DONE))
        .order((erasure_items::request_id, erasure_items::id))
        .select(ItemRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let rule = r.rule();
            let citation = match (&r.decision, r.until, &rule) {
                (Some(_), Some(until), _) => {
                    decision_citation((from_micros(until) - chrono::Duration::days(1)).date_naive())
                }
                (_, _, Some(rule)) if rule.ground.keeps_on_erasure() => {
                    Citation::of(|lang| rule.citation(lang))
                }
                (_, _, _) if r.held == r.kept => hold_citation(),
                _ => dependency_citation(r.category().unwrap_or(Category::Contacts)),
            };
            KeptByRequest {
                decision_needed: r.state == AWAITING,
                until: r.until.map(from_micros),
                kept: i64::from(r.kept),
                request_id: r.request_id,
                category: r.category,
                citation,
            }
        })
        .collect())
}

/// The last day erasure requests keep any of the contact's data (None: nothing kept, or only
/// open-ended by a hold or a pending decision).
pub fn kept_until(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let until: Option<i64> = erasure_items::table
        .filter(erasure_items::tenant_id.eq(tenant))
        .filter(erasure_items::contact_id.eq(contact))
        .filter(erasure_items::state.ne(DONE))
        .select(diesel::dsl::max(erasure_items::until))
        .first(conn)?;
    Ok(until.map(from_micros))
}

/// Whether the request still keeps items of `category` (its row is open and items remain).
fn still_kept(conn: &mut DbConn, rows: &[ItemRow], category: Category) -> Result<bool, StoreError> {
    for row in rows.iter().filter(|r| r.category == category.as_str()) {
        let left = remaining(
            conn,
            &row.tenant_id,
            &row.contact_id,
            category,
            class_letters(row.class.as_deref()),
            row.requested_at + 1,
        )?;
        if left > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What of a kept category may go now: everything once a decided date or the rule's end for
/// a fixed start has passed, item by item for rules counted from the item's own time, and for
/// data kept because other data needed it (or a hold), whatever is no longer needed or held.
fn due_for_row(row: &ItemRow, holds: &ActiveHolds, now: DateTime<Utc>) -> Option<Selection> {
    let category = row.category()?;
    let request_bound = row.requested_at + 1;
    let everything = || {
        Some(all_of(
            &row.tenant_id,
            &row.contact_id,
            category,
            class_letters(row.class.as_deref()),
            request_bound,
            holds.clone(),
        ))
    };
    if row.decision.as_deref() == Some("keep_until") {
        return if row.until.is_some_and(|u| u <= to_micros(now)) {
            everything()
        } else {
            None
        };
    }
    let rule = row.rule()?;
    if !rule.ground.keeps_on_erasure() {
        return everything();
    }
    match rule.start {
        StartPoint::Collection | StartPoint::ConsentWithdrawal => {
            let cutoff = rule.cutoff(now)?.before.min(request_bound);
            Some(due(
                &row.tenant_id,
                &row.contact_id,
                &rule,
                class_letters(row.class.as_deref()),
                cutoff,
                holds.clone(),
            ))
        }
        StartPoint::ConversationEnd | StartPoint::RelationshipEnd => {
            let end = rule.release(from_micros(row.start_at?))?;
            if end <= now {
                everything()
            } else {
                None
            }
        }
    }
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
