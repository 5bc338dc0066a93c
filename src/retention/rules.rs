//! Deletion rules (DIN 66398 "Löschregeln"): data category × scope × start point × period.
//!
//! Input arrives as [`RuleInput`] (JSON); [`RuleSet::parse`] validates it into [`Rule`]s or
//! names the first field that is wrong. A rule without a period is refused: keeping data
//! forever needs the explicit `"keep"` marker.

mod defaults;
mod ground;
mod period;
pub use defaults::*;
pub use ground::*;
pub use period::*;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::address::ChannelName;
use crate::clock::to_micros;
use crate::error::{Error, Result};

/// Most rules one set may hold (categories × channels is far below this).
pub const MAX_RULES: usize = 200;
const MAX_TEXT: usize = 500;

/// What kind of data a rule deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Contacts (address, name) once nothing refers to them any more.
    Contacts,
    /// Message bodies, raw platform payloads and platform message ids; the row stays.
    MessageContent,
    /// Downloaded files of messages.
    Attachments,
    /// The message rows themselves (with their statuses and attachments).
    MessageMetadata,
    /// Delivery statuses reported by the platforms.
    DeliveryStatuses,
    /// Outbound event webhook deliveries (the company's systems), once finished.
    WebhookLogs,
    /// Consent requests that were never confirmed (pending or expired).
    ConsentRequests,
    /// Proofs of consent (state and ledger evidence) once consent was withdrawn.
    ConsentProofs,
}

impl Category {
    /// The category's name for people (reports, certificates, the retention pages).
    pub fn label(self, lang: crate::i18n::Lang) -> String {
        match self {
            Category::Contacts => lang.pick("Kontakte (Adresse, Name)", "Contacts (address, name)"),
            Category::MessageContent => lang.pick("Nachrichteninhalte", "Message contents"),
            Category::Attachments => lang.pick("Dateien", "Files"),
            Category::MessageMetadata => lang.pick("Nachrichten-Metadaten", "Message metadata"),
            Category::DeliveryStatuses => lang.pick("Zustellstatus", "Delivery statuses"),
            Category::WebhookLogs => lang.pick("Webhook-Protokolle", "Webhook logs"),
            Category::ConsentRequests => lang.pick(
                "Unbestätigte Einwilligungsanfragen",
                "Unconfirmed consent requests",
            ),
            Category::ConsentProofs => lang.pick("Einwilligungsnachweise", "Consent proofs"),
        }
    }

    /// The order a sweep takes: contacts first (they qualify only when nothing refers to them
    /// at the start of the run), then whatever hangs off a message before the message row
    /// (which takes its remaining statuses and attachments with it).
    pub const ALL: [Category; 8] = [
        Category::Contacts,
        Category::MessageContent,
        Category::Attachments,
        Category::DeliveryStatuses,
        Category::WebhookLogs,
        Category::MessageMetadata,
        Category::ConsentRequests,
        Category::ConsentProofs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Contacts => "contacts",
            Category::MessageContent => "message_content",
            Category::Attachments => "attachments",
            Category::MessageMetadata => "message_metadata",
            Category::DeliveryStatuses => "delivery_statuses",
            Category::WebhookLogs => "webhook_logs",
            Category::ConsentRequests => "consent_requests",
            Category::ConsentProofs => "consent_proofs",
        }
    }

    fn parse(field: &str, s: &str) -> Result<Self> {
        if s == "audit_log" {
            return Err(Error::invalid(
                field,
                "the audit log is one chain for the whole install: its period is the config option audit_retention_years, not a tenant rule",
            ));
        }
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("must be one of {}", names(Self::ALL.map(Self::as_str))),
                )
            })
    }

    /// Start points that make sense for this category.
    pub fn start_points(self) -> &'static [StartPoint] {
        use StartPoint::*;
        match self {
            Category::Contacts => &[Collection, ConversationEnd, RelationshipEnd],
            Category::MessageContent | Category::Attachments | Category::MessageMetadata => {
                &[Collection, ConversationEnd, RelationshipEnd]
            }
            Category::DeliveryStatuses | Category::WebhookLogs | Category::ConsentRequests => {
                &[Collection]
            }
            Category::ConsentProofs => &[ConsentWithdrawal],
        }
    }

    /// Whether a rule of this category may be limited to business letters: the categories
    /// of a message.
    pub fn has_class(self) -> bool {
        matches!(
            self,
            Category::MessageContent | Category::MessageMetadata | Category::Attachments
        )
    }

    /// Whether a rule of this category may be limited to one channel.
    pub fn has_channel(self) -> bool {
        !matches!(
            self,
            Category::WebhookLogs | Category::ConsentRequests | Category::ConsentProofs
        )
    }
}

