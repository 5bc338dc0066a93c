//! Deletion rules (DIN 66398 "Löschregeln"): data category × scope × start point × period.
//!
//! Input arrives as [`RuleInput`] (JSON); [`RuleSet::parse`] validates it into [`Rule`]s or
//! names the first field that is wrong. A rule without a period is refused: keeping data
//! forever needs the explicit `"keep"` marker.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::to_micros;
use crate::error::{Error, Result};
use crate::messages::types::ChannelName;

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

    /// Whether a rule of this category may be limited to one channel.
    pub fn has_channel(self) -> bool {
        !matches!(
            self,
            Category::WebhookLogs | Category::ConsentRequests | Category::ConsentProofs
        )
    }
}

/// When the period starts (DIN 66398 start points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPoint {
    /// When the item was collected (message time, status receipt, request time).
    Collection,
    /// The contact's last message on that channel.
    ConversationEnd,
    /// When the contact was marked closed (end of the business relationship).
    RelationshipEnd,
    /// When consent was withdrawn.
    ConsentWithdrawal,
}

impl StartPoint {
    const ALL: [StartPoint; 4] = [
        StartPoint::Collection,
        StartPoint::ConversationEnd,
        StartPoint::RelationshipEnd,
        StartPoint::ConsentWithdrawal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StartPoint::Collection => "collection",
            StartPoint::ConversationEnd => "conversation_end",
            StartPoint::RelationshipEnd => "relationship_end",
            StartPoint::ConsentWithdrawal => "consent_withdrawal",
        }
    }

    fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("must be one of {}", names(Self::ALL.map(Self::as_str))),
                )
            })
    }
}

