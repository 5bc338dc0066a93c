//! The export as the person receives it: the JSON, the letter as PDF, the files, zipped and,
//! when asked, encrypted.

use super::*;

pub(super) fn extension(mime: Option<&str>) -> &'static str {
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

pub(super) enum Encryption {
    Recipient(age::x25519::Recipient),
    Passphrase(age::secrecy::SecretString),
}

pub(super) fn encryption(options: &ExportOptions) -> Result<Option<Encryption>> {
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

pub(super) fn encrypt(how: Encryption, plain: &[u8]) -> Result<Vec<u8>> {
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

pub(super) fn zip_export(
    json: &[u8],
    pdf: &[u8],
    page: &[u8],
    files: &[(String, Vec<u8>)],
    lang: Lang,
) -> Result<Vec<u8>> {
    let fail = |e: zip::result::ZipError| Error::internal(anyhow::anyhow!("writing the ZIP: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Deflate's fastest level: the text of 10 000 messages twice (JSON and page) takes a
    // fifth of the time of the default level, for a few per cent more bytes. The PDF's
    // streams are compressed already, and so are most files (JPEG, MP4, OGG).
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .unix_permissions(0o600);
    let stored = deflated
        .compression_method(zip::CompressionMethod::Stored)
        .compression_level(None);
    let readme = lang.pick(
        "Auskunft nach Art. 15 DSGVO\n\nauskunft.pdf      die Auskunft zum Lesen und Ausdrucken\nnachrichten.html  alle Ihre Nachrichten, zum Lesen in jedem Browser\ndata.json         alle Daten maschinenlesbar (Schema hafen.subject-export.v1)\ndateien/          Ihre Dateien (Bilder, Dokumente, Sprachnachrichten)\n",
        "Access under Art. 15 GDPR\n\nauskunft.pdf      the information, to read and print\nnachrichten.html  all your messages, to read in any browser\ndata.json         all data, machine-readable (schema hafen.subject-export.v1)\ndateien/          your files (images, documents, voice messages)\n",
    );
    let mut add = |name: &str, bytes: &[u8], options| -> Result<()> {
        zip.start_file(name, options).map_err(fail)?;
        zip.write_all(bytes).map_err(Error::internal)
    };
    add("LIESMICH.txt", readme.as_bytes(), deflated)?;
    add("auskunft.pdf", pdf, stored)?;
    add(super::messages_page::FILE_NAME, page, deflated)?;
    add("data.json", json, deflated)?;
    for (name, bytes) in files {
        add(name, bytes, stored)?;
    }
    Ok(zip.finish().map_err(fail)?.into_inner())
}

/// What the export is, as its PDF and its page call it.
pub(super) fn title(kind: Kind, lang: Lang) -> String {
    match kind {
        Kind::Portability => lang.pick(
            "Datenkopie (Art. 20 DSGVO)",
            "Copy of your data (Art. 20 GDPR)",
        ),
        _ => lang.pick("Auskunft (Art. 15 DSGVO)", "Access (Art. 15 GDPR)"),
    }
}

/// Who wrote a message, as the person reads it.
pub(super) fn author(direction: Direction, lang: Lang) -> String {
    match direction {
        Direction::In => lang.pick("Sie", "You"),
        Direction::Out => lang.pick("Unternehmen", "Company"),
    }
}

pub(super) fn render_pdf(
    data: &SubjectExport,
    lang: Lang,
    letterhead: Option<documents::Letterhead>,
) -> Result<Vec<u8>> {
    let title = title(data.kind, lang);
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
    let count = crate::i18n::integer(data.messages.len() as i64, lang);
    b.push(Block::Heading(lang.pick(
        &format!("Nachrichten ({count})"),
        &format!("Messages ({count})"),
    )));
    if super::messages_page::fits_the_pdf(&data.messages) {
        print_messages(&data.messages, lang, &mut b);
    } else {
        summarise_messages(&data.messages, lang, &mut b);
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

/// Every message, one paragraph each.
fn print_messages(messages: &[ExportedMessage], lang: Lang, b: &mut Vec<Block>) {
    for m in messages {
        let who = author(m.direction, lang);
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
}

/// How many messages there are on each channel, from whom and from when to when, and where
/// they are: too many to print (`messages_page::PDF_MESSAGE_TEXT`).
fn summarise_messages(messages: &[ExportedMessage], lang: Lang, b: &mut Vec<Block>) {
    let count = crate::i18n::integer(messages.len() as i64, lang);
    b.push(Block::Paragraph(lang.pick(
        &format!("Es sind {count} Nachrichten, zu viele, um sie hier lesbar zu drucken. Sie stehen vollständig in der Datei {page} in diesem Archiv (zum Lesen in jedem Browser) und maschinenlesbar in data.json.", page = super::messages_page::FILE_NAME),
        &format!("There are {count} messages, too many to print here readably. All of them are in the file {page} in this archive (to read in any browser) and, machine-readable, in data.json.", page = super::messages_page::FILE_NAME),
    )));
    let mut channels: Vec<ChannelTally> = Vec::new();
    for m in messages {
        let i = match channels.iter().position(|c| c.channel == m.channel) {
            Some(i) => i,
            None => {
                channels.push(ChannelTally {
                    channel: &m.channel,
                    from: [0, 0],
                    first: m.occurred_at,
                    last: m.occurred_at,
                });
                channels.len() - 1
            }
        };
        let c = &mut channels[i];
        c.from[usize::from(m.direction == Direction::Out)] += 1;
        c.first = c.first.min(m.occurred_at);
        c.last = c.last.max(m.occurred_at);
    }
    let mut table = documents::Table::new(vec![
        lang.pick("Kanal", "Channel"),
        lang.pick("von Ihnen", "from you"),
        lang.pick("vom Unternehmen", "from the company"),
        lang.pick("erste", "first"),
        lang.pick("letzte", "last"),
    ]);
    for c in channels {
        table = table.row(vec![
            crate::channels::registry::channel_label(c.channel),
            crate::i18n::integer(c.from[0] as i64, lang),
            crate::i18n::integer(c.from[1] as i64, lang),
            crate::i18n::moment(c.first, lang),
            crate::i18n::moment(c.last, lang),
        ]);
    }
    b.push(Block::Table(table));
}

/// One channel's messages: how many from the person (`from[0]`) and from the company
/// (`from[1]`), the first and the last.
struct ChannelTally<'a> {
    channel: &'a str,
    from: [usize; 2],
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}
