//! What Hafen knows about its own processing, read from the running install: the channels,
//! consent purposes and retention rules of a tenant, and the technical measures that are
//! actually switched on. Reports are built from this, so they cannot claim a measure that is
//! not active or miss a channel that is.

use std::collections::BTreeMap;

use diesel::prelude::*;

use serde::{Deserialize, Serialize};

use super::register::{Activity, Control, SubProcessor};
use crate::channels::registry::Platform;
use crate::i18n::Lang;
use crate::retention::rules::{Category, Retain, Rule, RuleSet, StartPoint};
use crate::store::schema::{
    api_tokens, channels, consent_purposes, contacts, event_hooks, tenants,
};
use crate::store::{DbConn, StoreError};

/// Install facts from the configuration that the TOM annex reports. The running server
/// records its own in the database (`instances`), and every report reads them from there, so
/// the annex describes the server, not the shell that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posture {
    /// The API listener serves TLS.
    pub tls: bool,
    /// Recovery recipients every key is also wrapped to.
    pub recovery_recipients: usize,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    /// SQLite commits with synchronous=FULL (durable across power loss).
    pub sqlite_full_sync: bool,
    /// When retention runs (cron).
    pub retention_schedule: String,
    /// Where the data is stored, as configured (e.g. "DE").
    pub storage_country: Option<String>,
    /// A new rule set needs a second admin's approval.
    #[serde(default)]
    pub require_approval: bool,
    /// Years the audit log keeps an entry (0: for ever).
    #[serde(default)]
    pub audit_years: u32,
    /// When scheduled backups run (cron; empty: none).
    #[serde(default)]
    pub backup_schedule: String,
    /// Scheduled backups kept.
    #[serde(default)]
    pub backup_keep: usize,
}

impl Default for Posture {
    fn default() -> Self {
        Self {
            tls: false,
            recovery_recipients: 0,
            backend: "sqlite".into(),
            sqlite_full_sync: true,
            retention_schedule: String::new(),
            storage_country: None,
            require_approval: false,
            audit_years: 10,
            backup_schedule: String::new(),
            backup_keep: 7,
        }
    }
}

/// A channel as the records show it.
#[derive(Debug, Clone)]
pub struct ChannelFact {
    pub id: String,
    pub platform: Platform,
    pub name: String,
    pub enabled: bool,
}

/// What one tenant's records are generated from.
#[derive(Debug, Clone)]
pub struct TenantFacts {
    pub id: String,
    pub name: String,
    pub channels: Vec<ChannelFact>,
    /// Consent purposes: (id, name).
    pub purposes: Vec<(String, String)>,
    pub rules: RuleSet,
    /// 0: the install's defaults.
    pub rules_version: i32,
    pub active_holds: i64,
    /// The company's own event hooks (a bot's hook is counted with its bot).
    pub event_hooks: i64,
    pub contacts: i64,
    pub restricted_contacts: i64,
    /// The channels' bots in force: part of the processing (purpose, recipient, and
    /// automated decisions where they take any).
    pub bots: Vec<crate::bots::BotRow>,
}

impl TenantFacts {
    pub fn platforms(&self) -> Vec<Platform> {
        let mut p: Vec<Platform> = self
            .channels
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.platform)
            .collect();
        p.sort_by_key(|p| p.as_str());
        p.dedup();
        p
    }
}