/// A standard deletion period: calendar years, months, days and hours (ISO 8601 `P6Y`,
/// `P3M`, `P90D`, `PT48H`, or combinations like `P1Y6M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Period {
    pub const fn years(years: u32) -> Self {
        Self {
            years,
            months: 0,
            days: 0,
            hours: 0,
        }
    }

    pub const fn days(days: u32) -> Self {
        Self {
            years: 0,
            months: 0,
            days,
            hours: 0,
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                field,
                "must be an ISO 8601 period such as P6Y, P3M, P90D or PT48H, or \"keep\"",
            )
        };
        let rest = s.strip_prefix('P').ok_or_else(bad)?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let mut period = Period {
            years: 0,
            months: 0,
            days: 0,
            hours: 0,
        };
        let mut any = false;
        for (part, units) in [(date, "YMWD"), (time.unwrap_or(""), "H")] {
            let mut number = String::new();
            let mut last = 0usize;
            for c in part.chars() {
                if c.is_ascii_digit() {
                    number.push(c);
                    continue;
                }
                let position = units.find(c).ok_or_else(bad)? + 1;
                // Units must come in order, each once, and carry a number.
                if position <= last || number.is_empty() || number.len() > 5 {
                    return Err(bad());
                }
                last = position;
                let n: u32 = number.parse().map_err(|_| bad())?;
                number.clear();
                any = true;
                match c {
                    'Y' => period.years = n,
                    'M' => period.months = n,
                    'W' => period.days += n * 7,
                    'D' => period.days += n,
                    _ => period.hours = n,
                }
            }
            if !number.is_empty() {
                return Err(bad());
            }
        }
        if !any || period.years > 200 {
            return Err(bad());
        }
        Ok(period)
    }

    pub fn iso(&self) -> String {
        let mut s = String::from("P");
        for (n, unit) in [(self.years, 'Y'), (self.months, 'M'), (self.days, 'D')] {
            if n > 0 {
                s.push_str(&format!("{n}{unit}"));
            }
        }
        if self.hours > 0 {
            s.push_str(&format!("T{}H", self.hours));
        }
        if s == "P" {
            s.push_str("0D");
        }
        s
    }

    /// `at` moved back by this period (calendar months clamp to the month's last day).
    fn before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        at.checked_sub_months(Months::new(self.years * 12 + self.months))?
            .checked_sub_signed(Duration::days(i64::from(self.days)))?
            .checked_sub_signed(Duration::hours(i64::from(self.hours)))
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
    /// The period is a legal obligation to keep (e.g. § 257 HGB): an erasure request then
    /// restricts the data instead of deleting it (§ 35(3) BDSG) until the period ends.
    #[serde(default, skip_serializing_if = "is_false")]
    pub statutory: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub category: Category,
    pub channel: Option<ChannelName>,
    pub start: StartPoint,
    pub end_of_year: bool,
    pub retain: Retain,
    pub legal_basis: String,
    pub deletion_class: Option<String>,
    /// A legal obligation to keep (see [`RuleInput::statutory`]).
    pub statutory: bool,
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
        Ok(Self {
            category,
            channel,
            start,
            end_of_year: input.end_of_year,
            retain,
            legal_basis,
            deletion_class,
            statutory: input.statutory,
        })
    }

    /// The rule's deadline at `now`, or None for "keep".
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<Cutoff> {
        let Retain::For(period) = self.retain else {
            return None;
        };
        let limit = period.before(now)?;
        let before = if self.end_of_year {
            // Due once 1 January after the start point's year plus the period has passed:
            // start < 1 January of the year of (now - period). The year turns in UTC, an hour
            // after it does in Germany: later, never earlier, than the law requires.
            let jan1 = Utc.with_ymd_and_hms(limit.year(), 1, 1, 0, 0, 0).single()?;
            to_micros(jan1)
        } else {
            to_micros(limit) + 1
        };
        Some(Cutoff { before })
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
            statutory: self.statutory,
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
            );
            if !seen.insert(key) {
                return Err(Error::invalid(
                    format!("rules[{i}]"),
                    "repeats the category and channel of an earlier rule",
                ));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// This set completed by the install's defaults for every category it leaves out.
    pub fn effective(&self) -> RuleSet {
        let mut rules = self.rules.clone();
        for default in defaults().rules {
            let covered = rules
                .iter()
                .any(|r| r.category == default.category && r.channel.is_none());
            if !covered {
                rules.push(default);
            }
        }
        RuleSet { rules }
    }

    /// The rules of one category: channel-specific ones first, then the tenant-wide one.
    pub fn for_category(&self, category: Category) -> Vec<&Rule> {
        let mut rules: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.category == category)
            .collect();
        rules.sort_by_key(|r| r.channel.is_none());
        rules
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

/// The install's defaults: conservative (they keep what German commercial and tax law may
/// require), documented in docs/retention.md.
pub fn defaults() -> RuleSet {
    let hgb =
        "§ 257 HGB, § 147 AO: Handels- und Geschäftsbriefe, 6 Jahre ab Ende des Kalenderjahres";
    // Commercial and tax law (HGB/AO) and the duty to prove consent are obligations to
    // keep: erasure requests restrict that data instead of deleting it.
    let rule = |category, start, end_of_year, period, basis: &str| Rule {
        category,
        channel: None,
        start,
        end_of_year,
        retain: Retain::For(period),
        legal_basis: basis.to_string(),
        deletion_class: None,
        statutory: basis.starts_with('§') || category == ConsentProofs,
    };
    use Category::*;
    use StartPoint::*;
    RuleSet {
        rules: vec![
            rule(Contacts, ConversationEnd, true, Period::years(6), hgb),
            rule(MessageContent, Collection, true, Period::years(6), hgb),
            rule(Attachments, Collection, true, Period::years(6), hgb),
            rule(MessageMetadata, Collection, true, Period::years(6), hgb),
            rule(
                DeliveryStatuses,
                Collection,
                false,
                Period::days(90),
                "Art. 5(1)(e) DSGVO: Zustellnachweis, 90 Tage",
            ),
            rule(
                WebhookLogs,
                Collection,
                false,
                Period::days(30),
                "Art. 5(1)(e) DSGVO: Fehlersuche, 30 Tage",
            ),
            rule(
                ConsentRequests,
                Collection,
                false,
                Period::days(30),
                "Art. 5(1)(e) DSGVO: unbestätigte Anfragen, 30 Tage",
            ),
            rule(
                ConsentProofs,
                ConsentWithdrawal,
                false,
                Period::years(5),
                "Art. 7(1) DSGVO, § 7a UWG (entsprechend): Nachweis der Einwilligung 5 Jahre nach Widerruf",
            ),
        ],
    }
}

fn names<'a>(all: impl IntoIterator<Item = &'a str>) -> String {
    all.into_iter().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(category: &str, start: &str, period: &str) -> RuleInput {
        RuleInput {
            category: category.into(),
            channel: None,
            start: start.into(),
            end_of_year: false,
            period: period.into(),
            legal_basis: "test".into(),
            deletion_class: None,
            statutory: false,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_parse_iso_8601_and_refuse_the_rest() {
        assert_eq!(Period::parse("p", "P6Y").unwrap(), Period::years(6));
        assert_eq!(Period::parse("p", "P90D").unwrap(), Period::days(90));
        assert_eq!(Period::parse("p", "P2W").unwrap(), Period::days(14));
        let p = Period::parse("p", "P1Y6MT12H").unwrap();
        assert_eq!((p.years, p.months, p.days, p.hours), (1, 6, 0, 12));
        assert_eq!(Period::parse("p", "PT48H").unwrap().iso(), "PT48H");
        for bad in [
            "", "6Y", "P", "PT", "P6", "PY", "P6D6Y", "P1Y1Y", "P1H", "P999999Y", "forever",
        ] {
            assert!(Period::parse("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rule_without_period_is_refused_and_keep_must_be_explicit() {
        let err = RuleSet::parse(&[input("message_content", "collection", "")]).unwrap_err();
        assert!(err.to_string().contains("keep"), "{err}");
        let set = RuleSet::parse(&[input("message_content", "collection", "keep")]).unwrap();
        assert_eq!(set.rules[0].retain, Retain::Keep);
        assert_eq!(set.rules[0].cutoff(at("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn categories_accept_only_their_start_points_and_scopes() {
        assert!(RuleSet::parse(&[input("consent_proofs", "collection", "P1Y")]).is_err());
        assert!(RuleSet::parse(&[input("delivery_statuses", "conversation_end", "P1Y")]).is_err());
        let mut scoped = input("webhook_logs", "collection", "P1Y");
        scoped.channel = Some("whatsapp".into());
        assert!(RuleSet::parse(&[scoped]).is_err());
        let err = RuleSet::parse(&[input("audit_log", "collection", "P10Y")]).unwrap_err();
        assert!(err.to_string().contains("audit_retention_years"), "{err}");
        let twice = [
            input("attachments", "collection", "P1Y"),
            input("attachments", "collection", "P2Y"),
        ];
        assert!(RuleSet::parse(&twice).is_err());
        let mut missing_basis = input("attachments", "collection", "P1Y");
        missing_basis.legal_basis = " ".into();
        assert!(RuleSet::parse(&[missing_basis]).is_err());
    }

    #[test]
    fn cutoff_after_collection_is_exact() {
        let set = RuleSet::parse(&[input("delivery_statuses", "collection", "P90D")]).unwrap();
        let now = at("2026-06-30T12:00:00Z");
        let cutoff = set.rules[0].cutoff(now).unwrap();
        let due = to_micros(at("2026-04-01T12:00:00Z"));
        assert!(due < cutoff.before, "exactly 90 days old is due");
        assert!(due + 1 >= cutoff.before, "a microsecond younger is not");
    }

    #[test]
    fn end_of_calendar_year_counts_from_the_first_of_january_after() {
        let mut hgb = input("message_content", "collection", "P6Y");
        hgb.end_of_year = true;
        let set = RuleSet::parse(&[hgb]).unwrap();
        let rule = &set.rules[0];
        // A message of 15 March 2019: the period starts 1 Jan 2020 and ends 1 Jan 2026.
        let message = to_micros(at("2019-03-15T10:00:00Z"));
        let last_day = rule.cutoff(at("2025-12-31T23:59:59Z")).unwrap();
        assert!(message >= last_day.before, "still kept on 31 Dec 2025");
        let new_year = rule.cutoff(at("2026-01-01T00:00:00Z")).unwrap();
        assert!(message < new_year.before, "due on 1 Jan 2026");
        // A message of 31 Dec 2019 is due one year later than one of 1 Jan 2019? No: same
        // year, same deadline; one of 1 Jan 2020 waits a year longer.
        let next_year = to_micros(at("2020-01-01T00:00:00Z"));
        assert!(next_year >= new_year.before);
    }

    #[test]
    fn effective_set_fills_in_defaults_and_channel_rules_come_first() {
        let mut wa = input("message_content", "collection", "P1Y");
        wa.channel = Some("whatsapp".into());
        let set = RuleSet::parse(&[wa]).unwrap().effective();
        let content = set.for_category(Category::MessageContent);
        assert_eq!(content.len(), 2);
        assert!(content[0].channel.is_some());
        assert!(content[1].channel.is_none(), "the default covers the rest");
        for category in Category::ALL {
            assert!(!set.for_category(category).is_empty(), "{category:?}");
        }
    }
}
