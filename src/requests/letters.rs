//! Letters to the data subject: the answer to an erasure, restriction, access, portability or
//! rejected request, in German or English, as JSON (`hafen.letter.v1`) and PDF, built from the
//! request's recorded outcome. The DPO downloads and sends them; each download is audited and
//! shows in the request's history.
//!
//! A letter speaks to the person: the categories are named as the person knows their data,
//! every kept category gives its ground in the law's words and the day it is erased, and the
//! rights (complaint to a supervisory authority, Art. 77) close it.

mod erasure;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::erase::ErasureOutcome;
use super::Requests;
use super::{Kind, RejectGround, RequestRow, COMPLETED, DECISION_NEEDED, REJECTED};
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::clock::from_micros;
use crate::documents::{self, Block, Table};
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::register::{Document, Scope, Section as Part};
use crate::retention::rules::Category;
use crate::tenants::TenantId;

pub const SCHEMA: &str = "hafen.letter.v1";

/// One letter, ready to render.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Letter {
    pub schema: &'static str,
    /// `erasure`, `restriction`, `access`, `portability` or `rejection`.
    pub kind: String,
    pub lang: Lang,
    pub request_id: String,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// The controller: name, address, contact, DPO (as entered in the register).
    pub sender: Vec<String>,
    pub subject: String,
    pub salutation: String,
    pub paragraphs: Vec<String>,
    /// Each table: a heading and rows of cells (first row: the column headings).
    pub tables: Vec<LetterTable>,
    pub closing: Vec<String>,
    /// SHA-256 of the letter's compact JSON with this field empty.
    pub content_sha256: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LetterTable {
    pub title: String,
    pub rows: Vec<Vec<String>>,
}

/// A letter as the API hands it out.
pub struct RenderedLetter {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub file_name: String,
    pub sha256: String,
}

/// How a person knows a category of their data.
pub fn subject_label(category: &str, lang: Lang) -> String {
    let c = Category::ALL.into_iter().find(|c| c.as_str() == category);
    match c {
        Some(Category::Contacts) => lang.pick(
            "Ihre Kontaktdaten (Rufnummer oder Kennung, Name)",
            "Your contact details (number or ID, name)",
        ),
        Some(Category::MessageContent) => lang.pick(
            "Inhalte Ihrer Nachrichten und unserer Antworten",
            "Contents of your messages and our replies",
        ),
        Some(Category::Attachments) => lang.pick(
            "Dateien (Bilder, Dokumente, Sprachnachrichten)",
            "Files (images, documents, voice messages)",
        ),
        Some(Category::MessageMetadata) => lang.pick(
            "Angaben zu den Nachrichten (Zeitpunkt, Richtung, Status)",
            "Details of the messages (time, direction, status)",
        ),
        Some(Category::DeliveryStatuses) => lang.pick(
            "Zustellbestätigungen der Plattform",
            "Delivery reports of the platform",
        ),
        Some(Category::ConsentRequests) => lang.pick(
            "Einwilligungsanfragen, die Sie nicht bestätigt haben",
            "Consent requests you did not confirm",
        ),
        Some(Category::ConsentProofs) => lang.pick(
            "Nachweise Ihrer Einwilligung und ihres Widerrufs",
            "Records of your consent and its withdrawal",
        ),
        Some(Category::WebhookLogs) | None => category.to_string(),
    }
}

/// The platform as people call it, and who runs it.
fn platform(channel: &str) -> (String, Option<&'static str>) {
    match channel {
        "whatsapp" => ("WhatsApp".into(), Some("Meta Platforms Ireland Ltd.")),
        "messenger" => (
            "Facebook Messenger".into(),
            Some("Meta Platforms Ireland Ltd."),
        ),
        "telegram" => ("Telegram".into(), Some("Telegram Messenger Inc.")),
        other => (other.to_string(), None),
    }
}

/// "1 Nachricht", "3 Nachrichten", "keine Nachrichten" (and the English forms).
fn counted(n: u64, lang: Lang, de: (&str, &str), en: (&str, &str)) -> String {
    match (lang, n) {
        (Lang::De, 0) => format!("keine {}", de.1),
        (Lang::De, 1) => format!("1 {}", de.0),
        (Lang::De, n) => format!("{n} {}", de.1),
        (Lang::En, 0) => format!("no {}", en.1),
        (Lang::En, 1) => format!("1 {}", en.0),
        (Lang::En, n) => format!("{n} {}", en.1),
    }
}

