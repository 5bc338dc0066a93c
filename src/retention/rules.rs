//! Deletion rules (DIN 66398 "Löschregeln"): data category × scope × start point × period.
//!
//! Input arrives as [`RuleInput`] (JSON); [`RuleSet::parse`] validates it into [`Rule`]s or
//! names the first field that is wrong. A rule without a period is refused: keeping data
//! forever needs the explicit `"keep"` marker.

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
    pub const ALL: [StartPoint; 4] = [
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

    /// What is due now when kept for this period from its start point, counted to the end of
    /// that year when `end_of_year` (the statutory periods of § 257 HGB, § 147 AO).
    pub fn cutoff(self, now: DateTime<Utc>, end_of_year: bool) -> Option<Cutoff> {
        let limit = self.before(now)?;
        let before = if end_of_year {
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

    /// The period's shortest length (months of 28 days, years of 365), for comparing with a
    /// floor.
    pub fn approximate(&self) -> chrono::Duration {
        chrono::Duration::days(
            i64::from(self.years) * 365 + i64::from(self.months) * 28 + i64::from(self.days),
        ) + chrono::Duration::hours(i64::from(self.hours))
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

/// Why a rule's data may outlive an erasure request (Art. 17(3) GDPR, § 35(3) BDSG). Every
/// answer, report and certificate cites the ground of the item's rule in the law's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    /// A legal duty to keep (§ 257 HGB, § 147 AO): the right to erasure does not apply while
    /// it lasts (Art. 17(3)(b) GDPR); the data is kept for that purpose only and restricted.
    Statutory,
    /// A contractual or by-law (satzungsgemäße) period: restriction instead of erasure
    /// (§ 35(3) BDSG, Art. 18 GDPR).
    ContractualOrBylaw,
    /// Kept for the establishment, exercise or defence of legal claims (Art. 17(3)(e) GDPR),
    /// e.g. consent proofs, whose burden of proof Art. 7(1) puts on the controller.
    LegalClaims,
    /// Nothing overrides erasure: an erasure request deletes the data at once.
    None,
}

impl Ground {
    pub const ALL: [Ground; 4] = [
        Ground::Statutory,
        Ground::ContractualOrBylaw,
        Ground::LegalClaims,
        Ground::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ground::Statutory => "statutory",
            Ground::ContractualOrBylaw => "contractual_or_bylaw",
            Ground::LegalClaims => "legal_claims",
            Ground::None => "none",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("must be one of {}", names(Self::ALL.map(Self::as_str))),
                )
            })
    }

    /// Whether data under this ground survives an erasure request (restricted, until its end).
    pub fn keeps_on_erasure(self) -> bool {
        self != Ground::None
    }

    /// Whether the rule must name the provision (statute, contract, by-law) that sets its period.
    pub fn needs_norm(self) -> bool {
        matches!(self, Ground::Statutory | Ground::ContractualOrBylaw)
    }

    /// The provision that lets the data outlive an erasure request, as the law words it.
    pub fn citation(self, lang: crate::i18n::Lang) -> String {
        match self {
            Ground::Statutory => lang.pick(
                "Art. 17 Abs. 3 lit. b DSGVO (gesetzliche Aufbewahrungspflicht)",
                "Art. 17(3)(b) GDPR (legal obligation to retain)",
            ),
            Ground::ContractualOrBylaw => lang.pick(
                "§ 35 Abs. 3 BDSG, Art. 18 DSGVO (vertragliche oder satzungsgemäße Aufbewahrungsfrist: Einschränkung statt Löschung)",
                "Section 35(3) BDSG, Art. 18 GDPR (contractual or by-law retention period: restriction instead of erasure)",
            ),
            Ground::LegalClaims => lang.pick(
                "Art. 17 Abs. 3 lit. e DSGVO (Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen)",
                "Art. 17(3)(e) GDPR (establishment, exercise or defence of legal claims)",
            ),
            Ground::None => lang.pick(
                "keine Aufbewahrungspflicht: Löschung auf Verlangen (Art. 17 Abs. 1 DSGVO)",
                "no duty to retain: erased on request (Art. 17(1) GDPR)",
            ),
        }
    }

    /// The ground's name for tables and forms.
    pub fn label(self, lang: crate::i18n::Lang) -> String {
        match self {
            Ground::Statutory => lang.pick(
                "gesetzliche Aufbewahrungspflicht",
                "statutory duty to retain",
            ),
            Ground::ContractualOrBylaw => lang.pick(
                "vertragliche oder satzungsgemäße Frist",
                "contractual or by-law period",
            ),
            Ground::LegalClaims => lang.pick("Rechtsansprüche", "legal claims"),
            Ground::None => lang.pick("keine", "none"),
        }
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

/// The class of messages that are business letters (`RuleInput::class`).
pub const BUSINESS_LETTER: &str = "business_letter";

/// The provisions behind the six-year period for commercial letters.
pub const HGB_NORM: &str = "§ 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB; § 147 Abs. 1 Nr. 2, 3, Abs. 3 AO";

/// The install's defaults, documented in docs/retention.md: messages marked as business
/// letters (they prepare, conclude, execute or cancel a deal) are kept six years from the end
/// of the year under § 257 HGB / § 147 AO; every other message — most customer chats — goes a
/// year after the conversation falls silent (Art. 5(1)(e)); contacts go a year after their
/// last message, once nothing refers to them.
pub fn defaults() -> RuleSet {
    let hgb =
        "Handels- und Geschäftsbriefe: 6 Jahre ab Ende des Kalenderjahres (§ 257 HGB, § 147 AO)";
    let chat = "Art. 5 Abs. 1 lit. e DSGVO: Kundenkommunikation ohne Handelsbriefcharakter, 1 Jahr nach der letzten Nachricht";
    // Commercial and tax law (HGB/AO) is a duty to keep (Art. 17(3)(b)); proving consent is
    // the controller's burden (Art. 7(1)), kept for legal claims (Art. 17(3)(e)) through the
    // regular limitation period. Everything else goes on an erasure request.
    let rule = |category, letters: bool, start, end_of_year, period, basis: &str| {
        let (ground, norm) = if letters {
            (Ground::Statutory, Some(HGB_NORM.to_string()))
        } else if category == ConsentProofs {
            (Ground::LegalClaims, Some("§§ 195, 199 BGB".to_string()))
        } else {
            (Ground::None, None)
        };
        Rule {
            category,
            channel: None,
            business_letters: letters,
            start,
            end_of_year,
            retain: Retain::For(period),
            legal_basis: basis.to_string(),
            deletion_class: None,
            ground,
            norm,
        }
    };
    use Category::*;
    use StartPoint::*;
    RuleSet {
        rules: vec![
            rule(MessageContent, true, Collection, true, Period::years(6), hgb),
            rule(Attachments, true, Collection, true, Period::years(6), hgb),
            rule(MessageMetadata, true, Collection, true, Period::years(6), hgb),
            rule(MessageContent, false, ConversationEnd, false, Period::years(1), chat),
            rule(Attachments, false, ConversationEnd, false, Period::years(1), chat),
            rule(MessageMetadata, false, ConversationEnd, false, Period::years(1), chat),
            rule(
                Contacts,
                false,
                ConversationEnd,
                false,
                Period::years(1),
                "Art. 5 Abs. 1 lit. e DSGVO: Kontaktdaten, 1 Jahr nach der letzten Nachricht, sobald keine aufbewahrten Daten mehr auf sie verweisen",
            ),
            rule(
                DeliveryStatuses,
                false,
                Collection,
                false,
                Period::days(90),
                "Art. 5 Abs. 1 lit. e DSGVO: Zustellnachweis, 90 Tage",
            ),
            rule(
                WebhookLogs,
                false,
                Collection,
                false,
                Period::days(30),
                "Art. 5 Abs. 1 lit. e DSGVO: Fehlersuche, 30 Tage",
            ),
            rule(
                ConsentRequests,
                false,
                Collection,
                false,
                Period::days(30),
                "Art. 5 Abs. 1 lit. e DSGVO: unbestätigte Anfragen, 30 Tage",
            ),
            rule(
                ConsentProofs,
                false,
                ConsentWithdrawal,
                true,
                Period::years(3),
                "Art. 7 Abs. 1 DSGVO: Nachweis der Einwilligung, bis zur Verjährung möglicher Ansprüche (3 Jahre ab Ende des Jahres des Widerrufs)",
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
            class: None,
            ground: None,
            norm: None,
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
        assert_eq!(content.len(), 3);
        assert!(
            content[0].business_letters && content[0].ground == Ground::Statutory,
            "business letters first, under the statutory default"
        );
        assert!(content[1].channel.is_some(), "then the channel's own rule");
        assert!(content[2].channel.is_none(), "the default covers the rest");
        assert_eq!(
            set.rule_for(Category::MessageContent, "whatsapp", true)
                .unwrap()
                .ground,
            Ground::Statutory,
            "a WhatsApp business letter follows the business-letter rule"
        );
        assert!(set
            .rule_for(Category::MessageContent, "whatsapp", false)
            .unwrap()
            .channel
            .is_some());
        for category in Category::ALL {
            assert!(!set.for_category(category).is_empty(), "{category:?}");
        }
    }

    #[test]
    fn grounds_are_a_closed_set_and_keeping_ones_name_their_norm() {
        let with = |ground: &str, norm: Option<&str>, period: &str| {
            let mut r = input("message_content", "collection", period);
            r.ground = Some(ground.into());
            r.norm = norm.map(str::to_string);
            RuleSet::parse(&[r])
        };
        let set = with("statutory", Some("§ 257 HGB"), "P6Y").unwrap();
        assert_eq!(set.rules[0].ground, Ground::Statutory);
        assert_eq!(
            set.rules[0].citation(crate::i18n::Lang::De),
            "Art. 17 Abs. 3 lit. b DSGVO (gesetzliche Aufbewahrungspflicht) i. V. m. § 257 HGB"
        );
        for (ground, field) in [("statutory", "norm"), ("contractual_or_bylaw", "norm")] {
            let err = with(ground, None, "P6Y").unwrap_err().to_string();
            assert!(err.contains(&format!("rules[0].{field}")), "{err}");
            let err = with(ground, Some("  "), "P6Y").unwrap_err().to_string();
            assert!(err.contains("rules[0].norm"), "{err}");
        }
        assert!(
            with("legal_claims", None, "P3Y").is_ok(),
            "a norm is optional for legal claims"
        );
        let err = with("statutory", Some("§ 257 HGB"), "keep")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rules[0].period"), "{err}");
        let err = with("because", None, "P1Y").unwrap_err().to_string();
        assert!(
            err.contains("rules[0].ground") && err.contains("legal_claims"),
            "{err}"
        );
        assert_eq!(
            RuleSet::parse(&[input("message_content", "collection", "P1Y")])
                .unwrap()
                .rules[0]
                .ground,
            Ground::None,
            "no ground: erased on request"
        );
    }

    #[test]
    fn stored_rules_with_the_old_statutory_flag_still_load() {
        let mut old = input("message_content", "collection", "P6Y");
        old.statutory = true;
        old.legal_basis = "§ 257 HGB".into();
        let set = RuleSet::parse(&[old.clone()]).unwrap();
        assert_eq!(set.rules[0].ground, Ground::Statutory);
        assert_eq!(set.rules[0].norm.as_deref(), Some("§ 257 HGB"));
        let json = set.canonical_json();
        assert!(
            json.contains("\"ground\":\"statutory\"") && !json.contains("\"statutory\":"),
            "{json}"
        );
        // "keep" with the old flag loads too; an erasure asks the DPO to decide.
        old.period = "keep".into();
        assert!(RuleSet::parse(&[old]).is_ok());
    }

    #[test]
    fn defaults_cite_the_right_grounds() {
        let set = defaults();
        let proofs = &set.for_category(Category::ConsentProofs)[0];
        assert_eq!(proofs.ground, Ground::LegalClaims);
        assert!(
            !proofs.legal_basis.contains("UWG"),
            "{}",
            proofs.legal_basis
        );
        assert!(!proofs.citation(crate::i18n::Lang::De).contains("35"));
        let content = &set.for_category(Category::MessageContent)[0];
        assert!(content.business_letters);
        assert_eq!(content.ground, Ground::Statutory);
        assert!(content
            .citation(crate::i18n::Lang::En)
            .starts_with("Art. 17(3)(b) GDPR"));
        let statuses = &set.for_category(Category::DeliveryStatuses)[0];
        assert_eq!(statuses.ground, Ground::None);
    }
}
