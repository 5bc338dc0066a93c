//! The access (Art. 15) and portability (Art. 20) export of one contact: a ZIP with
//! `data.json` (machine-readable, schema `hafen.subject-export.v1`), `auskunft.pdf` (for
//! people) and the files, optionally age-encrypted to a recipient or a passphrase.
//!
//! Other people's data is left out: platform payloads (`raw`, which may carry the business
//! account's and other participants' details) and internal ids are not exported; outbound
//! messages are included with their text only, never who on the company's side wrote them.
//! Portability is narrower still: what the subject provided (their own messages and files,
//! their contact data and consent statements).

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Requests;
use super::{Kind, RequestRow, COMPLETED, OPEN};
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::consent::ConsentView;
use crate::contacts::{self, ContactView};
use crate::documents::{self, Block};
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::messages::attachments::{self, AttachmentRow};
use crate::messages::read::MessageView;
use crate::messages::{Direction, MessageKind};
use crate::page::PageRequest;
use crate::periods as keys;
use crate::records::live;
use crate::records::register::{Document, Scope, Section as Part, SubProcessor};
use crate::store::schema::{attachments as attachment_table, consent_texts};
use crate::tenants::TenantId;

/// How to protect the export.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportOptions {
    /// Encrypt to this age recipient (`age1…`), e.g. the subject's own key.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Encrypt with this passphrase (age scrypt; at least 12 characters), told to the subject
    /// on another channel.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// Language of the PDF and of the Art. 15 information (default de).
    #[serde(default)]
    pub lang: Option<Lang>,
}

/// A finished export.
pub struct Export {
    pub bytes: Vec<u8>,
    pub encrypted: bool,
    pub sha256: String,
    pub file_name: String,
}

#[derive(Debug, Serialize)]
struct ExportedMessage {
    id: String,
    channel: String,
    direction: Direction,
    kind: MessageKind,
    occurred_at: DateTime<Utc>,
    body: Option<String>,
    /// Unreadable: erased or shredded.
    unreadable: bool,
    delivery_status: Option<String>,
    files: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ExportedConsentEvent {
    event: String,
    at: DateTime<Utc>,
    source: String,
    text_version: Option<i32>,
    text: Option<String>,
    /// SHA-256 of the consent text as shown (hex), as the ledger recorded it.
    text_sha256: String,
    /// How the step was given or recorded: IP address and user agent for web sign-ups, the
    /// page, the keyword the person wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<crate::consent::Evidence>,
}

#[derive(Debug, Serialize)]
struct ExportedConsent {
    purpose: String,
    state: String,
    requested_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    history: Vec<ExportedConsentEvent>,
}

/// The Art. 15(1) and (2) information.
#[derive(Debug, Serialize)]
struct Information {
    controller: String,
    controller_contact: Option<String>,
    dpo: Option<String>,
    purposes: Vec<String>,
    legal_bases: Vec<String>,
    data_categories: Vec<String>,
    recipients: Vec<String>,
    /// Joint controllers (Art. 26 GDPR) of the person's channel, e.g. Meta for a Facebook page.
    joint_controllers: Vec<String>,
    third_country_transfers: Vec<String>,
    /// For each category of data the person has: the rule in force for the person's channel.
    storage_periods: Vec<String>,
    /// Art. 15(1)(h).
    automated_decisions: String,
    /// Why and until when processing is restricted, if it is.
    restriction: Option<String>,
    rights: Vec<String>,
    complaint: String,
    source: String,
}

#[derive(Debug, Serialize)]
struct SubjectExport {
    schema: &'static str,
    kind: Kind,
    request_id: String,
    generated_at: DateTime<Utc>,
    contact: ContactView,
    messages: Vec<ExportedMessage>,
    consents: Vec<ExportedConsent>,
    information: Information,
}

const PAGE: u32 = 500;

impl Requests {
    /// Builds the export of an access or portability request and closes the request (a
    /// later call exports again, e.g. when a download was lost).
    pub async fn export(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        options: ExportOptions,
    ) -> Result<Export> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        let encryptor = encryption(&options)?;
        let lang = options.lang.unwrap_or_default();
        let row = self.request_row(tenant, id).await?;
        let kind = Kind::from_stored(&row.kind);
        if !matches!(kind, Kind::Access | Kind::Portability) {
            return Err(Error::Conflict(format!(
                "this is a request for {}; only access and portability requests are exported",
                row.kind
            )));
        }
        if row.status != OPEN && row.status != COMPLETED {
            return Err(Error::Conflict(format!("this request is {}", row.status)));
        }
        let export = self.subject_export(actor, tenant, &row, kind, lang).await?;
        let (data, files) = export;
        let pdf = render_pdf(&data, lang, self.records.letterhead(tenant).await?)?;
        let json = serde_json::to_vec_pretty(&data).map_err(Error::internal)?;
        let zip = zip_export(&json, &pdf, &files, lang)?;
        let (bytes, encrypted) = match encryptor {
            None => (zip, false),
            Some(e) => (encrypt(e, &zip)?, true),
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let outcome = serde_json::json!({
            "exported_at": self.infra.clock.now(),
            "sha256": sha256,
            "messages": data.messages.len(),
            "files": files.len(),
            "encrypted": encrypted,
        });
        let event = AuditEvent::new(actor, "dsr.export")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!(
                "kind={} messages={} files={} encrypted={encrypted} sha256={sha256}",
                row.kind,
                data.messages.len(),
                files.len()
            ));
        if row.status == OPEN {
            let at = self.infra.clock.now();
            let (rid, by) = (id.to_string(), actor.audit_label());
            self.infra
                .store
                .write(move |conn| {
                    super::complete(
                        conn,
                        &rid,
                        COMPLETED,
                        &outcome,
                        None,
                        &by,
                        crate::clock::to_micros(at),
                    )?;
                    crate::audit::append(conn, at, event.clone())
                })
                .await?;
        } else {
            self.infra.record(event).await?;
        }
        let file_name = format!(
            "auskunft-{}.zip{}",
            &row.contact_id,
            if encrypted { ".age" } else { "" }
        );
        Ok(Export {
            bytes,
            encrypted,
            sha256,
            file_name,
        })
    }

