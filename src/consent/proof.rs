//! The consent proof a DPO can hand to a court: for one contact and purpose, the consent text
//! versions as shown, every ledger entry with time, source and evidence, and the hash chain
//! that ties the entries together — as JSON and as a printable PDF.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::Consent;
use super::{ConsentState, ConsentTextView, LedgerEntryView};
use crate::auth::{Actor, Permission};
use crate::documents::{Block, Document};
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::store::id;
use crate::store::schema::{consent_texts, tenants};
use crate::tenants::TenantId;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentProof {
    pub generated_at: DateTime<Utc>,
    pub controller: String,
    pub contact_id: String,
    pub channel: String,
    pub address: Option<String>,
    pub display_name: Option<String>,
    pub purpose_id: String,
    pub purpose_name: String,
    pub state: ConsentState,
    /// Every consent text version the entries refer to, exactly as shown.
    pub texts: Vec<ConsentTextView>,
    pub events: Vec<LedgerEntryView>,
    /// Whether the whole consent ledger verified when the proof was generated.
    pub ledger_intact: bool,
}

impl Consent {
    pub async fn proof(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        purpose: &str,
    ) -> Result<ConsentProof> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let consents = self.of_contact(actor, tenant, contact_id).await?;
        let consent = consents
            .into_iter()
            .find(|c| c.purpose_id == purpose)
            .ok_or(Error::NotFound)?;
        let contact = self.contacts.read(actor, tenant, contact_id).await?;
        let purpose_view = self
            .list_purposes(actor, tenant)
            .await?
            .into_iter()
            .find(|p| p.id == purpose)
            .ok_or(Error::NotFound)?;
        let events = consent.history.unwrap_or_default();
        let mut text_ids: Vec<String> = events.iter().map(|e| e.text_id.clone()).collect();
        text_ids.sort();
        text_ids.dedup();
        let t = tenant.as_str().to_string();
        let (controller, texts) = self
            .infra
            .store
            .read(move |conn| {
                let controller: String = tenants::table
                    .filter(tenants::id.eq(id::bind(&t)))
                    .select(tenants::name)
                    .first(conn)?;
                let texts: Vec<(String, i32, String, String, Vec<u8>, i64)> = consent_texts::table
                    .filter(consent_texts::id.eq_any(text_ids))
                    .select((
                        consent_texts::id,
                        consent_texts::version,
                        consent_texts::language,
                        consent_texts::text,
                        consent_texts::text_hash,
                        consent_texts::created_at,
                    ))
                    .load(conn)?;
                Ok((controller, texts))
            })
            .await?;
        let ledger = self.verify_ledger().await?;
        Ok(ConsentProof {
            generated_at: self.infra.clock.now(),
            controller,
            contact_id: contact.id,
            channel: contact.channel,
            address: contact.address,
            display_name: contact.display_name,
            purpose_id: purpose_view.id,
            purpose_name: purpose_view.name,
            state: consent.state,
            texts: texts
                .into_iter()
                .map(
                    |(id, version, language, text, hash, created)| ConsentTextView {
                        id,
                        version,
                        language,
                        text,
                        sha256: hex::encode(hash),
                        created_at: crate::clock::from_micros(created),
                    },
                )
                .collect(),
            events,
            ledger_intact: ledger.broken.is_none(),
        })
    }
}

fn event_de(event: &str) -> String {
    super::event_label(event, Lang::De)
}

/// The printable form (German: the document is read by German courts and authorities).
pub fn render_pdf(
    proof: &ConsentProof,
    letterhead: Option<crate::documents::Letterhead>,
) -> Result<Vec<u8>> {
    let mut b = vec![
        Block::Title("Nachweis der Einwilligung (Double-Opt-in)".into()),
        Block::Paragraph("Art. 7 Abs. 1 DSGVO, § 7 Abs. 2 Nr. 2 UWG. Erstellt aus dem manipulationsgeschützten Einwilligungsprotokoll von Hafen.".into()),
        Block::Space,
        Block::Field("Verantwortlicher".into(), proof.controller.clone()),
        Block::Field("Erstellt am".into(), crate::i18n::moment_precise(proof.generated_at, Lang::De)),
        Block::Field("Zweck".into(), format!("{} ({})", proof.purpose_name, proof.purpose_id)),
        Block::Field("Kanal".into(), crate::channels::registry::channel_label(&proof.channel)),
        Block::Field("Adresse".into(), proof.address.clone().unwrap_or_else(|| "(gelöscht)".into())),
        Block::Field("Name".into(), proof.display_name.clone().unwrap_or_else(|| "–".into())),
        Block::Field("Kontakt-ID".into(), proof.contact_id.clone()),
        Block::Field("Aktueller Stand".into(), event_de(proof.state.as_str())),
        Block::Field(
            "Protokollkette".into(),
            if proof.ledger_intact { "vollständig geprüft, unverändert".into() } else { "FEHLER: die Kette ist unterbrochen".to_string() },
        ),
        Block::Space,
        Block::Heading("Einwilligungstext(e), wie angezeigt".into()),
    ];
    for text in &proof.texts {
        b.push(Block::Field(
            format!("Version {} ({})", text.version, text.language),
            format!("gültig ab {}", crate::i18n::day(text.created_at, Lang::De)),
        ));
        b.push(Block::Paragraph(format!("„{}“", text.text)));
        b.push(Block::Mono(format!("SHA-256 {}", text.sha256)));
        b.push(Block::Space);
    }
    b.push(Block::Heading("Ereignisse".into()));
    for e in &proof.events {
        b.push(Block::Field(
            format!(
                "{} – {}",
                crate::i18n::moment_precise(e.at, Lang::De),
                event_de(&e.event)
            ),
            format!("Quelle: {}", super::source_label(&e.source, Lang::De)),
        ));
        if let Some(ev) = &e.evidence {
            let mut parts = Vec::new();
            for (label, value) in [
                ("Stichwort", &ev.keyword),
                ("IP-Adresse", &ev.ip),
                ("Browser", &ev.user_agent),
                ("Seite", &ev.page),
                ("Herkunft", &ev.origin),
                ("Hinweis", &ev.note),
            ] {
                if let Some(v) = value {
                    parts.push(format!("{label}: {v}"));
                }
            }
            if !parts.is_empty() {
                b.push(Block::Paragraph(parts.join("; ")));
            }
        }
        if let Some(m) = &e.message_id {
            b.push(Block::Paragraph(format!("Nachricht: {m}")));
        }
        b.push(Block::Mono(format!(
            "Eintrag {} Text {} ({})",
            e.seq, e.text_id, e.text_sha256
        )));
        b.push(Block::Mono(format!(
            "Hash {}  vorher {}",
            e.hash, e.prev_hash
        )));
        b.push(Block::Space);
    }
    Document {
        title: "Einwilligungsnachweis".into(),
        lang: Lang::De,
        created: proof.generated_at,
        footer: format!(
            "Einwilligungsnachweis · Kontakt {} · Zweck {}",
            proof.contact_id, proof.purpose_id
        ),
        blocks: b,
        letterhead,
    }
    .render()
}
