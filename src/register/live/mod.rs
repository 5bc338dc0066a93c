//! What Hafen knows about its own processing, read from the running install: the channels,
//! consent purposes and retention rules of a tenant, and the technical measures that are
//! actually switched on. Reports are built from this, so they cannot claim a measure that is
//! not active or miss a channel that is.

mod activities;
mod measures;
mod rule_words;

use std::collections::BTreeMap;

use diesel::prelude::*;

use serde::{Deserialize, Serialize};

use super::{Activity, Control, SubProcessor};
use crate::channels::registry::Platform;
use crate::i18n::Lang;
use crate::retention::rules::{Category, Retain, Rule, RuleSet, StartPoint};
use crate::store::id;
use crate::store::schema::{
    api_tokens, channels, consent_purposes, contacts, event_hooks, tenants,
};
use crate::store::{DbConn, StoreError};

pub use activities::*;
pub use measures::*;
pub use rule_words::*;

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
        .filter(tenants::id.eq(id::bind(tenant)))
        .select(tenants::name)
        .first::<String>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, bool)> = channels::table
        .filter(channels::tenant_id.eq(id::bind(tenant)))
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
        .filter(consent_purposes::tenant_id.eq(id::bind(tenant)))
        .order(consent_purposes::created_at.asc())
        .select((consent_purposes::id, consent_purposes::name))
        .load(conn)?;
    let (rules, rules_version) = crate::retention::rules_in_force(conn, tenant)?;
    let holds = crate::retention::holds::active(conn, tenant, now)?;
    let active_holds =
        (holds.contacts.len() + holds.ranges.len() + usize::from(holds.whole_tenant)) as i64;
    let event_hooks = event_hooks::table
        .filter(event_hooks::tenant_id.eq(id::bind(tenant)))
        .filter(event_hooks::channel_id.is_null())
        .count()
        .get_result(conn)?;
    let contacts_total = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
        .count()
        .get_result(conn)?;
    let restricted_contacts = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
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