    async fn subject_export(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        row: &RequestRow,
        kind: Kind,
        lang: Lang,
    ) -> Result<(SubjectExport, Vec<(String, Vec<u8>)>)> {
        let contact_id = row.contact_id.clone();
        let (t, cid) = (tenant.clone(), contact_id.clone());
        let contact_row = self
            .infra
            .store
            .read(move |conn| contacts::find(conn, &t, &cid))
            .await?
            .ok_or_else(|| Error::Conflict("the contact no longer exists (erased)".into()))?;
        let contact_keys = self.contacts.keys_for(tenant, &contact_id).await.ok();
        let contact = ContactView::open_restricted(&contact_row, contact_keys.as_deref())?;

        // Messages, page by page; the export is audited once, as a whole.
        let mut messages_out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .messages
                .of_contact(
                    tenant,
                    &contact_id,
                    PageRequest {
                        after: after.clone(),
                        limit: PAGE,
                    },
                    None,
                    false,
                )
                .await?;
            messages_out.extend(
                page.items
                    .into_iter()
                    .filter(|m| kind == Kind::Access || m.direction == Direction::In),
            );
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        let files = self
            .subject_files(tenant, &contact_id, &messages_out)
            .await?;
        let mut file_names: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, _) in &files {
            if let Some((message, _)) = name
                .strip_prefix("dateien/")
                .and_then(|n| n.split_once('-'))
            {
                file_names
                    .entry(message.to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
        let messages = messages_out
            .into_iter()
            .map(|m: MessageView| ExportedMessage {
                files: file_names.remove(&m.id).unwrap_or_default(),
                unreadable: m.erased || m.shredded,
                id: m.id,
                channel: m.channel,
                direction: m.direction,
                kind: m.kind,
                occurred_at: m.occurred_at,
                body: m.body,
                delivery_status: m.delivery_status,
            })
            .collect();
        let consents = self.exported_consents(actor, tenant, &contact_id).await?;
        let information = self.art15_information(tenant, &contact_row, lang).await?;
        Ok((
            SubjectExport {
                schema: "hafen.subject-export.v1",
                kind,
                request_id: row.id.clone(),
                generated_at: self.infra.clock.now(),
                contact,
                messages,
                consents,
                information,
            },
            files,
        ))
    }

    /// The contact's stored files, decrypted: ("dateien/<message>-<n>.<ext>", bytes).
    async fn subject_files(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        messages: &[MessageView],
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let Ok(base) = self.contacts.keys_for(tenant, contact_id).await else {
            return Ok(Vec::new());
        };
        let (ring, t) = (self.infra.keys.clone(), tenant.as_str().to_string());
        self.infra
            .store
            .read(move |conn| {
                let mut out = Vec::new();
                for chunk in ids.chunks(500) {
                    let rows: Vec<AttachmentRow> = attachment_table::table
                        .filter(attachment_table::tenant_id.eq(&t))
                        .filter(attachment_table::message_id.eq_any(chunk))
                        .filter(attachment_table::state.eq("stored"))
                        .order((attachment_table::message_id, attachment_table::n))
                        .select(AttachmentRow::as_select())
                        .load(conn)?;
                    for a in rows {
                        let Some(sealed) = &a.content_sealed else {
                            continue;
                        };
                        let keys = match keys::bound_blocking(
                            &ring,
                            conn,
                            &base,
                            a.period_key_id.as_deref(),
                        ) {
                            Ok(Ok(k)) => k,
                            Ok(Err(_)) => continue,
                            Err(e) => return Ok(Err(e)),
                        };
                        let content = match keys.seal.open(
                            &attachments::binding(&a.tenant_id, &a.id, "content"),
                            sealed,
                        ) {
                            Ok(c) => c,
                            Err(e) => return Ok(Err(e.into())),
                        };
                        let ext = extension(a.mime_type.as_deref());
                        out.push((
                            format!("dateien/{}-{}.{ext}", a.message_id, a.n),
                            content.to_vec(),
                        ));
                    }
                }
                Ok(Ok(out))
            })
            .await?
    }

    async fn exported_consents(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<Vec<ExportedConsent>> {
        let consents: Vec<ConsentView> = self.consent.of_contact(actor, tenant, contact_id).await?;
        let purposes: BTreeMap<String, String> = self
            .infra
            .store
            .read({
                let t = tenant.as_str().to_string();
                move |conn| {
                    use crate::store::schema::consent_purposes as p;
                    Ok(p::table
                        .filter(p::tenant_id.eq(&t))
                        .select((p::id, p::name))
                        .load::<(String, String)>(conn)?
                        .into_iter()
                        .collect())
                }
            })
            .await?;
        let text_ids: Vec<String> = consents
            .iter()
            .flat_map(|c| c.history.iter().flatten().map(|e| e.text_id.clone()))
            .collect();
        let t = tenant.as_str().to_string();
        let texts: BTreeMap<String, (i32, String)> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consent_texts::table
                    .filter(consent_texts::tenant_id.eq(&t))
                    .filter(consent_texts::id.eq_any(&text_ids))
                    .select((
                        consent_texts::id,
                        consent_texts::version,
                        consent_texts::text,
                    ))
                    .load::<(String, i32, String)>(conn)?
                    .into_iter()
                    .map(|(id, v, text)| (id, (v, text)))
                    .collect())
            })
            .await?;
        Ok(consents
            .into_iter()
            .map(|c| ExportedConsent {
                purpose: purposes
                    .get(&c.purpose_id)
                    .cloned()
                    .unwrap_or_else(|| c.purpose_id.clone()),
                state: serde_json::to_value(c.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                requested_at: c.requested_at,
                confirmed_at: c.confirmed_at,
                withdrawn_at: c.withdrawn_at,
                history: c
                    .history
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| {
                        let text = texts.get(&e.text_id);
                        ExportedConsentEvent {
                            event: e.event,
                            at: e.at,
                            source: e.source,
                            text_version: text.map(|t| t.0),
                            text: text.map(|t| t.1.clone()),
                            text_sha256: e.text_sha256,
                            evidence: e.evidence,
                        }
                    })
                    .collect(),
            })
            .collect())
    }