/// How long a rule keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retain {
    For(Period),
    /// Explicitly kept until a person decides otherwise.
    Keep,
}

/// One rule as submitted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleInput {
    /// `contacts`, `message_content`, `attachments`, `message_metadata`,
    /// `delivery_statuses`, `webhook_logs`, `consent_requests`, `consent_proofs`.
    pub category: String,
    /// Limits the rule to one channel (`whatsapp`, …); absent: the whole tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `collection`, `conversation_end`, `relationship_end`, `consent_withdrawal`.
    pub start: String,
    /// The period starts at the end of the calendar year of the start point (HGB/AO).
    #[serde(default)]
    pub end_of_year: bool,
    /// ISO 8601 period (`P6Y`, `P90D`, `PT48H`) or `keep`.
    pub period: String,
    /// Why this period, e.g. "§ 257 HGB: Handelsbriefe, 6 Jahre".
    pub legal_basis: String,
    /// The deletion class (Löschklasse) label of the deletion concept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_class: Option<String>,
    /// `business_letter`: the rule covers only messages marked as business letters
    /// (Handels- und Geschäftsbriefe, § 257 HGB); absent: the other messages. Message
    /// categories only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Why the data may outlive an erasure request: `statutory` (a legal duty to keep,
    /// Art. 17(3)(b) GDPR, e.g. § 257 HGB), `contractual_or_bylaw` (restriction instead of
    /// erasure, § 35(3) BDSG), `legal_claims` (Art. 17(3)(e) GDPR) or `none` (the default:
    /// erasure deletes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground: Option<String>,
    /// The provision that sets the period, e.g. "§ 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB; § 147 Abs. 1
    /// Nr. 2, 3, Abs. 3 AO" or "Rahmenvertrag § 12": required for `statutory` and
    /// `contractual_or_bylaw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm: Option<String>,
    /// Before `ground`: `true` meant a statutory duty. Still read (stored rule sets, older
    /// clients) as `ground: statutory` with the legal basis as its norm; never written.
    #[serde(default, skip_serializing)]
    #[schema(deprecated)]
    pub statutory: bool,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub category: Category,
    pub channel: Option<ChannelName>,
    /// Only messages marked as business letters (true), or only the others (false).
    pub business_letters: bool,
    pub start: StartPoint,
    pub end_of_year: bool,
    pub retain: Retain,
    pub legal_basis: String,
    pub deletion_class: Option<String>,
    /// Why the data may outlive an erasure request (see [`Ground`]).
    pub ground: Ground,
    /// The provision setting the period (required for statutory and contractual grounds).
    pub norm: Option<String>,
}

/// Where a rule's period ends at `now`: items whose start time is before `before` are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    pub before: i64,
}