/// Install-wide facts.
#[derive(Debug, Clone, Default)]
pub struct InstallFacts {
    pub tenants: Vec<(String, String)>,
    /// Active API tokens by role.
    pub tokens: BTreeMap<String, i64>,
    /// When the newest backup finished.
    pub last_backup: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn install_facts(conn: &mut DbConn) -> Result<InstallFacts, StoreError> {
    let tenants: Vec<(String, String)> = tenants::table
        .order(tenants::id.asc())
        .select((tenants::id, tenants::name))
        .load(conn)?;
    let roles: Vec<String> = api_tokens::table
        .filter(api_tokens::revoked_at.is_null())
        .select(api_tokens::role)
        .load(conn)?;
    let mut tokens = BTreeMap::new();
    for r in roles {
        *tokens.entry(r).or_insert(0) += 1;
    }
    let last_backup = crate::store::last_backup(conn)?;
    Ok(InstallFacts {
        tenants,
        tokens,
        last_backup,
    })
}

pub fn tenant_facts(
    conn: &mut DbConn,
    tenant: &str,
    now: i64,
) -> Result<Option<TenantFacts>, StoreError> {
    let Some(name) = tenants::table
        .filter(tenants::id.eq(tenant))
        .select(tenants::name)
        .first::<String>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, bool)> = channels::table
        .filter(channels::tenant_id.eq(tenant))
        .order(channels::created_at.asc())
        .select((
            channels::id,
            channels::platform,
            channels::name,
            channels::enabled,
        ))
        .load(conn)?;
    let channels = rows
        .into_iter()
        .filter_map(|(id, platform, name, enabled)| {
            Platform::parse(&platform).map(|platform| ChannelFact {
                id,
                platform,
                name,
                enabled,
            })
        })
        .collect();
    let purposes = consent_purposes::table
        .filter(consent_purposes::tenant_id.eq(tenant))
        .order(consent_purposes::created_at.asc())
        .select((consent_purposes::id, consent_purposes::name))
        .load(conn)?;
    let (rules, rules_version) = crate::retention::rules_in_force(conn, tenant)?;
    let holds = crate::retention::holds::active(conn, tenant, now)?;
    let active_holds =
        (holds.contacts.len() + holds.ranges.len() + usize::from(holds.whole_tenant)) as i64;
    let event_hooks = event_hooks::table
        .filter(event_hooks::tenant_id.eq(tenant))
        .filter(event_hooks::channel_id.is_null())
        .count()
        .get_result(conn)?;
    let contacts_total = contacts::table
        .filter(contacts::tenant_id.eq(tenant))
        .count()
        .get_result(conn)?;
    let restricted_contacts = contacts::table
        .filter(contacts::tenant_id.eq(tenant))
        .filter(contacts::restricted_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(Some(TenantFacts {
        id: tenant.to_string(),
        name,
        channels,
        purposes,
        rules,
        rules_version,
        active_holds,
        event_hooks,
        contacts: contacts_total,
        restricted_contacts,
        bots: crate::bots::active(conn, tenant)?,
    }))
}

/// The sub-processor a platform brings, pre-filled for the controller to check and authorise.
pub fn platform_subprocessor(p: Platform, lang: Lang) -> SubProcessor {
    match p {
        Platform::Whatsapp | Platform::Messenger => SubProcessor {
            key: "meta".into(),
            name: "Meta Platforms Ireland Ltd.".into(),
            address: "Merrion Road, Dublin 4, D04 X2K5, Irland / Ireland".into(),
            country: "IE".into(),
            service: lang.pick(
                "Zustellung von Nachrichten über die WhatsApp Business Platform (Cloud API) und die Messenger-Plattform",
                "Message delivery through the WhatsApp Business Platform (Cloud API) and the Messenger Platform",
            ),
            data_categories: vec![
                lang.pick("Telefonnummer bzw. seitenbezogene Kennung", "Phone number or page-scoped id"),
                lang.pick("Profilname", "Profile name"),
                lang.pick("Nachrichteninhalte und Dateien", "Message contents and files"),
                lang.pick("Zeitpunkte und Zustellstatus", "Times and delivery status"),
            ],
            third_countries: vec!["US".into()],
            transfer_mechanism: Some(lang.pick(
                "Weiterübermittlung an Meta Platforms, Inc. (USA): Angemessenheitsbeschluss zum EU-US Data Privacy Framework (Art. 45 DSGVO), ergänzend Standardvertragsklauseln (Durchführungsbeschluss (EU) 2021/914)",
                "Onward transfer to Meta Platforms, Inc. (USA): adequacy decision on the EU-US Data Privacy Framework (Art. 45 GDPR), with standard contractual clauses (Implementing Decision (EU) 2021/914)",
            )),
            authorised_on: None,
        },
        Platform::Telegram => SubProcessor {
            key: "telegram".into(),
            name: "Telegram FZ-LLC / Telegram Messenger Inc.".into(),
            address: lang.pick(
                "Dubai, Vereinigte Arabische Emirate (Telegram FZ-LLC); Britische Jungferninseln (Telegram Messenger Inc.); Anschrift laut Datenschutzerklärung von Telegram",
                "Dubai, United Arab Emirates (Telegram FZ-LLC); British Virgin Islands (Telegram Messenger Inc.); address as in Telegram's privacy policy",
            ),
            country: "AE".into(),
            service: lang.pick(
                "Zustellung von Nachrichten über die Telegram Bot API",
                "Message delivery through the Telegram Bot API",
            ),
            data_categories: vec![
                lang.pick("Chat-Kennung und Benutzername", "Chat id and user name"),
                lang.pick("Profilname", "Profile name"),
                lang.pick("Nachrichteninhalte und Dateien", "Message contents and files"),
            ],
            third_countries: vec!["AE".into(), "VG".into()],
            transfer_mechanism: Some(lang.pick(
                "Keine geeignete Garantie: Für die Vereinigten Arabischen Emirate und die Britischen Jungferninseln besteht kein Angemessenheitsbeschluss, und Telegram bietet keine Standardvertragsklauseln oder andere Garantien nach Art. 46 DSGVO an. Der Verantwortliche muss die Übermittlung selbst bewerten (Art. 44 ff. DSGVO); für gelegentliche Übermittlungen kommt allenfalls Art. 49 DSGVO in Betracht.",
                "No appropriate safeguard: there is no adequacy decision for the United Arab Emirates or the British Virgin Islands, and Telegram offers no standard contractual clauses or other safeguards under Art. 46 GDPR. The controller has to assess the transfer itself (Art. 44 ff. GDPR); for occasional transfers Art. 49 GDPR at most may apply.",
            )),
            authorised_on: None,
        },
    }
}

/// Describes a rule for people: "6 Jahre ab Ende des Jahres der Erhebung (§ 257 HGB …)".
pub fn describe_rule(rule: &Rule, lang: Lang) -> String {
    let period = match rule.retain {
        Retain::Keep => return lang.pick("unbefristet aufbewahrt", "kept without limit"),
        Retain::For(p) => {
            let mut parts = Vec::new();
            let unit = |n: u32, de1: &str, den: &str, en1: &str, enn: &str| {
                if n == 1 {
                    format!("1 {}", lang.pick(de1, en1))
                } else {
                    format!("{n} {}", lang.pick(den, enn))
                }
            };
            if p.years > 0 {
                parts.push(unit(p.years, "Jahr", "Jahre", "year", "years"));
            }
            if p.months > 0 {
                parts.push(unit(p.months, "Monat", "Monate", "month", "months"));
            }
            if p.days > 0 {
                parts.push(unit(p.days, "Tag", "Tage", "day", "days"));
            }
            if p.hours > 0 {
                parts.push(unit(p.hours, "Stunde", "Stunden", "hour", "hours"));
            }
            parts.join(" ")
        }
    };
    let start = if rule.end_of_year {
        let of = start_genitive(rule.start, lang);
        lang.pick(
            &format!("ab Ende des Kalenderjahres {of}"),
            &format!("from the end of the calendar year of {of}"),
        )
    } else {
        let start = start_label(rule.start, lang);
        lang.pick(&format!("ab {start}"), &format!("from {start}"))
    };
    format!("{period} {start} ({})", rule.legal_basis)
}

/// The start point after "des Kalenderjahres …" (German genitive).
fn start_genitive(s: StartPoint, lang: Lang) -> String {
    match s {
        StartPoint::Collection => lang.pick("der Erhebung", "collection"),
        StartPoint::ConversationEnd => lang.pick("der letzten Nachricht", "the last message"),
        StartPoint::RelationshipEnd => lang.pick(
            "des Endes der Geschäftsbeziehung",
            "the end of the relationship",
        ),
        StartPoint::ConsentWithdrawal => lang.pick("des Widerrufs", "withdrawal"),
    }
}

fn start_label(s: StartPoint, lang: Lang) -> String {
    match s {
        StartPoint::Collection => lang.pick("der Erhebung", "collection"),
        StartPoint::ConversationEnd => lang.pick("der letzten Nachricht", "the last message"),
        StartPoint::RelationshipEnd => lang.pick(
            "dem Ende der Geschäftsbeziehung",
            "the end of the relationship",
        ),
        StartPoint::ConsentWithdrawal => lang.pick("dem Widerruf", "withdrawal"),
    }
}

/// " (Handels- und Geschäftsbriefe)" or " (übrige Nachrichten)": which messages a rule covers.
pub fn class_label(business_letters: bool, lang: Lang) -> String {
    if business_letters {
        lang.pick(" (Handels- und Geschäftsbriefe)", " (business letters)")
    } else {
        lang.pick(" (übrige Nachrichten)", " (other messages)")
    }
}

/// The rules in force for `categories`, channel rules for `channel` included, described.
pub fn erasure_periods(
    rules: &RuleSet,
    categories: &[Category],
    channel: Option<&str>,
    lang: Lang,
) -> Vec<String> {
    let mut out = Vec::new();
    for c in categories {
        for rule in rules.for_category(*c) {
            let applies = match (&rule.channel, channel) {
                (None, _) => true,
                (Some(rc), Some(ch)) => rc.as_str() == ch,
                (Some(_), None) => true,
            };
            if applies {
                let mut scope = rule
                    .channel
                    .as_ref()
                    .map(|c| format!(" [{}]", c.as_str()))
                    .unwrap_or_default();
                if c.has_class() {
                    scope.push_str(&class_label(rule.business_letters, lang));
                }
                out.push(format!(
                    "{}{scope}: {}",
                    c.label(lang),
                    describe_rule(rule, lang)
                ));
            }
        }
    }
    out
}

const MESSAGE_CATEGORIES: [Category; 5] = [
    Category::Contacts,
    Category::MessageContent,
    Category::Attachments,
    Category::MessageMetadata,
    Category::DeliveryStatuses,
];

/// A processing activity with everything the Art. 30(1) record lists.
#[derive(Debug, Clone)]
pub struct ActivityRecord {
    pub key: String,
    pub name: String,
    pub purposes: Vec<String>,
    pub legal_basis: String,
    pub data_subject_categories: Vec<String>,
    pub data_categories: Vec<String>,
    pub recipients: Vec<String>,
    pub erasure: Vec<String>,
    /// Joint controllers (Art. 26 GDPR) and what they are jointly responsible for.
    pub joint_controllers: Vec<String>,
    /// Generated from the live configuration (true) or entered by hand (false).
    pub generated: bool,
    /// A generated activity whose fields a person completed.
    pub completed_by_hand: bool,
    /// What is done with the data, in this activity's own terms (Art. 30(2)(b)).
    pub nature: String,
    /// The rest of the DSK template, as entered in the register (None: not entered).
    pub details: ActivityDetails,
}

/// What only a person can say about an activity (Art. 9 data, DPIA, who is responsible, …);
/// Hafen states what it knows (no profiling by Hafen) and leaves the rest visibly open.
#[derive(Debug, Clone, Default)]
pub struct ActivityDetails {
    pub special_categories: Option<bool>,
    pub profiling: Option<bool>,
    pub dpia: Option<String>,
    pub legitimate_interest_assessment: Option<String>,
    pub department: Option<String>,
    pub contact_person: Option<String>,
    pub storage_location: Option<String>,
    pub processor_contract: Option<String>,
    pub review_status: Option<super::register::ReviewStatus>,
    pub reviewed_on: Option<chrono::NaiveDate>,
}

impl ActivityDetails {
    fn from_register(m: &Activity) -> Self {
        Self {
            special_categories: m.special_categories,
            profiling: m.profiling,
            dpia: m.dpia.clone(),
            legitimate_interest_assessment: m.legitimate_interest_assessment.clone(),
            department: m.department.clone(),
            contact_person: m.contact_person.clone(),
            storage_location: m.storage_location.clone(),
            processor_contract: m.processor_contract.clone(),
            review_status: m.review_status,
            reviewed_on: m.reviewed_on,
        }
    }