    /// What Art. 15(1)(a)-(h) and (2) require, about this person: the purposes, categories,
    /// recipients, transfers and storage periods that concern the person's channel and
    /// consents (not every activity of the tenant), from the register and the live
    /// configuration.
    async fn art15_information(
        &self,
        tenant: &TenantId,
        contact: &contacts::ContactRow,
        lang: Lang,
    ) -> Result<Information> {
        let now = self.infra.clock.now();
        let (t, c) = (tenant.as_str().to_string(), contact.id.clone());
        let (facts, purposes, categories, restriction, kept_until) = self
            .infra
            .store
            .read(move |conn| {
                let facts = live::tenant_facts(conn, &t, crate::clock::to_micros(now))?;
                let purposes: Vec<String> = {
                    use crate::store::schema::consents;
                    consents::table
                        .filter(consents::tenant_id.eq(&t))
                        .filter(consents::contact_id.eq(&c))
                        .select(consents::purpose_id)
                        .distinct()
                        .load(conn)?
                };
                let categories = person_categories(conn, &t, &c)?;
                let restriction: Option<Vec<u8>> = {
                    use crate::store::schema::contacts as ct;
                    ct::table
                        .filter(ct::tenant_id.eq(&t))
                        .filter(ct::id.eq(&c))
                        .select(ct::restriction_sealed)
                        .first::<Option<Vec<u8>>>(conn)
                        .optional()?
                        .flatten()
                };
                let kept_until = super::erase::kept_until(conn, &t, &c)?;
                Ok((facts, purposes, categories, restriction, kept_until))
            })
            .await?;
        let facts = facts.ok_or(Error::NotFound)?;
        let scope = Scope::Tenant(tenant.clone());
        let controller = match self
            .records
            .register_entry_internal(&scope, Part::Controller)
            .await?
        {
            Some(e) => match e.parsed {
                Some(Document::Controller(c)) => Some(c),
                _ => None,
            },
            None => None,
        };
        let manual = match self
            .records
            .register_entry_internal(&scope, Part::Activities)
            .await?
        {
            Some(e) => match e.parsed {
                Some(Document::Activities(a)) => a,
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let registered: Vec<SubProcessor> = match self
            .records
            .register_entry_internal(&scope, Part::Subprocessors)
            .await?
        {
            Some(e) => match e.parsed {
                Some(Document::Subprocessors(list)) => list,
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let processor = match self
            .records
            .register_entry_internal(&Scope::Processor, Part::Processor)
            .await?
            .and_then(|e| e.parsed)
        {
            Some(Document::Processor(p)) => Some(p),
            _ => None,
        };
        let platform = facts
            .channels
            .iter()
            .map(|ch| ch.platform)
            .find(|p| p.as_str() == contact.channel);
        // Only what concerns this person: the activities of the person's channel and of the
        // purposes the person was asked to consent to. Activities entered by hand say nothing
        // about which channel they use; they are not claimed for the person.
        let activities: Vec<live::ActivityRecord> = live::activities(&facts, &manual, lang)
            .into_iter()
            .filter(|a| a.generated)
            .filter(|a| match a.key.split_once(':') {
                Some(("channel", id)) => facts
                    .channels
                    .iter()
                    .any(|ch| ch.id == id && ch.platform.as_str() == contact.channel),
                Some(("consent", id)) => purposes.iter().any(|p| p == id),
                _ => false,
            })
            .collect();
        let uniq = |v: Vec<String>| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for x in v {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
            out
        };
        // Recipients: the platform's operator (the register's confirmed entry where there is
        // one), the processor that runs Hafen, the register's other sub-processors (they see
        // every person's data), the controller's own systems.
        let platform_entry = platform.map(|p| {
            let pre = live::platform_subprocessor(p, lang);
            registered
                .iter()
                .find(|s| s.key == pre.key)
                .cloned()
                .map(|s| (s, true))
                .unwrap_or((pre, false))
        });
        let platform_keys = ["meta", "telegram"];
        let others: Vec<&SubProcessor> = registered
            .iter()
            .filter(|s| !platform_keys.contains(&s.key.as_str()))
            .collect();
        let mut recipients = Vec::new();
        if platform == Some(crate::channels::Platform::Messenger) {
            // A Facebook page's messages: Meta is a recipient in its own responsibility, not
            // the controller's processor (the register's Meta entry describes WhatsApp).
            recipients.push(lang.pick(
                "Meta Platforms Ireland Ltd. (Betreiberin der Messenger-Plattform; verarbeitet die Nachrichteninhalte in eigener Verantwortung)",
                "Meta Platforms Ireland Ltd. (operator of the Messenger Platform; processes the message contents under its own responsibility)",
            ));
        } else if let Some((s, confirmed)) = &platform_entry {
            recipients.push(format!(
                "{} ({}){}",
                s.name,
                s.service,
                if *confirmed {
                    String::new()
                } else {
                    lang.pick(
                        " [Angabe des Plattformbetreibers, vom Verantwortlichen noch nicht bestätigt]",
                        " [as stated by the platform, not yet confirmed by the controller]",
                    )
                }
            ));
        }
        if let Some(p) = &processor {
            recipients.push(lang.pick(
                &format!(
                    "{}, {} (Auftragsverarbeiter: Betrieb des Nachrichtensystems)",
                    p.name, p.address
                ),
                &format!(
                    "{}, {} (processor: operates the messaging system)",
                    p.name, p.address
                ),
            ));
        }
        for s in &others {
            recipients.push(lang.pick(
                &format!("{} ({}; Unterauftragsverarbeiter)", s.name, s.service),
                &format!("{} ({}; sub-processor)", s.name, s.service),
            ));
        }
        if facts.event_hooks > 0 {
            recipients.push(lang.pick(
                "Systeme des Verantwortlichen (angebundene Anwendungen über Event-Webhooks)",
                "The controller's own systems (applications connected through event webhooks)",
            ));
        }
        // The bots of the channels this person writes on: they receive the messages, and a bot
        // that decides automatically owes the person its logic and effects (Art. 15(1)(h)).
        let bots: Vec<&crate::bots::BotRow> = facts
            .bots
            .iter()
            .filter(|b| {
                facts
                    .channels
                    .iter()
                    .any(|ch| ch.id == b.channel_id && ch.platform.as_str() == contact.channel)
            })
            .collect();
        for bot in &bots {
            recipients.push(lang.pick(
                &format!(
                    "Chatbot „{}“ des Verantwortlichen (beantwortet Nachrichten automatisch)",
                    bot.name
                ),
                &format!(
                    "The controller's chatbot \u{201c}{}\u{201d} (answers messages automatically)",
                    bot.name
                ),
            ));
        }
        let decisions: Vec<String> = bots
            .iter()
            .filter_map(|b| b.automated_decisions().map(|d| (b, d)))
            .map(|(b, d)| {
                lang.pick(
                    &format!("Der Chatbot „{}“ trifft automatisierte Entscheidungen (Art. 22 DSGVO). Logik: {} Tragweite und Auswirkungen: {} Sie können verlangen, dass ein Mensch die Entscheidung überprüft.", b.name, d.logic, d.effects),
                    &format!("The chatbot \u{201c}{}\u{201d} takes automated decisions (Art. 22 GDPR). Logic: {} Significance and consequences: {} You may ask for a person to review the decision.", b.name, d.logic, d.effects),
                )
            })
            .collect();
        let mut third_country_transfers = Vec::new();
        for (s, _) in platform_entry.iter().map(|(s, c)| (s, c)) {
            if !s.third_countries.is_empty() {
                third_country_transfers.push(format!(
                    "{} ({}): {}",
                    s.name,
                    s.third_countries.join(", "),
                    s.transfer_mechanism.clone().unwrap_or_default()
                ));
            }
        }
        for s in &others {
            if !s.third_countries.is_empty() {
                third_country_transfers.push(format!(
                    "{} ({}): {}",
                    s.name,
                    s.third_countries.join(", "),
                    s.transfer_mechanism.clone().unwrap_or_default()
                ));
            }
        }
        let storage_periods = categories
            .iter()
            .filter_map(|(c, letters)| {
                facts
                    .rules
                    .rule_for(*c, &contact.channel, letters.unwrap_or(false))
                    .map(|rule| {
                        let class = match letters {
                            Some(true) => {
                                lang.pick(" (Handels- und Geschäftsbriefe)", " (business letters)")
                            }
                            Some(false) => lang.pick(" (übrige Nachrichten)", " (other messages)"),
                            None => String::new(),
                        };
                        format!(
                            "{}{class}: {}",
                            c.label(lang),
                            live::describe_rule(rule, lang)
                        )
                    })
            })
            .collect();
        let restriction = match (contact.restricted_at, restriction) {
            (Some(at), sealed) => {
                let keys = self.infra.tenant_keys(tenant).await?;
                let reason = sealed
                    .map(|s| {
                        keys.seal.open_string(
                            &contacts::binding(tenant.as_str(), &contact.id, "restriction"),
                            &s,
                        )
                    })
                    .transpose()?
                    .unwrap_or_default();
                let since = crate::i18n::day(crate::clock::from_micros(at), lang);
                Some(match kept_until {
                    Some(until) => lang.pick(
                        &format!("Die Verarbeitung Ihrer Daten ist seit {since} eingeschränkt (Art. 18 DSGVO). Grund: {reason}. Die aufbewahrten Daten werden bis spätestens {} gelöscht.", crate::i18n::day(until, lang)),
                        &format!("Processing of your data has been restricted since {since} (Art. 18 GDPR). Reason: {reason}. The kept data is erased by {} at the latest.", crate::i18n::day(until, lang)),
                    ),
                    None => lang.pick(
                        &format!("Die Verarbeitung Ihrer Daten ist seit {since} eingeschränkt (Art. 18 DSGVO). Grund: {reason}. Vor einer Aufhebung unterrichten wir Sie."),
                        &format!("Processing of your data has been restricted since {since} (Art. 18 GDPR). Reason: {reason}. We will inform you before it is lifted."),
                    ),
                })
            }
            (None, _) => None,
        };
        Ok(Information {
            controller: controller
                .as_ref()
                .map(|c| format!("{}, {}", c.party.name, c.party.address))
                .unwrap_or_else(|| facts.name.clone()),
            controller_contact: controller.as_ref().map(|c| c.party.contact.clone()),
            dpo: controller.as_ref().and_then(|c| {
                c.party.dpo_name.as_ref().map(|n| {
                    format!(
                        "{n}{}",
                        c.party
                            .dpo_contact
                            .as_ref()
                            .map(|x| format!(", {x}"))
                            .unwrap_or_default()
                    )
                })
            }),
            purposes: uniq(activities.iter().flat_map(|a| a.purposes.clone()).collect()),
            legal_bases: uniq(activities.iter().map(|a| a.legal_basis.clone()).collect()),
            data_categories: uniq(
                activities
                    .iter()
                    .flat_map(|a| a.data_categories.clone())
                    .collect(),
            ),
            recipients,
            joint_controllers: uniq(
                activities
                    .iter()
                    .flat_map(|a| a.joint_controllers.clone())
                    .collect(),
            ),
            third_country_transfers,
            storage_periods,
            automated_decisions: if decisions.is_empty() {
                lang.pick(
                    "Eine automatisierte Entscheidungsfindung einschließlich Profiling (Art. 22 Abs. 1 und 4 DSGVO) findet nicht statt.",
                    "No automated decision-making, including profiling (Art. 22(1) and (4) GDPR), takes place.",
                )
            } else {
                decisions.join(" ")
            },
            restriction,
            rights: vec![
                lang.pick("Auskunft (Art. 15 DSGVO)", "Access (Art. 15 GDPR)"),
                lang.pick("Berichtigung (Art. 16 DSGVO)", "Rectification (Art. 16 GDPR)"),
                lang.pick("Löschung (Art. 17 DSGVO)", "Erasure (Art. 17 GDPR)"),
                lang.pick(
                    "Einschränkung der Verarbeitung (Art. 18 DSGVO)",
                    "Restriction of processing (Art. 18 GDPR)",
                ),
                lang.pick("Datenübertragbarkeit (Art. 20 DSGVO)", "Data portability (Art. 20 GDPR)"),
                lang.pick("Widerspruch (Art. 21 DSGVO)", "Objection (Art. 21 GDPR)"),
                lang.pick(
                    "Widerruf einer Einwilligung mit Wirkung für die Zukunft (Art. 7 Abs. 3 DSGVO), z. B. mit der Nachricht STOP",
                    "Withdrawal of consent for the future (Art. 7(3) GDPR), e.g. by sending STOP",
                ),
            ],
            complaint: lang.pick(
                "Sie haben das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren (Art. 77 DSGVO).",
                "You have the right to lodge a complaint with a supervisory authority (Art. 77 GDPR).",
            ),
            source: {
                let platform = platform
                    .map(|p| p.label().to_string())
                    .unwrap_or_else(|| contact.channel.clone());
                lang.pick(
                    &format!("Die Daten stammen von Ihnen selbst: aus Ihren Nachrichten über {platform} und, bei Anmeldungen über ein Webformular, aus Ihren Angaben dort."),
                    &format!("The data comes from you: from your messages over {platform} and, for sign-ups through a web form, from what you entered there."),
                )
            },
        })
    }
}

fn extension(mime: Option<&str>) -> &'static str {
    match mime.unwrap_or("") {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "video/mp4" => "mp4",
        "text/plain" => "txt",
        _ => "bin",
    }
}

enum Encryption {
    Recipient(age::x25519::Recipient),
    Passphrase(age::secrecy::SecretString),
}

fn encryption(options: &ExportOptions) -> Result<Option<Encryption>> {
    match (&options.recipient, &options.passphrase) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "passphrase",
            "give a recipient or a passphrase, not both",
        )),
        (Some(r), None) => r
            .trim()
            .parse::<age::x25519::Recipient>()
            .map(|r| Some(Encryption::Recipient(r)))
            .map_err(|_| Error::invalid("recipient", "is not an age X25519 recipient (age1…)")),
        (None, Some(p)) if p.chars().count() < 12 => Err(Error::invalid(
            "passphrase",
            "must be at least 12 characters",
        )),
        (None, Some(p)) => Ok(Some(Encryption::Passphrase(p.clone().into()))),
        (None, None) => Ok(None),
    }
}