/// A date as a letter's prose writes it: "20.11.2026", "20 November 2026" (reports and
/// tables use the short English month, `i18n::date`).
pub fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::De => crate::i18n::date(d, lang),
        Lang::En => d.format("%-d %B %Y").to_string(),
    }
}

/// The German calendar day of a moment, as a letter writes it.
fn day(at: DateTime<Utc>, lang: Lang) -> String {
    date(crate::i18n::local_date(at), lang)
}

fn stored_date(s: &str, lang: Lang) -> String {
    s.parse::<NaiveDate>()
        .map(|d| date(d, lang))
        .unwrap_or_else(|_| s.to_string())
}

/// What the letter is built from.
pub struct Facts {
    pub request: RequestRow,
    pub channel: String,
    pub controller: String,
    pub sender: Vec<String>,
    pub dpo: Option<String>,
    pub today: NaiveDate,
}

/// The letter for a request, from its recorded outcome.
pub fn letter(f: &Facts, lang: Lang, wording: &super::wording::LetterWording) -> Result<Letter> {
    let r = &f.request;
    let kind = Kind::from_stored(&r.kind);
    let (platform, operator) = platform(&f.channel);
    let received = stored_date(&r.received_on, lang);
    let outcome: Option<serde_json::Value> = r
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    let answered = r
        .completed_at
        .map(|at| day(from_micros(at), lang))
        .unwrap_or_else(|| date(f.today, lang));
    let mut l = Letter {
        schema: SCHEMA,
        kind: String::new(),
        lang,
        request_id: r.id.clone(),
        date: f.today,
        sender: f.sender.clone(),
        subject: String::new(),
        salutation: lang.pick("Guten Tag,", "Dear Sir or Madam,"),
        paragraphs: Vec::new(),
        tables: Vec::new(),
        closing: Vec::new(),
        content_sha256: String::new(),
    };
    if r.status == REJECTED {
        let ground: Option<RejectGround> = outcome
            .as_ref()
            .and_then(|o| serde_json::from_value(o["rejected"].clone()).ok());
        l.kind = "rejection".into();
        l.subject = lang.pick(
            &format!("Ihr Antrag vom {received}"),
            &format!("Your request of {received}"),
        );
        l.paragraphs.push(lang.pick(
            &format!("Sie haben sich am {received} mit einem Antrag zu Ihren Daten an uns gewandt, die wir über {platform} mit Ihnen ausgetauscht haben. Wir werden in dieser Sache nicht tätig (Art. 12 Abs. 4 DSGVO)."),
            &format!("On {received} you made a request about the data we exchanged with you over {platform}. We will not take action on it (Art. 12(4) GDPR)."),
        ));
        l.paragraphs.push(match ground {
            Some(RejectGround::IdentityNotVerified) => lang.pick(
                "Grund: Wir konnten nicht bestätigen, dass der Antrag von der Person stammt, deren Daten betroffen sind (Art. 12 Abs. 6 DSGVO). Wenn Sie uns zusätzliche Angaben zu Ihrer Identität geben, bearbeiten wir den Antrag gern.",
                "Reason: we could not confirm that the request comes from the person whose data it concerns (Art. 12(6) GDPR). If you give us further information about your identity, we will gladly process it.",
            ),
            Some(RejectGround::ManifestlyUnfounded) => lang.pick(
                "Grund: Der Antrag ist offenkundig unbegründet (Art. 12 Abs. 5 DSGVO).",
                "Reason: the request is manifestly unfounded (Art. 12(5) GDPR).",
            ),
            Some(RejectGround::Excessive) => lang.pick(
                "Grund: Der Antrag ist exzessiv, insbesondere wegen häufiger Wiederholung (Art. 12 Abs. 5 DSGVO).",
                "Reason: the request is excessive, in particular because it is repetitive (Art. 12(5) GDPR).",
            ),
            Some(RejectGround::WithdrawnBySubject) | None => lang.pick(
                "Grund: Sie haben den Antrag zurückgenommen.",
                "Reason: you withdrew the request.",
            ),
        });
        l.paragraphs.push(lang.pick(
            "Sie können sich bei einer Datenschutz-Aufsichtsbehörde beschweren (Art. 77 DSGVO) oder einen gerichtlichen Rechtsbehelf einlegen (Art. 79 DSGVO).",
            "You may lodge a complaint with a data protection supervisory authority (Art. 77 GDPR) or seek a judicial remedy (Art. 79 GDPR).",
        ));
    } else {
        match kind {
            Kind::Erasure => erasure::write_into(
                &mut l, f, outcome, &received, &answered, &platform, operator, lang,
            )?,
            Kind::Restriction => {
                l.kind = "restriction".into();
                l.subject = lang.pick(
                    &format!("Ihr Antrag auf Einschränkung der Verarbeitung (Art. 18 DSGVO) vom {received}"),
                    &format!("Your request of {received} to restrict processing (Art. 18 GDPR)"),
                );
                l.paragraphs.push(lang.pick(
                    &format!("Sie haben uns am {received} gebeten, die Verarbeitung Ihrer Daten einzuschränken, die wir über {platform} mit Ihnen ausgetauscht haben. Das haben wir am {answered} getan."),
                    &format!("On {received} you asked us to restrict the processing of the data we exchanged with you over {platform}. We did so on {answered}."),
                ));
                l.paragraphs.push(lang.pick(
                    "Wir speichern diese Daten weiter, verarbeiten sie aber nur noch mit Ihrer Einwilligung, zur Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen, zum Schutz der Rechte einer anderen Person oder aus Gründen eines wichtigen öffentlichen Interesses (Art. 18 Abs. 2 DSGVO). Wir senden Ihnen über diesen Kanal keine Nachrichten mehr. Bevor wir die Einschränkung aufheben, unterrichten wir Sie (Art. 18 Abs. 3 DSGVO).",
                    "We keep this data but process it only with your consent, for the establishment, exercise or defence of legal claims, for the protection of the rights of another person or for reasons of important public interest (Art. 18(2) GDPR). We no longer send you messages over this channel. We will inform you before the restriction is lifted (Art. 18(3) GDPR).",
                ));
            }
            Kind::Access | Kind::Portability => {
                let portability = kind == Kind::Portability;
                l.kind = kind.as_str().into();
                l.subject = if portability {
                    lang.pick(
                        &format!(
                            "Ihre Daten zur Übertragung (Art. 20 DSGVO), Antrag vom {received}"
                        ),
                        &format!("Your data for portability (Art. 20 GDPR), request of {received}"),
                    )
                } else {
                    lang.pick(
                        &format!("Auskunft über Ihre Daten (Art. 15 DSGVO), Antrag vom {received}"),
                        &format!("Access to your data (Art. 15 GDPR), request of {received}"),
                    )
                };
                let o = outcome.unwrap_or_default();
                let n_messages = o["messages"].as_u64().unwrap_or(0);
                let n_files = o["files"].as_u64().unwrap_or(0);
                let messages = counted(
                    n_messages,
                    lang,
                    ("Nachricht", "Nachrichten"),
                    ("message", "messages"),
                );
                let files = counted(n_files, lang, ("Datei", "Dateien"), ("file", "files"));
                let folder = if n_files == 0 {
                    String::new()
                } else {
                    lang.pick(
                        &format!(", dazu im Ordner dateien/ {files}"),
                        &format!(", and the folder dateien/ with {files}"),
                    )
                };
                l.paragraphs.push(if portability {
                    lang.pick(
                        &format!("Sie haben uns am {received} um die Daten gebeten, die Sie uns über {platform} bereitgestellt haben. Anbei erhalten Sie sie in einem strukturierten, gängigen und maschinenlesbaren Format (data.json): Ihre eigenen Nachrichten ({messages}), Ihre Dateien ({files}), Ihre Kontaktdaten und Ihre Einwilligungserklärungen."),
                        &format!("On {received} you asked us for the data you provided to us over {platform}. Enclosed you receive it in a structured, commonly used and machine-readable format (data.json): your own messages ({messages}), your files ({files}), your contact details and your consent statements."),
                    )
                } else {
                    lang.pick(
                        &format!("Sie haben uns am {received} um Auskunft über die Daten gebeten, die wir über {platform} zu Ihnen verarbeiten. Anbei erhalten Sie eine Kopie: auskunft.pdf zum Lesen und Ausdrucken und data.json maschinenlesbar{folder}. Sie enthält {messages}, Ihre Kontaktdaten, Ihre Einwilligungen mit ihren Nachweisen und die Informationen nach Art. 15 Abs. 1 DSGVO: Zwecke, Kategorien, Empfänger, Speicherdauer, Herkunft der Daten und Ihre Rechte."),
                        &format!("On {received} you asked us for access to the data we process about you over {platform}. Enclosed you receive a copy: auskunft.pdf to read and print and data.json machine-readable{folder}. It holds {messages}, your contact details, your consents with their records and the information of Art. 15(1) GDPR: purposes, categories, recipients, storage periods, source of the data and your rights."),
                    )
                });
                if o["encrypted"].as_bool() == Some(true) {
                    l.paragraphs.push(lang.pick(
                        "Die Datei ist verschlüsselt (age). Den Schlüssel bzw. das Passwort teilen wir Ihnen auf einem anderen Weg mit.",
                        "The file is encrypted (age). We will tell you the key or passphrase by another channel.",
                    ));
                }
                l.paragraphs.push(lang.pick(
                    "Sie haben das Recht auf Berichtigung (Art. 16), Löschung (Art. 17), Einschränkung der Verarbeitung (Art. 18), Datenübertragbarkeit (Art. 20) und Widerspruch (Art. 21 DSGVO); eine Einwilligung können Sie jederzeit widerrufen (Art. 7 Abs. 3 DSGVO).",
                    "You have the right to rectification (Art. 16), erasure (Art. 17), restriction of processing (Art. 18), data portability (Art. 20) and to object (Art. 21 GDPR); you may withdraw consent at any time (Art. 7(3) GDPR).",
                ));
            }
        }
        l.paragraphs.push(lang.pick(
            "Sie können sich bei einer Datenschutz-Aufsichtsbehörde beschweren (Art. 77 DSGVO).",
            "You may lodge a complaint with a data protection supervisory authority (Art. 77 GDPR).",
        ));
    }
    if let Some(dpo) = &f.dpo {
        l.paragraphs.push(lang.pick(
            &format!("Bei Fragen erreichen Sie unsere/n Datenschutzbeauftragte/n: {dpo}."),
            &format!("For questions, contact our data protection officer: {dpo}."),
        ));
    }
    l.closing = vec![
        lang.pick("Mit freundlichen Grüßen", "Kind regards"),
        f.controller.clone(),
    ];
    apply_wording(&mut l, f, wording.get(lang), &received);
    l.content_sha256 = hash(&l);
    Ok(l)
}