impl Rule {
    fn parse(at: &str, input: &RuleInput) -> Result<Self> {
        let category = Category::parse(&format!("{at}.category"), &input.category)?;
        let start = StartPoint::parse(&format!("{at}.start"), &input.start)?;
        if !category.start_points().contains(&start) {
            return Err(Error::invalid(
                format!("{at}.start"),
                format!(
                    "{} can start at {} only",
                    category.as_str(),
                    names(category.start_points().iter().map(|p| p.as_str()))
                ),
            ));
        }
        let channel = match &input.channel {
            None => None,
            Some(_) if !category.has_channel() => {
                return Err(Error::invalid(
                    format!("{at}.channel"),
                    format!("{} rules apply to the whole tenant", category.as_str()),
                ))
            }
            Some(c) => Some(ChannelName::parse(&format!("{at}.channel"), c)?),
        };
        let business_letters = match input.class.as_deref() {
            None => false,
            Some(BUSINESS_LETTER) if category.has_class() => true,
            Some(BUSINESS_LETTER) => {
                return Err(Error::invalid(
                    format!("{at}.class"),
                    format!("{} rules cannot be limited to business letters: only message_content, message_metadata and attachments", category.as_str()),
                ))
            }
            Some(_) => {
                return Err(Error::invalid(
                    format!("{at}.class"),
                    format!("must be {BUSINESS_LETTER} or absent"),
                ))
            }
        };
        let retain = match input.period.as_str() {
            "keep" => Retain::Keep,
            "" => {
                return Err(Error::invalid(
                    format!("{at}.period"),
                    "is required; to keep data without limit, say \"keep\"",
                ))
            }
            p => Retain::For(Period::parse(&format!("{at}.period"), p)?),
        };
        let legal_basis = input.legal_basis.trim().to_string();
        if legal_basis.is_empty() || legal_basis.len() > MAX_TEXT {
            return Err(Error::invalid(
                format!("{at}.legal_basis"),
                format!("must name the legal basis (1 to {MAX_TEXT} characters)"),
            ));
        }
        let deletion_class = match input.deletion_class.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() > 100 => {
                return Err(Error::invalid(
                    format!("{at}.deletion_class"),
                    "must be at most 100 characters",
                ))
            }
            Some(c) => Some(c.to_string()),
        };
        let ground = match (input.ground.as_deref(), input.statutory) {
            (Some(g), _) => Ground::parse(&format!("{at}.ground"), g)?,
            (None, true) => Ground::Statutory,
            (None, false) => Ground::None,
        };
        let norm = match input.norm.as_deref().map(str::trim) {
            Some(n) if n.len() > MAX_TEXT => {
                return Err(Error::invalid(
                    format!("{at}.norm"),
                    format!("must be at most {MAX_TEXT} characters"),
                ))
            }
            Some(n) if !n.is_empty() => Some(n.to_string()),
            // A rule stored before grounds existed named its statute in the legal basis.
            _ if input.ground.is_none() && input.statutory => Some(legal_basis.clone()),
            _ => None,
        };
        if ground.needs_norm() && norm.is_none() {
            return Err(Error::invalid(
                format!("{at}.norm"),
                format!(
                    "must name the provision that sets the period (a statute such as § 257 HGB, or the contract or by-law) for ground {}",
                    ground.as_str()
                ),
            ));
        }
        // Rules stored before grounds existed may say "keep" with `statutory`: they still load,
        // and an erasure then asks the DPO to decide (docs/retention.md).
        if input.ground.is_some() && ground.keeps_on_erasure() && retain == Retain::Keep {
            return Err(Error::invalid(
                format!("{at}.period"),
                format!(
                    "must be a period for ground {}: data kept against an erasure request needs an end",
                    ground.as_str()
                ),
            ));
        }
        Ok(Self {
            category,
            channel,
            business_letters,
            start,
            end_of_year: input.end_of_year,
            retain,
            legal_basis,
            deletion_class,
            ground,
            norm,
        })
    }

    /// When this rule lets go of data whose period starts at `start`: start (or 1 January
    /// after it, for end-of-year rules) plus the period. None for "keep".
    pub fn release(&self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Retain::For(p) = self.retain else {
            return None;
        };
        let from = if self.end_of_year {
            Utc.with_ymd_and_hms(start.year() + 1, 1, 1, 0, 0, 0)
                .single()?
        } else {
            start
        };
        from.checked_add_months(Months::new(p.years * 12 + p.months))?
            .checked_add_signed(Duration::days(i64::from(p.days)))?
            .checked_add_signed(Duration::hours(i64::from(p.hours)))
    }

    /// The citation for data this rule keeps against an erasure request: the ground in the
    /// law's words and, where there is one, the provision that sets the period.
    pub fn citation(&self, lang: crate::i18n::Lang) -> String {
        match &self.norm {
            Some(norm) => format!(
                "{} {} {norm}",
                self.ground.citation(lang),
                lang.pick("i. V. m.", "with")
            ),
            None => self.ground.citation(lang),
        }
    }

    /// The rule's deadline at `now`, or None for "keep".
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<Cutoff> {
        let Retain::For(period) = self.retain else {
            return None;
        };
        period.cutoff(now, self.end_of_year)
    }

    pub fn input(&self) -> RuleInput {
        RuleInput {
            category: self.category.as_str().into(),
            channel: self.channel.as_ref().map(|c| c.as_str().to_string()),
            start: self.start.as_str().into(),
            end_of_year: self.end_of_year,
            period: match self.retain {
                Retain::Keep => "keep".into(),
                Retain::For(p) => p.iso(),
            },
            legal_basis: self.legal_basis.clone(),
            deletion_class: self.deletion_class.clone(),
            class: self.business_letters.then(|| BUSINESS_LETTER.to_string()),
            ground: Some(self.ground.as_str().into()),
            norm: self.norm.clone(),
            statutory: false,
        }
    }
}