fn encrypt(how: Encryption, plain: &[u8]) -> Result<Vec<u8>> {
    let fail = |e: String| Error::internal(anyhow::anyhow!("encrypting the export: {e}"));
    let encryptor = match how {
        Encryption::Recipient(r) => {
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| fail(e.to_string()))?
        }
        Encryption::Passphrase(p) => age::Encryptor::with_user_passphrase(p),
    };
    let mut out = Vec::with_capacity(plain.len() + 1024);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| fail(e.to_string()))?;
    writer
        .write_all(plain)
        .and_then(|()| writer.finish().map(|_| ()))
        .map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

fn zip_export(json: &[u8], pdf: &[u8], files: &[(String, Vec<u8>)], lang: Lang) -> Result<Vec<u8>> {
    let fail = |e: zip::result::ZipError| Error::internal(anyhow::anyhow!("writing the ZIP: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    let readme = lang.pick(
        "Auskunft nach Art. 15 DSGVO\n\ndata.json   alle Daten maschinenlesbar (Schema hafen.subject-export.v1)\nauskunft.pdf  dieselben Daten zum Lesen und Ausdrucken\ndateien/    Ihre Dateien (Bilder, Dokumente, Sprachnachrichten)\n",
        "Access under Art. 15 GDPR\n\ndata.json   all data, machine-readable (schema hafen.subject-export.v1)\nauskunft.pdf  the same data to read and print\ndateien/    your files (images, documents, voice messages)\n",
    );
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        zip.start_file(name, options).map_err(fail)?;
        zip.write_all(bytes).map_err(Error::internal)
    };
    add("LIESMICH.txt", readme.as_bytes())?;
    add("data.json", json)?;
    add("auskunft.pdf", pdf)?;
    for (name, bytes) in files {
        add(name, bytes)?;
    }
    Ok(zip.finish().map_err(fail)?.into_inner())
}

