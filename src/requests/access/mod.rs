//! The access (Art. 15) and portability (Art. 20) export of one contact: a ZIP with
//! `data.json` (machine-readable, schema `hafen.subject-export.v1`), `auskunft.pdf` (for
//! people) and the files, optionally age-encrypted to a recipient or a passphrase.
//!
//! Other people's data is left out: platform payloads (`raw`, which may carry the business
//! account's and other participants' details) and internal ids are not exported; outbound
//! messages are included with their text only, never who on the company's side wrote them.
//! Portability is narrower still: what the subject provided (their own messages and files,
//! their contact data and consent statements).

mod information;
mod messages_page;
mod package;

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
use crate::register::live;
use crate::register::{Document, Scope, Section as Part, SubProcessor};
use crate::store::id;
use crate::store::schema::{attachments as attachment_table, consent_texts};
use crate::tenants::TenantId;

use package::*;

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
        let started = std::time::Instant::now();
        let (data, files) = self.subject_export(actor, tenant, &row, kind, lang).await?;
        let gathered = started.elapsed();
        let (messages, file_count) = (data.messages.len(), files.len());
        let letterhead = self.register.letterhead(tenant).await?;
        let encrypted = encryptor.is_some();
        // Seconds of CPU for a contact with thousands of messages (the PDF's layout, the
        // ZIP's deflate, age): on the blocking pool, not in an HTTP worker, whose other
        // requests would wait meanwhile.
        let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
            let pdf = render_pdf(&data, lang, letterhead)?;
            let printed = started.elapsed();
            let page = messages_page::render(&data, lang);
            let json = serde_json::to_vec_pretty(&data).map_err(Error::internal)?;
            let zip = zip_export(&json, &pdf, page.as_bytes(), &files, lang)?;
            // Where an export's time goes, for an admin asking why one took long.
            tracing::debug!(
                messages = data.messages.len(),
                gather_ms = gathered.as_millis() as u64,
                pdf_ms = (printed - gathered).as_millis() as u64,
                page_and_zip_ms = (started.elapsed() - printed).as_millis() as u64,
                "access export built"
            );
            match encryptor {
                None => Ok(zip),
                Some(e) => encrypt(e, &zip),
            }
        })
        .await
        .map_err(Error::internal)??;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let outcome = serde_json::json!({
            "exported_at": self.infra.clock.now(),
            "sha256": sha256,
            "messages": messages,
            "files": file_count,
            "encrypted": encrypted,
        });
        let event = AuditEvent::new(actor, "dsr.export")
            .tenant(tenant)
            .object("subject_request", id)
            .detail(format!(
                "kind={} messages={} files={} encrypted={encrypted} sha256={sha256}",
                row.kind, messages, file_count
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
                        .filter(attachment_table::tenant_id.eq(id::bind(&t)))
                        .filter(attachment_table::message_id.eq_any(id::bind_all(chunk)))
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
                        .filter(p::tenant_id.eq(id::bind(&t)))
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
                    .filter(consent_texts::tenant_id.eq(id::bind(&t)))
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
}