/// A tenant's rules; categories it does not name follow the install's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    pub fn parse(inputs: &[RuleInput]) -> Result<Self> {
        if inputs.len() > MAX_RULES {
            return Err(Error::invalid(
                "rules",
                format!("must hold at most {MAX_RULES} rules"),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut rules = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let rule = Rule::parse(&format!("rules[{i}]"), input)?;
            let key = (
                rule.category,
                rule.channel.as_ref().map(|c| c.as_str().to_string()),
                rule.business_letters,
            );
            if !seen.insert(key) {
                return Err(Error::invalid(
                    format!("rules[{i}]"),
                    "repeats the category, channel and class of an earlier rule",
                ));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// This set completed by the install's defaults for every category (and, for messages,
    /// class) it leaves out tenant-wide: business letters stay under the statutory default
    /// unless the tenant says otherwise.
    pub fn effective(&self) -> RuleSet {
        let mut rules = self.rules.clone();
        for default in defaults().rules {
            let covered = rules.iter().any(|r| {
                r.category == default.category
                    && r.channel.is_none()
                    && r.business_letters == default.business_letters
            });
            if !covered {
                rules.push(default);
            }
        }
        RuleSet { rules }
    }

    /// The rules of one category, most specific first: business-letter rules (a statutory
    /// duty follows the document, whatever the channel), then channel rules, then the
    /// tenant-wide one.
    pub fn for_category(&self, category: Category) -> Vec<&Rule> {
        let mut rules: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.category == category)
            .collect();
        rules.sort_by_key(|r| (!r.business_letters, r.channel.is_none()));
        rules
    }

    /// The rule in force for `category` on `channel` for a business letter or not: the most
    /// specific that applies (a WhatsApp rule says nothing about Telegram data; a rule for
    /// business letters says nothing about other messages).
    pub fn rule_for(
        &self,
        category: Category,
        channel: &str,
        business_letter: bool,
    ) -> Option<&Rule> {
        self.for_category(category).into_iter().find(|r| {
            r.channel.as_ref().is_none_or(|c| c.as_str() == channel)
                && (!r.business_letters || business_letter)
        })
    }

    pub fn inputs(&self) -> Vec<RuleInput> {
        self.rules.iter().map(Rule::input).collect()
    }

    /// Canonical JSON: what is stored, and what the preview id is bound to.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(&self.inputs()).unwrap_or_default()
    }

    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.canonical_json().as_bytes()).to_vec()
    }
}

fn names<'a>(all: impl IntoIterator<Item = &'a str>) -> String {
    all.into_iter().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