fn render_pdf(
    data: &SubjectExport,
    lang: Lang,
    letterhead: Option<documents::Letterhead>,
) -> Result<Vec<u8>> {
    let title = match data.kind {
        Kind::Portability => lang.pick(
            "Datenkopie (Art. 20 DSGVO)",
            "Copy of your data (Art. 20 GDPR)",
        ),
        _ => lang.pick("Auskunft (Art. 15 DSGVO)", "Access (Art. 15 GDPR)"),
    };
    let i = &data.information;
    let mut b = vec![
        Block::Title(title.clone()),
        Block::Field(
            lang.pick("Verantwortlicher", "Controller"),
            i.controller.clone(),
        ),
        Block::Field(
            lang.pick("Erstellt am", "Generated at"),
            crate::i18n::moment(data.generated_at, lang),
        ),
        Block::Field(lang.pick("Antrag", "Request"), data.request_id.clone()),
        Block::Space,
        Block::Heading(lang.pick("Ihre Kontaktdaten", "Your contact details")),
        Block::Field(
            lang.pick("Kanal", "Channel"),
            crate::channels::registry::channel_label(&data.contact.channel),
        ),
        Block::Field(
            lang.pick("Adresse", "Address"),
            data.contact.address.clone().unwrap_or_default(),
        ),
        Block::Field(
            lang.pick("Name", "Name"),
            data.contact.display_name.clone().unwrap_or_default(),
        ),
        Block::Space,
        Block::Heading(lang.pick(
            "Informationen nach Art. 15 Abs. 1 und 2 DSGVO",
            "Information under Art. 15(1) and (2) GDPR",
        )),
    ];
    let list = |label: String, items: &[String], b: &mut Vec<Block>| {
        b.push(Block::Field(label, String::new()));
        for item in items {
            b.push(Block::Paragraph(format!("• {item}")));
        }
    };
    list(lang.pick("Zwecke", "Purposes"), &i.purposes, &mut b);
    list(
        lang.pick("Rechtsgrundlagen", "Legal bases"),
        &i.legal_bases,
        &mut b,
    );
    list(
        lang.pick("Datenkategorien", "Categories of data"),
        &i.data_categories,
        &mut b,
    );
    list(lang.pick("Empfänger", "Recipients"), &i.recipients, &mut b);
    list(
        lang.pick(
            "Übermittlungen in Drittländer",
            "Transfers to third countries",
        ),
        &i.third_country_transfers,
        &mut b,
    );
    if !i.joint_controllers.is_empty() {
        list(
            lang.pick(
                "Gemeinsam Verantwortliche (Art. 26 DSGVO)",
                "Joint controllers (Art. 26 GDPR)",
            ),
            &i.joint_controllers,
            &mut b,
        );
    }
    list(
        lang.pick("Speicherdauer", "Storage periods"),
        &i.storage_periods,
        &mut b,
    );
    b.push(Block::Field(
        lang.pick(
            "Automatisierte Entscheidungen (Art. 15 Abs. 1 lit. h DSGVO)",
            "Automated decisions (Art. 15(1)(h) GDPR)",
        ),
        i.automated_decisions.clone(),
    ));
    if let Some(r) = &i.restriction {
        b.push(Block::Field(
            lang.pick(
                "Einschränkung der Verarbeitung",
                "Restriction of processing",
            ),
            r.clone(),
        ));
    }
    list(lang.pick("Ihre Rechte", "Your rights"), &i.rights, &mut b);
    b.push(Block::Paragraph(i.complaint.clone()));
    b.push(Block::Field(
        lang.pick("Herkunft der Daten", "Source of the data"),
        i.source.clone(),
    ));
    if let Some(dpo) = &i.dpo {
        b.push(Block::Field(
            lang.pick("Datenschutzbeauftragter", "Data protection officer"),
            dpo.clone(),
        ));
    }
    b.push(Block::Space);
    b.push(Block::Heading(lang.pick("Einwilligungen", "Consents")));
    if data.consents.is_empty() {
        b.push(Block::Paragraph(lang.pick("Keine.", "None.")));
    }
    for c in &data.consents {
        b.push(Block::Field(
            c.purpose.clone(),
            crate::consent::event_label(&c.state, lang),
        ));
        for e in &c.history {
            b.push(Block::Paragraph(format!(
                "{} — {} ({}){}",
                crate::i18n::moment_precise(e.at, lang),
                crate::consent::event_label(&e.event, lang),
                crate::consent::source_label(&e.source, lang),
                e.text
                    .as_ref()
                    .map(|t| format!(": „{t}“"))
                    .unwrap_or_default()
            )));
            if let Some(ev) = &e.evidence {
                let mut parts = Vec::new();
                if let Some(v) = &ev.page {
                    parts.push(format!("{}: {v}", lang.pick("Seite", "Page")));
                }
                if let Some(v) = &ev.ip {
                    parts.push(format!("{}: {v}", lang.pick("IP-Adresse", "IP address")));
                }
                if let Some(v) = &ev.user_agent {
                    parts.push(format!("User-Agent: {v}"));
                }
                if let Some(v) = &ev.keyword {
                    parts.push(format!("{}: {v}", lang.pick("Stichwort", "Keyword")));
                }
                if !parts.is_empty() {
                    b.push(Block::Paragraph(format!("   {}", parts.join(" · "))));
                }
            }
        }
    }
    b.push(Block::Space);
    b.push(Block::Heading(lang.pick(
        &format!("Nachrichten ({})", data.messages.len()),
        &format!("Messages ({})", data.messages.len()),
    )));
    for m in &data.messages {
        let who = match m.direction {
            Direction::In => lang.pick("Sie", "You"),
            Direction::Out => lang.pick("Unternehmen", "Company"),
        };
        let body = if m.unreadable {
            lang.pick("(gelöscht)", "(erased)")
        } else {
            m.body.clone().unwrap_or_else(|| {
                if m.files.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", m.files.join(", "))
                }
            })
        };
        b.push(Block::Paragraph(format!(
            "{} · {} · {who}: {body}",
            crate::i18n::moment(m.occurred_at, lang),
            crate::channels::registry::channel_label(&m.channel)
        )));
    }
    documents::Document {
        footer: lang.pick(
            &format!("{title} · Antrag {}", data.request_id),
            &format!("{title} · request {}", data.request_id),
        ),
        title,
        lang,
        created: data.generated_at,
        blocks: b,
        letterhead,
    }
    .render()
}

