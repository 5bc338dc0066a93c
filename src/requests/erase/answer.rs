//! What an erasure answers, per category: deleted, kept (and the ground the law gives for
//! it, in its words), or awaiting a decision; the items kept back, and the overview a person reads.

use super::*;

/// A legal text in both languages of the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Citation {
    pub de: String,
    pub en: String,
}

impl Citation {
    pub(super) fn of(text: impl Fn(Lang) -> String) -> Self {
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
    pub(super) fn settle(&mut self) {
        self.decision_needed = self.categories.iter().any(|c| c.decision_needed);
        self.restricted = self.categories.iter().any(|c| c.kept > 0);
        self.erased = !self.restricted;
        self.restricted_until = self.categories.iter().filter_map(|c| c.until).max();
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = erasure_items)]
pub(super) struct ItemRow {
    pub(super) id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) tenant_id: String,
    pub(super) request_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub(super) contact_id: String,
    pub(super) category: String,
    pub(super) class: Option<String>,
    pub(super) rule: String,
    pub(super) start_at: Option<i64>,
    pub(super) requested_at: i64,
    pub(super) kept: i32,
    pub(super) held: i32,
    pub(super) until: Option<i64>,
    pub(super) state: String,
    pub(super) decision: Option<String>,
    pub(super) decision_reason_sealed: Option<Vec<u8>>,
    pub(super) decided_by: Option<String>,
    pub(super) decided_at: Option<i64>,
    pub(super) done_at: Option<i64>,
}

impl ItemRow {
    pub(super) fn category(&self) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == self.category)
    }

    pub(super) fn rule(&self) -> Option<Rule> {
        let input: RuleInput = serde_json::from_str(&self.rule).ok()?;
        RuleSet::parse(&[input]).ok()?.rules.into_iter().next()
    }
}

/// Why data under a legal hold is kept.
pub(super) fn hold_citation() -> Citation {
    Citation::of(|lang| {
        lang.pick(
            "Art. 17 Abs. 3 lit. e DSGVO: Aufbewahrungssperre (Legal Hold) zur Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen, solange sie besteht",
            "Art. 17(3)(e) GDPR: legal hold for the establishment, exercise or defence of legal claims, while it lasts",
        )
    })
}

/// Why data kept only because other kept data needs it is kept.
pub(super) fn dependency_citation(category: Category) -> Citation {
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
pub(super) fn item_row(
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