    /// The register's entries over what Hafen filled in.
    fn complete(&mut self, m: &Activity) {
        let given = Self::from_register(m);
        macro_rules! take {
            ($($f:ident),*) => { $( if given.$f.is_some() { self.$f = given.$f.clone(); } )* };
        }
        take!(
            special_categories,
            profiling,
            dpia,
            legitimate_interest_assessment,
            department,
            contact_person,
            storage_location,
            processor_contract,
            review_status,
            reviewed_on
        );
    }
}

/// Hafen builds no profiles and takes no automated decisions; a chatbot the controller
/// connects may, which the register says.
fn hafen_details() -> ActivityDetails {
    ActivityDetails {
        profiling: Some(false),
        ..ActivityDetails::default()
    }
}

/// What Hafen does with a channel's messages, in the platform's terms.
fn channel_nature(p: Platform, lang: Lang) -> String {
    match p {
        Platform::Whatsapp => lang.pick(
            "Empfang von WhatsApp-Nachrichten über die WhatsApp Cloud API (Webhook, Signatur geprüft), verschlüsselte Speicherung, Versand von Antworten und Vorlagen-Nachrichten über die Graph API, Abruf von Mediendateien, Auskunft und Löschung nach den Löschregeln",
            "Receiving WhatsApp messages through the WhatsApp Cloud API (webhook, signature checked), encrypted storage, sending replies and template messages through the Graph API, fetching media files, access and erasure by the deletion rules",
        ),
        Platform::Messenger => lang.pick(
            "Empfang von Nachrichten an die Facebook-Seite über die Messenger-Plattform (Webhook, Signatur geprüft), verschlüsselte Speicherung, Versand von Antworten über die Send API, Auskunft und Löschung nach den Löschregeln",
            "Receiving messages to the Facebook page through the Messenger Platform (webhook, signature checked), encrypted storage, sending replies through the Send API, access and erasure by the deletion rules",
        ),
        Platform::Telegram => lang.pick(
            "Empfang von Nachrichten an den Telegram-Bot (Webhook mit geheimem Token), verschlüsselte Speicherung, Versand von Antworten über die Bot API, Abruf von Dateien, Auskunft und Löschung nach den Löschregeln",
            "Receiving messages to the Telegram bot (webhook with a secret token), encrypted storage, sending replies through the Bot API, fetching files, access and erasure by the deletion rules",
        ),
    }
}

/// The activities Hafen sees (one per channel, one per consent purpose), completed and
/// extended by the hand-entered ones (same key: the given fields win).
pub fn activities(facts: &TenantFacts, manual: &[Activity], lang: Lang) -> Vec<ActivityRecord> {
    let mut out = Vec::new();
    for ch in &facts.channels {
        let platform = ch.platform.label();
        let mut recipients = vec![platform_subprocessor(ch.platform, lang).name];
        if facts.event_hooks > 0 {
            recipients.push(lang.pick(
                "Systeme des Verantwortlichen (Event-Webhooks)",
                "The controller's systems (event webhooks)",
            ));
        }
        let bot = facts.bots.iter().find(|b| b.channel_id == ch.id);
        if let Some(bot) = bot {
            recipients.push(lang.pick(
                &format!(
                    "Chatbot „{}“ des Verantwortlichen (erhält die Nachrichten des Kanals)",
                    bot.name
                ),
                &format!(
                    "The controller's chatbot \u{201c}{}\u{201d} (receives the channel's messages)",
                    bot.name
                ),
            ));
        }
        out.push(ActivityRecord {
            key: format!("channel:{}", ch.id),
            name: lang.pick(
                &format!("{platform}-Kommunikation – {}", ch.name),
                &format!("{platform} communication – {}", ch.name),
            ),
            purposes: std::iter::once(lang.pick(
                &format!("Kommunikation mit Kunden und Beschäftigten über {platform} (Anfragen, Kundenservice, Chatbots)"),
                &format!("Communication with customers and staff over {platform} (requests, customer service, chatbots)"),
            ))
            .chain(bot.map(|b| {
                let decides = match b.automated_decisions() {
                    Some(d) => lang.pick(
                        &format!("; trifft automatisierte Entscheidungen (Art. 22 DSGVO): {} – Auswirkungen: {}", d.logic, d.effects),
                        &format!("; takes automated decisions (Art. 22 GDPR): {} – effects: {}", d.logic, d.effects),
                    ),
                    None => String::new(),
                };
                lang.pick(
                    &format!("Automatische Antworten durch den Chatbot „{}“: {}, mit Übergabe an Beschäftigte{decides}", b.name, b.purpose),
                    &format!("Automated replies by the chatbot \u{201c}{}\u{201d}: {}, with hand-over to staff{decides}", b.name, b.purpose),
                )
            }))
            .collect(),
            legal_basis: lang.pick(
                "Art. 6 Abs. 1 lit. b DSGVO (Vertrag, vorvertragliche Anfrage); Art. 6 Abs. 1 lit. f DSGVO (Beantwortung von Anfragen)",
                "Art. 6(1)(b) GDPR (contract, pre-contractual requests); Art. 6(1)(f) GDPR (answering requests)",
            ),
            data_subject_categories: vec![
                lang.pick(
                    &format!("Kunden und Interessenten, die über {platform} schreiben"),
                    &format!("Customers and prospects writing over {platform}"),
                ),
                lang.pick("Beschäftigte des Verantwortlichen", "The controller's staff"),
            ],
            data_categories: vec![
                lang.pick("Telefonnummer bzw. Plattform-Kennung", "Phone number or platform id"),
                lang.pick("Profilname", "Profile name"),
                lang.pick("Nachrichteninhalte und Dateien", "Message contents and files"),
                lang.pick("Zeitpunkte und Zustellstatus", "Times and delivery statuses"),
            ],
            recipients,
            erasure: erasure_periods(
                &facts.rules,
                &MESSAGE_CATEGORIES,
                Some(ch.platform.as_str()),
                lang,
            ),
            joint_controllers: joint_controllers(ch.platform, lang),
            generated: true,
            completed_by_hand: false,
            nature: channel_nature(ch.platform, lang),
            // The channel's bot says whether it decides about people (Art. 22).
            details: ActivityDetails {
                profiling: Some(bot.is_some_and(|b| b.automated_decisions().is_some())),
                ..hafen_details()
            },
        });
    }
    let platforms = facts.platforms();
    for (id, name) in &facts.purposes {
        out.push(ActivityRecord {
            key: format!("consent:{id}"),
            name: lang.pick(
                &format!("Nachrichten mit Einwilligung (Double-Opt-in) – {name}"),
                &format!("Messages with consent (double opt-in) – {name}"),
            ),
            purposes: vec![lang.pick(
                &format!("Versand von Nachrichten zum Zweck „{name}“ an Personen, die eingewilligt haben"),
                &format!("Sending messages for the purpose \"{name}\" to people who consented"),
            )],
            legal_basis: lang.pick(
                "Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 2 UWG (ausdrückliche Einwilligung, Double-Opt-in)",
                "Art. 6(1)(a) GDPR, § 7(2) no. 2 UWG (express consent, double opt-in)",
            ),
            data_subject_categories: vec![lang.pick(
                "Empfänger, die eingewilligt haben oder um Einwilligung gebeten wurden",
                "Recipients who consented or were asked to",
            )],
            data_categories: vec![
                lang.pick("Telefonnummer bzw. Plattform-Kennung", "Phone number or platform id"),
                lang.pick(
                    "Einwilligungsnachweis: Zeitpunkte, Text und Version, Quelle; IP-Adresse und User-Agent bei Web-Anmeldung",
                    "Consent proof: times, text and version, source; IP address and user agent for web sign-ups",
                ),
            ],
            recipients: platforms
                .iter()
                .map(|p| platform_subprocessor(*p, lang).name)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            erasure: erasure_periods(
                &facts.rules,
                &[Category::ConsentRequests, Category::ConsentProofs],
                None,
                lang,
            ),
            joint_controllers: Vec::new(),
            generated: true,
            completed_by_hand: false,
            nature: lang.pick(
                &format!("Einwilligung zum Zweck „{name}“ anfragen und per Double-Opt-in bestätigen lassen, jeden Schritt im manipulationsgeschützten Einwilligungsprotokoll festhalten, Nachrichten nur an Bestätigte senden, Widerruf (STOP) sofort beachten, Nachweise nach den Löschregeln löschen"),
                &format!("Asking for consent to \"{name}\" and having it confirmed by double opt-in, recording every step in the tamper-evident consent ledger, sending only to those who confirmed, honouring withdrawal (STOP) at once, erasing proofs by the deletion rules"),
            ),
            details: hafen_details(),
        });
    }
    for m in manual {
        match out.iter_mut().find(|a| a.key == m.key) {
            Some(a) => {
                a.completed_by_hand = true;
                if let Some(v) = &m.name {
                    a.name = v.clone();
                }
                if let Some(v) = &m.purposes {
                    a.purposes = v.clone();
                }
                if let Some(v) = &m.legal_basis {
                    a.legal_basis = v.clone();
                }
                if let Some(v) = &m.data_subject_categories {
                    a.data_subject_categories = v.clone();
                }
                if let Some(v) = &m.data_categories {
                    a.data_categories = v.clone();
                }
                if let Some(v) = &m.recipients {
                    a.recipients = v.clone();
                }
                if let Some(v) = &m.erasure {
                    a.erasure = v.clone();
                }
                if let Some(v) = &m.joint_controllers {
                    a.joint_controllers = v.clone();
                }
                a.details.complete(m);
            }
            None => out.push(ActivityRecord {
                key: m.key.clone(),
                name: m.name.clone().unwrap_or_else(|| m.key.clone()),
                purposes: m.purposes.clone().unwrap_or_default(),
                legal_basis: m.legal_basis.clone().unwrap_or_default(),
                data_subject_categories: m.data_subject_categories.clone().unwrap_or_default(),
                data_categories: m.data_categories.clone().unwrap_or_default(),
                recipients: m.recipients.clone().unwrap_or_default(),
                erasure: m.erasure.clone().unwrap_or_default(),
                joint_controllers: m.joint_controllers.clone().unwrap_or_default(),
                generated: false,
                completed_by_hand: true,
                nature: m.purposes.clone().unwrap_or_default().join("; "),
                details: ActivityDetails::from_register(m),
            }),
        }
    }
    out
}

/// Who is jointly responsible with the controller for a platform channel: a Facebook page is a
/// joint controllership with Meta for the Page Insights data (Art. 26 GDPR; CJEU C-210/16
/// *Wirtschaftsakademie*; Meta's Page Controller Addendum).
pub fn joint_controllers(p: Platform, lang: Lang) -> Vec<String> {
    match p {
        Platform::Messenger => vec![lang.pick(
            "Meta Platforms Ireland Ltd., Merrion Road, Dublin 4, Irland: gemeinsam verantwortlich für die Seiten-Insights der Facebook-Seite (Art. 26 DSGVO; EuGH C-210/16; Vereinbarung „Page Controller Addendum“ von Meta). Die über die Messenger-Plattform ausgetauschten Nachrichteninhalte verarbeitet Meta in eigener Verantwortung.",
            "Meta Platforms Ireland Ltd., Merrion Road, Dublin 4, Ireland: jointly responsible for the Facebook page's Page Insights (Art. 26 GDPR; CJEU C-210/16; Meta's Page Controller Addendum). Meta processes the message contents exchanged through the Messenger Platform under its own responsibility.",
        )],
        Platform::Whatsapp | Platform::Telegram => Vec::new(),
    }
}

/// A technical measure Hafen has switched on, described as configured.
#[derive(Debug, Clone)]
pub struct LiveMeasure {
    /// Stable id (e.g. `tls_listener`), so a reader can tell measures apart across versions.
    pub id: &'static str,
    pub control: Control,
    pub text: String,
    /// Switched on. A measure that is off is still listed, saying so: a reader must not take
    /// its absence for an oversight of the template.
    pub active: bool,
}

/// Every technical measure that is active now. A measure that is switched off is absent:
/// the annex never claims what is not running.
pub fn technical_measures(
    posture: &Posture,
    install: &InstallFacts,
    tenant: Option<&TenantFacts>,
    lang: Lang,
) -> Vec<LiveMeasure> {
    let mut m = Vec::new();
    // Measures that are switched off are listed too, named here and marked at the end.
    let mut inactive: Vec<&'static str> = Vec::new();
    let mut push = |id, control, text: String| {
        m.push(LiveMeasure {
            id,
            control,
            text,
            active: true,
        })
    };
    let recovery = if posture.recovery_recipients > 0 {
        lang.pick(
            &format!(
                " und an {} getrennt verwahrte Wiederherstellungsschlüssel",
                posture.recovery_recipients
            ),
            &format!(
                " and to {} separately kept recovery keys",
                posture.recovery_recipients
            ),
        )
    } else {
        String::new()
    };
    push(
        "encryption_at_rest",
        Control::Encryption,
        lang.pick(
            &format!("Nachrichteninhalte, Rohdaten der Plattformen, Dateien sowie Adressen und Namen der Kontakte werden mit XChaCha20-Poly1305 verschlüsselt gespeichert, unter einem eigenen Schlüssel je Kontakt (gebunden an einen Periodenschlüssel je Mandant, Kanal und Monat); jeder Datenschlüssel ist mit age (X25519) an den Hauptschlüssel{recovery} gebunden."),
            &format!("Message contents, raw platform payloads, files and contacts' addresses and names are stored encrypted with XChaCha20-Poly1305 under a key of their own per contact (bound to a period key per tenant, channel and month); every data key is wrapped with age (X25519) to the master key{recovery}."),
        ),
    );
    push(
        "pseudonymised_lookup",
        Control::Encryption,
        lang.pick(
            "Telefonnummern und Plattform-Kennungen sind nur über einen Blindindex (HMAC-SHA-256 mit mandanteneigenem Schlüssel) auffindbar; im Klartext liegen sie nicht vor.",
            "Phone numbers and platform ids can only be looked up through a blind index (HMAC-SHA-256 under a per-tenant key); they are not stored in clear.",
        ),
    );
    if posture.tls {
        push(
            "tls_listener",
            Control::Transfer,
            lang.pick(
                "Die API und die Webhook-Endpunkte sind nur über TLS 1.2 oder 1.3 (rustls, moderne Cipher-Suites) erreichbar.",
                "The API and the webhook endpoints are served over TLS 1.2 or 1.3 only (rustls, modern cipher suites).",
            ),
        );
    } else {
        inactive.push("tls_listener");
        push(
            "tls_listener",
            Control::Transfer,
            lang.pick(
                "Transportverschlüsselung am Server: NICHT AKTIV. Der Server spricht kein TLS; zulässig ist das nur auf Loopback oder hinter einem TLS-Proxy auf demselben Rechner, dessen Konfiguration Hafen nicht kennt und hier nicht bestätigt.",
                "Transport encryption at the server: NOT ACTIVE. The server does not speak TLS; that is allowed only on loopback or behind a TLS proxy on the same host, whose configuration Hafen does not know and does not confirm here.",
            ),
        );
    }
    let platforms = match tenant {
        Some(t) => t.platforms(),
        None => Vec::new(),
    };
    if !platforms.is_empty() {
        let mut checks = Vec::new();
        if platforms.iter().any(|p| p.is_meta()) {
            checks.push(lang.pick(
                "WhatsApp/Messenger: HMAC-SHA-256-Signatur (X-Hub-Signature-256) mit dem App-Secret",
                "WhatsApp/Messenger: HMAC-SHA-256 signature (X-Hub-Signature-256) with the app secret",
            ));
        }
        if platforms.contains(&Platform::Telegram) {
            checks.push(lang.pick(
                "Telegram: geheimes Token (X-Telegram-Bot-Api-Secret-Token)",
                "Telegram: secret token (X-Telegram-Bot-Api-Secret-Token)",
            ));
        }
        push(
            "webhook_signatures",
            Control::Transfer,
            lang.pick(
                &format!("Eingehende Webhooks werden vor jeder Verarbeitung in konstanter Zeit geprüft und andernfalls verworfen und protokolliert — {}.", checks.join("; ")),
                &format!("Incoming webhooks are verified in constant time before any processing, and rejected and logged otherwise — {}.", checks.join("; ")),
            ),
        );
    }
    push(
        "outbound_allow_list",
        Control::Transfer,
        lang.pick(
            "Ausgehende Verbindungen nur zu den konfigurierten Plattform-APIs, deren Datei-Servern und freigegebenen Hosts (Allow-List im HTTP-Client, auch für Weiterleitungen); alles andere wird abgelehnt und protokolliert. Dazu kommen die Event-Webhooks, die ein Mandant selbst einträgt.",
            "Outbound connections only to the configured platform APIs, their file servers and allowed hosts (allow-list in the HTTP client, redirects included); everything else is refused and logged. Plus the event webhooks a tenant registers itself.",
        ),
    );
    let tokens: i64 = install.tokens.values().sum();
    push(
        "api_tokens",
        Control::SystemAccess,
        lang.pick(
            &format!("Zugang zur API nur mit einem persönlichen Token (Bearer); gespeichert ist nur dessen SHA-256-Hash, der Vergleich erfolgt in konstanter Zeit; {tokens} aktive Tokens."),
            &format!("API access only with a personal bearer token; only its SHA-256 hash is stored and compared in constant time; {tokens} active tokens."),
        ),
    );
    push(
        "roles",
        Control::DataAccess,
        lang.pick(
            "Rollenmodell (admin, tenant_admin, dpo, agent, ingest): Inhalte lesen nur berechtigte Rollen; eingeschränkte Daten (Art. 18 DSGVO) liest nur der Datenschutzbeauftragte unter Angabe eines Grundes nach Art. 18 Abs. 2.",
            "Role model (admin, tenant_admin, dpo, agent, ingest): only entitled roles read contents; restricted data (Art. 18 GDPR) is read by the DPO alone, naming an Art. 18(2) ground.",
        ),
    );
    let audit_years = if posture.audit_years == 0 {
        lang.pick("unbefristet", "without limit")
    } else {
        lang.pick(
            &format!("{} Jahre", posture.audit_years),
            &format!("{} years", posture.audit_years),
        )
    };
    push(
        "audit_chain",
        Control::Input,
        lang.pick(
            &format!("Jeder Lesezugriff auf personenbezogene Daten und jede Änderung wird in derselben Transaktion in ein manipulationssicheres Protokoll (SHA-256-Hashkette, prüfbar mit `hafen audit verify`) geschrieben; Aufbewahrung {audit_years}."),
            &format!("Every read of personal data and every change is written, in the same transaction, to a tamper-evident log (SHA-256 hash chain, checked by `hafen audit verify`); kept for {audit_years}."),
        ),
    );
    if let Some(t) = tenant {
        if !t.purposes.is_empty() {
            push(
                "consent_ledger",
                Control::Input,
                lang.pick(
                    &format!("Einwilligungen (Double-Opt-in) für {} Zwecke werden in einem hashverketteten Nachweisregister mit Text und Version geführt; Werbenachrichten ohne bestätigte Einwilligung werden abgelehnt.", t.purposes.len()),
                    &format!("Consents (double opt-in) for {} purposes are kept in a hash-chained ledger with the text and its version; promotional messages without confirmed consent are refused.", t.purposes.len()),
                ),
            );
        }
    }
    if posture.require_approval {
        push(
            "four_eyes_retention",
            Control::Instructions,
            lang.pick(
                "Änderungen der Löschregeln werden erst wirksam, wenn eine zweite berechtigte Person sie nach Ansicht des Probelaufs freigibt (Vier-Augen-Prinzip).",
                "Changes to the deletion rules take effect only once a second authorised person approves them after seeing the dry run (four-eyes principle).",
            ),
        );
    } else {
        inactive.push("four_eyes_retention");
        push(
            "four_eyes_retention",
            Control::Instructions,
            lang.pick(
                "Vier-Augen-Prinzip für Löschregeln: NICHT AKTIV. Eine berechtigte Person kann neue Löschregeln allein aktivieren, nachdem sie den Probelauf angesehen hat.",
                "Four-eyes principle for deletion rules: NOT ACTIVE. One authorised person can activate new deletion rules alone, after seeing the dry run.",
            ),
        );
    }
    push(
        "tenant_separation",
        Control::Separation,
        lang.pick(
            &format!("Mandantentrennung: jeder Mandant hat eigene Daten- und Indexschlüssel, jede Abfrage ist auf einen Mandanten beschränkt, Tokens gelten für genau einen Mandanten; {} Mandanten in dieser Installation.", install.tenants.len()),
            &format!("Tenant separation: every tenant has its own data and index keys, every query is scoped to one tenant, tokens belong to exactly one tenant; {} tenants on this install.", install.tenants.len()),
        ),
    );
    match (posture.backend.as_str(), posture.sqlite_full_sync) {
        ("sqlite", true) => push(
            "durable_commit",
            Control::Availability,
            lang.pick(
                "Eingänge werden erst bestätigt, wenn sie dauerhaft geschrieben sind (SQLite, WAL, synchronous=FULL).",
                "Submissions are acknowledged only once durably written (SQLite, WAL, synchronous=FULL).",
            ),
        ),
        ("postgresql", _) => push(
            "durable_commit",
            Control::Availability,
            lang.pick(
                "Eingänge werden erst nach dem COMMIT in PostgreSQL bestätigt.",
                "Submissions are acknowledged only after their COMMIT in PostgreSQL.",
            ),
        ),
        _ => {
            inactive.push("durable_commit");
            push(
                "durable_commit",
                Control::Availability,
                lang.pick(
                    "Dauerhaftes Schreiben vor der Bestätigung: EINGESCHRÄNKT. SQLite mit synchronous=NORMAL übersteht einen Absturz des Programms, aber nicht jeden Stromausfall.",
                    "Durable write before acknowledging: LIMITED. SQLite with synchronous=NORMAL survives a crash of the program, but not every power loss.",
                ),
            );
        }
    }
    if let Some(at) = install.last_backup {
        let at = at.format("%Y-%m-%d %H:%M UTC");
        push(
            "backups",
            Control::Availability,
            lang.pick(
                &format!("Konsistente Online-Sicherungen (`hafen backup`), Daten und Schlüsselspeicher getrennt, der Schlüsselspeicher mit age verschlüsselt; letzte Sicherung: {at}."),
                &format!("Consistent online backups (`hafen backup`), data and keystore apart, the keystore age-encrypted; last backup: {at}."),
            ),
        );
    } else {
        inactive.push("backups");
        push(
            "backups",
            Control::Availability,
            lang.pick(
                "Datensicherung: NICHT NACHGEWIESEN. Es ist keine abgeschlossene Sicherung aufgezeichnet.",
                "Backups: NOT EVIDENCED. No finished backup is recorded.",
            ),
        );
    }
    if posture.recovery_recipients > 0 {
        push(
            "key_recovery",
            Control::Recovery,
            lang.pick(
                &format!("Alle Schlüssel sind zusätzlich an {} getrennt verwahrte Wiederherstellungsschlüssel (age) gebunden, so dass Daten nach Verlust des Hauptschlüssels wiederhergestellt werden können.", posture.recovery_recipients),
                &format!("Every key is also wrapped to {} separately kept recovery keys (age), so data can be restored after the loss of the master key.", posture.recovery_recipients),
            ),
        );
    } else {
        inactive.push("key_recovery");
        push(
            "key_recovery",
            Control::Recovery,
            lang.pick(
                "Wiederherstellungsschlüssel: NICHT AKTIV. Ohne den Hauptschlüssel sind weder die Daten noch die Sicherungen lesbar.",
                "Recovery keys: NOT ACTIVE. Without the master key neither the data nor the backups can be read.",
            ),
        );
    }
    if let Some(t) = tenant {
        let version = if t.rules_version == 0 {
            lang.pick(
                "die Standardregeln der Installation",
                "the install's default rules",
            )
        } else {
            lang.pick(
                &format!("Version {} der Löschregeln", t.rules_version),
                &format!("version {} of the deletion rules", t.rules_version),
            )
        };
        let schedule = if posture.retention_schedule.is_empty() {
            String::new()
        } else {
            lang.pick(
                &format!(" nach dem Zeitplan „{}“ (cron)", posture.retention_schedule),
                &format!(" on the schedule \"{}\" (cron)", posture.retention_schedule),
            )
        };
        if posture.retention_schedule.is_empty() {
            inactive.push("retention_enforced");
            push(
                "retention_enforced",
                Control::Erasure,
                lang.pick(
                    &format!("Automatische Durchsetzung der Löschfristen: NICHT AKTIV. Es ist kein Zeitplan konfiguriert; gelöscht wird nur, wenn jemand einen Löschlauf startet (`hafen retention run` oder die API). In Kraft ist {version} ({} Regeln); jeder Lauf hinterlässt ein hashverkettetes Löschprotokoll.", t.rules.rules.len()),
                    &format!("Automatic enforcement of the deletion periods: NOT ACTIVE. No schedule is configured; data is deleted only when someone starts a run (`hafen retention run` or the API). {version} is in force ({} rules); every run leaves a hash-chained deletion certificate.", t.rules.rules.len()),
                ),
            );
        } else {
            push(
                "retention_enforced",
                Control::Erasure,
                lang.pick(
                    &format!("Löschfristen werden automatisch durchgesetzt{schedule}: in Kraft ist {version} ({} Regeln); jeder Löschlauf hinterlässt ein hashverkettetes Löschprotokoll.", t.rules.rules.len()),
                    &format!("Deletion periods are enforced automatically{schedule}: {version} is in force ({} rules); every run leaves a hash-chained deletion certificate.", t.rules.rules.len()),
                ),
            );
        }
        push(
            "crypto_shredding",
            Control::Erasure,
            crypto_shredding(posture, lang),
        );
    }
    if posture.backend == "sqlite" {
        push(
            "secure_delete",
            Control::Erasure,
            lang.pick(
                "Gelöschte Datensätze werden in der Datenbankdatei überschrieben (SQLite secure_delete), freier Platz wird zurückgegeben.",
                "Deleted records are overwritten in the database file (SQLite secure_delete) and free space is given back.",
            ),
        );
    }
    if let Some(country) = &posture.storage_country {
        push(
            "storage_location",
            Control::Transfer,
            lang.pick(
                &format!("Speicherort der Daten laut Konfiguration: {country}; Hafen läuft auf eigener Hardware des Auftragsverarbeiters."),
                &format!("Storage location as configured: {country}; Hafen runs on the processor's own hardware."),
            ),
        );
    }
    for measure in &mut m {
        measure.active = !inactive.contains(&measure.id);
    }
    m
}

/// What destroying a key achieves, honestly: the data is unreadable at once in the database,
/// and in backups once the backups that still carry the key are gone.
fn crypto_shredding(posture: &Posture, lang: Lang) -> String {
    let lifetime = match (posture.backup_schedule.as_str(), daily(&posture.backup_schedule)) {
        ("", _) => lang.pick(
            "Sicherungen werden nicht nach Zeitplan erstellt: eine von Hand erstellte Sicherung hält vernichtete Schlüssel lesbar, bis sie gelöscht wird.",
            "Backups are not scheduled: a backup made by hand keeps destroyed keys readable until it is deleted.",
        ),
        (_, true) => lang.pick(
            &format!("Jede Sicherung enthält den Schlüsselspeicher ihrer Zeit; bei täglichen Sicherungen und {} aufbewahrten Generationen ist ein vernichteter Schlüssel nach spätestens {} Tagen auch in allen Sicherungen fort.", posture.backup_keep, posture.backup_keep + 1),
            &format!("Every backup holds the keystore of its time; with daily backups and {} generations kept, a destroyed key is gone from every backup after {} days at the latest.", posture.backup_keep, posture.backup_keep + 1),
        ),
        (schedule, false) => lang.pick(
            &format!("Jede Sicherung enthält den Schlüsselspeicher ihrer Zeit; ein vernichteter Schlüssel ist fort, wenn die {} aufbewahrten Sicherungen (Zeitplan „{schedule}“) durch neuere ersetzt sind.", posture.backup_keep),
            &format!("Every backup holds the keystore of its time; a destroyed key is gone once the {} backups kept (schedule \"{schedule}\") have been replaced by newer ones.", posture.backup_keep),
        ),
    };
    lang.pick(
        &format!("Crypto-Shredding: Schlüssel abgelaufener Monate und gelöschter Kontakte werden vernichtet; die Daten sind damit in der Datenbank sofort unlesbar. {lifetime}"),
        &format!("Crypto-shredding: keys of expired months and of erased contacts are destroyed, which makes the data unreadable in the database at once. {lifetime}"),
    )
}

/// Whether a six-field cron expression fires once a day (fixed second, minute and hour).
fn daily(cron: &str) -> bool {
    let f: Vec<&str> = cron.split_whitespace().collect();
    f.len() == 6
        && f[..3].iter().all(|x| x.chars().all(|c| c.is_ascii_digit()))
        && f[3..].iter().all(|x| *x == "*" || *x == "?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_follow_the_configuration() {
        let install = InstallFacts::default();
        // Active measures, and the ones listed as not active.
        let ids = |posture: &Posture| -> (Vec<&'static str>, Vec<&'static str>) {
            let all = technical_measures(posture, &install, None, Lang::De);
            (
                all.iter().filter(|m| m.active).map(|m| m.id).collect(),
                all.iter().filter(|m| !m.active).map(|m| m.id).collect(),
            )
        };
        let (on, off) = ids(&Posture::default());
        for id in [
            "tls_listener",
            "four_eyes_retention",
            "key_recovery",
            "backups",
        ] {
            assert!(!on.contains(&id), "{id} is off");
            assert!(off.contains(&id), "{id} is listed as not active: {off:?}");
        }
        assert!(on.contains(&"encryption_at_rest"));
        let (on, off) = ids(&Posture {
            tls: true,
            recovery_recipients: 2,
            require_approval: true,
            ..Posture::default()
        });
        for id in ["tls_listener", "four_eyes_retention", "key_recovery"] {
            assert!(on.contains(&id), "{id} missing from {on:?}");
            assert!(!off.contains(&id));
        }
        let (on, off) = ids(&Posture {
            backend: "postgresql".into(),
            ..Posture::default()
        });
        assert!(!on.contains(&"secure_delete") && !off.contains(&"secure_delete"));
    }

    #[test]
    fn crypto_shredding_says_how_long_backups_keep_keys() {
        let daily = Posture {
            backup_schedule: "0 0 3 * * *".into(),
            backup_keep: 7,
            ..Posture::default()
        };
        let text = crypto_shredding(&daily, Lang::De);
        assert!(text.contains("nach spätestens 8 Tagen"), "{text}");
        assert!(!text.contains("auch in Sicherungen wirksam"));
        let manual = crypto_shredding(&Posture::default(), Lang::En);
        assert!(manual.contains("until it is deleted"), "{manual}");
    }
}