/// The install's own salutation, extra paragraphs and sign-off over Hafen's (`wording`).
fn apply_wording(l: &mut Letter, f: &Facts, w: &super::wording::Wording, received: &str) {
    let today = date(f.today, l.lang);
    let values = super::wording::Values {
        controller: &f.controller,
        request_id: &f.request.id,
        received,
        date: &today,
    };
    let fill = |t: &String| super::wording::fill(t, &values);
    if let Some(s) = &w.salutation {
        l.salutation = fill(s);
    }
    l.paragraphs.extend(w.extra.iter().map(fill));
    if let Some(c) = &w.closing {
        l.closing = c.iter().map(fill).collect();
    }
}

pub(super) fn hash(l: &Letter) -> String {
    let mut copy = l.clone();
    copy.content_sha256 = String::new();
    let bytes = serde_json::to_vec(&copy).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// The letter as PDF blocks.
pub fn blocks(l: &Letter) -> Vec<Block> {
    let mut b: Vec<Block> = l
        .sender
        .iter()
        .map(|s| Block::Paragraph(s.clone()))
        .collect();
    b.push(Block::Space);
    b.push(Block::Paragraph(date(l.date, l.lang)));
    b.push(Block::Space);
    b.push(Block::Heading(l.subject.clone()));
    b.push(Block::Space);
    b.push(Block::Paragraph(l.salutation.clone()));
    // Tables follow the paragraph that announces them (the second).
    for (i, p) in l.paragraphs.iter().enumerate() {
        b.push(Block::Paragraph(p.clone()));
        b.push(Block::Space);
        if i == 1 {
            for t in &l.tables {
                b.push(Block::Heading(t.title.clone()));
                let mut table = Table::new(t.rows.first().cloned().unwrap_or_default());
                table.rows = t.rows.iter().skip(1).cloned().collect();
                b.push(Block::Table(table));
            }
        }
    }
    for line in &l.closing {
        b.push(Block::Paragraph(line.clone()));
    }
    b
}

impl Requests {
    /// The letter to the data subject for an answered request, as `pdf` or `json`; audited
    /// (`dsr.letter`), so the request's history shows when it was produced.
    pub async fn letter(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        lang: Lang,
        format: &str,
    ) -> Result<RenderedLetter> {
        actor.authorize(tenant, Permission::HandleRequests)?;
        if !matches!(format, "pdf" | "json") {
            return Err(Error::invalid("format", "must be pdf or json"));
        }
        let request = self.request_row(tenant, id).await?;
        if !matches!(
            request.status.as_str(),
            COMPLETED | REJECTED | DECISION_NEEDED
        ) {
            return Err(Error::Conflict(
                "the request is not answered yet: there is nothing to write".into(),
            ));
        }
        let facts = self.letter_facts(tenant, request).await?;
        let letter = letter(&facts, lang, &self.letter_wording)?;
        let (bytes, content_type) = match format {
            "json" => (
                serde_json::to_vec_pretty(&letter).map_err(Error::internal)?,
                "application/json",
            ),
            _ => {
                let footer = lang.pick(
                    &format!("{} · Antrag {}", facts.controller, letter.request_id),
                    &format!("{} · request {}", facts.controller, letter.request_id),
                );
                let document = documents::Document {
                    title: letter.subject.clone(),
                    lang,
                    created: self.infra.clock.now(),
                    footer,
                    blocks: blocks(&letter),
                    letterhead: self.register.letterhead(tenant).await?,
                };
                (document.render()?, "application/pdf")
            }
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.infra
            .record(
                AuditEvent::new(actor, "dsr.letter")
                    .tenant(tenant)
                    .object("subject_request", id)
                    .detail(format!(
                        "kind={} lang={} format={format} sha256={sha256}",
                        letter.kind,
                        lang.as_str()
                    )),
            )
            .await?;
        Ok(RenderedLetter {
            file_name: format!(
                "{}-{}-{}.{format}",
                lang.pick("brief", "letter"),
                letter.kind,
                &id[..id.len().min(8)]
            ),
            bytes,
            content_type,
            sha256,
        })
    }

    async fn letter_facts(&self, tenant: &TenantId, request: RequestRow) -> Result<Facts> {
        let (t, c) = (tenant.clone(), request.contact_id.clone());
        let channel = self
            .infra
            .store
            .read(move |conn| Ok(crate::contacts::find(conn, &t, &c)?.map(|c| c.channel)))
            .await?;
        let (controller_name, sender, dpo) = self.letter_sender(tenant).await?;
        Ok(Facts {
            request,
            channel: channel.unwrap_or_default(),
            controller: controller_name,
            sender,
            dpo,
            today: self.infra.clock.now().date_naive(),
        })
    }

    /// Who writes a letter: the controller's name, the sender lines (name, address, contact
    /// as entered in the register, else the tenant's name) and the DPO, if named.
    pub(super) async fn letter_sender(
        &self,
        tenant: &TenantId,
    ) -> Result<(String, Vec<String>, Option<String>)> {
        let t = tenant.clone();
        let name = self
            .infra
            .store
            .read(move |conn| Ok(crate::tenants::find(conn, &t)?.map(|t| t.name)))
            .await?;
        let controller = match self
            .register
            .entry_internal(&Scope::Tenant(tenant.clone()), Part::Controller)
            .await?
            .and_then(|e| e.parsed)
        {
            Some(Document::Controller(c)) => Some(c),
            _ => None,
        };
        Ok(match controller {
            Some(c) => {
                let dpo = c
                    .party
                    .dpo_name
                    .as_ref()
                    .map(|n| match &c.party.dpo_contact {
                        Some(contact) => format!("{n}, {contact}"),
                        None => n.clone(),
                    });
                (
                    c.party.name.clone(),
                    vec![
                        c.party.name.clone(),
                        c.party.address.clone(),
                        c.party.contact.clone(),
                    ],
                    dpo,
                )
            }
            None => (
                name.clone().unwrap_or_default(),
                vec![name.unwrap_or_default()],
                None,
            ),
        })
    }
}
