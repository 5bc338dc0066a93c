//! `nachrichten.html`: every message of an export on one page, to read in any browser — the
//! form people get their chats in from the platforms' own downloads. The PDF prints the
//! messages too while they fit a readable document ([`PDF_MESSAGE_TEXT`]); beyond that (a
//! customer with 10 000 messages would get a PDF of 2 000 pages that took seconds to lay out)
//! it says how many there are and where they are (docs/decisions.md).
//!
//! The page is self-contained and inert: no script, no request to anywhere (a
//! Content-Security-Policy says so to the browser), every text escaped (a message saying
//! `<script>` shows as those characters), each message's direction left to the browser
//! (`dir="auto"`: Arabic and Hebrew read right to left). Files are linked by their place in
//! the archive.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{ExportedMessage, SubjectExport};
use crate::i18n::{self, Lang};
use crate::messages::Direction;
use crate::requests::Kind;

/// The most message text (bytes of the bodies together) the PDF prints in full: about sixty
/// pages of long messages. Above it the PDF summarises and refers to this page and to
/// `data.json`.
pub(super) const PDF_MESSAGE_TEXT: usize = 256 * 1024;

/// The most messages the PDF prints in full, however short (a line each at least: about fifty
/// pages of "[photo]" or "ok").
pub(super) const PDF_MESSAGES: usize = 2_000;

/// Whether the PDF prints every message (otherwise it summarises them).
pub(super) fn fits_the_pdf(messages: &[ExportedMessage]) -> bool {
    let text: usize = messages
        .iter()
        .map(|m| m.body.as_ref().map_or(0, String::len))
        .sum();
    messages.len() <= PDF_MESSAGES && text <= PDF_MESSAGE_TEXT
}

/// The file's name in the archive.
pub(super) const FILE_NAME: &str = "nachrichten.html";

const STYLE: &str = "
:root { color-scheme: light; font-family: system-ui, 'Noto Sans', 'Segoe UI', Arial, sans-serif; }
body { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; background: #fff;
       line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
.about { color: #444; margin: .25rem 0 1.5rem; }
.about dt { float: left; clear: left; width: 10.5rem; font-weight: 600; }
.about dd { margin: 0 0 .15rem 11rem; overflow-wrap: anywhere; }
ol.messages { list-style: none; padding: 0; margin: 0; }
ol.messages > li { margin: .6rem 0; padding: .5rem .75rem; border-radius: .5rem;
                   max-width: 85%; break-inside: avoid; }
li.in { background: #f1f3f5; margin-right: auto; }
li.out { background: #e3f0e8; margin-left: auto; }
.meta { font-size: .8rem; color: #555; }
.body { margin: .2rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.erased { margin: .2rem 0 0; font-style: italic; color: #666; }
ul.files { margin: .3rem 0 0; padding-left: 1.1rem; font-size: .9rem; }
@media (max-width: 30rem) { .about dt { float: none; width: auto; } .about dd { margin-left: 0; }
                            ol.messages > li { max-width: none; } }
@media print { body { margin: 0; max-width: none; } ol.messages > li { max-width: none; } }
";

/// The page.
pub(super) fn render(data: &SubjectExport, lang: Lang) -> String {
    let title = format!(
        "{} – {}",
        lang.pick("Ihre Nachrichten", "Your messages"),
        super::package::title(data.kind, lang)
    );
    // A portability copy holds only the messages the person sent (Art. 20: what they provided).
    let about = match data.kind {
        Kind::Portability => lang.pick(
            "Die Nachrichten, die Sie uns geschickt haben, die älteste zuerst. Dieselben Nachrichten stehen maschinenlesbar in data.json.",
            "The messages you sent us, oldest first. The same messages are in data.json, machine-readable.",
        ),
        _ => lang.pick(
            "Alle Nachrichten zwischen Ihnen und uns, die wir gespeichert haben, die älteste zuerst. Dieselben Nachrichten stehen maschinenlesbar in data.json; die Auskunft über Zwecke, Empfänger, Speicherdauer und Ihre Rechte steht in auskunft.pdf.",
            "Every message between you and us that we store, oldest first. The same messages are in data.json, machine-readable; what we use them for, who receives them, how long we keep them and your rights are in auskunft.pdf.",
        ),
    };
    let count = i18n::integer(data.messages.len() as i64, lang);
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'";
                meta name="referrer" content="no-referrer";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                dl.about {
                    dt { (lang.pick("Verantwortlicher", "Controller")) }
                    dd { (data.information.controller) }
                    dt { (lang.pick("Antrag", "Request")) }
                    dd { (data.request_id) }
                    dt { (lang.pick("Erstellt am", "Generated at")) }
                    dd { (i18n::moment(data.generated_at, lang)) }
                    dt { (lang.pick("Nachrichten", "Messages")) }
                    dd { (count) }
                }
                p.about { (about) }
                ol.messages {
                    @for m in &data.messages {
                        (message(m, lang))
                    }
                }
            }
        }
    }
    .into_string()
}

fn message(m: &ExportedMessage, lang: Lang) -> Markup {
    let class = match m.direction {
        Direction::In => "in",
        Direction::Out => "out",
    };
    let who = super::package::author(m.direction, lang);
    html! {
        li class=(class) {
            div.meta {
                time datetime=(m.occurred_at.to_rfc3339()) { (i18n::moment(m.occurred_at, lang)) }
                " · " (crate::channels::registry::channel_label(&m.channel)) " · " (who)
            }
            @if m.unreadable {
                p.erased { (lang.pick("(gelöscht)", "(erased)")) }
            } @else if let Some(body) = &m.body {
                p.body dir="auto" { (body) }
            }
            @if !m.files.is_empty() {
                ul.files {
                    @for f in &m.files {
                        li { a href=(f) { (f.strip_prefix("dateien/").unwrap_or(f)) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(n: usize, body: &str) -> Vec<ExportedMessage> {
        (0..n)
            .map(|i| ExportedMessage {
                id: i.to_string(),
                channel: "whatsapp".into(),
                direction: Direction::In,
                kind: crate::messages::MessageKind::Text,
                occurred_at: chrono::DateTime::UNIX_EPOCH,
                body: Some(body.to_string()),
                unreadable: false,
                delivery_status: None,
                files: Vec::new(),
            })
            .collect()
    }

    /// The PDF prints the messages while both their number and their text stay readable.
    #[test]
    fn the_pdf_prints_the_messages_up_to_both_limits() {
        assert!(fits_the_pdf(&messages(PDF_MESSAGES, "ok")));
        assert!(!fits_the_pdf(&messages(PDF_MESSAGES + 1, "ok")));
        let long = "x".repeat(1024);
        assert!(fits_the_pdf(&messages(PDF_MESSAGE_TEXT / 1024, &long)));
        assert!(!fits_the_pdf(&messages(PDF_MESSAGE_TEXT / 1024 + 1, &long)));
    }
}