/// The categories of data the person has (the contact itself always); message categories
/// once for business letters and once for the other messages, as the person has them.
fn person_categories(
    conn: &mut crate::store::DbConn,
    tenant: &str,
    contact: &str,
) -> Result<Vec<(crate::retention::rules::Category, Option<bool>)>, crate::store::StoreError> {
    use crate::retention::rules::Category;
    use crate::store::schema::{consents, message_statuses, messages};
    let classes: Vec<bool> = messages::table
        .filter(messages::tenant_id.eq(tenant))
        .filter(messages::contact_id.eq(contact))
        .select(messages::business_letter)
        .distinct()
        .load(conn)?;
    let file_classes: Vec<bool> = attachment_table::table
        .inner_join(messages::table.on(messages::id.eq(attachment_table::message_id)))
        .filter(attachment_table::tenant_id.eq(tenant))
        .filter(messages::contact_id.eq(contact))
        .select(messages::business_letter)
        .distinct()
        .load(conn)?;
    let n_statuses: i64 = message_statuses::table
        .filter(message_statuses::tenant_id.eq(tenant))
        .filter(
            message_statuses::message_id.eq_any(
                messages::table
                    .filter(messages::tenant_id.eq(tenant))
                    .filter(messages::contact_id.eq(contact))
                    .select(messages::id.nullable()),
            ),
        )
        .count()
        .get_result(conn)?;
    let states: Vec<String> = consents::table
        .filter(consents::tenant_id.eq(tenant))
        .filter(consents::contact_id.eq(contact))
        .select(consents::state)
        .load(conn)?;
    let mut out = vec![(Category::Contacts, None)];
    for letters in [true, false] {
        if classes.contains(&letters) {
            out.push((Category::MessageContent, Some(letters)));
            out.push((Category::MessageMetadata, Some(letters)));
        }
        if file_classes.contains(&letters) {
            out.push((Category::Attachments, Some(letters)));
        }
    }
    if n_statuses > 0 {
        out.push((Category::DeliveryStatuses, None));
    }
    if states.iter().any(|s| s == "requested" || s == "expired") {
        out.push((Category::ConsentRequests, None));
    }
    if states.iter().any(|s| s == "confirmed" || s == "withdrawn") {
        out.push((Category::ConsentProofs, None));
    }
    Ok(out)
}
