//! A message in the conversation view, as a person reads it: its kind in words and its typed
//! content (a shared contact's numbers, an order's items and total, a pressed button and the
//! value it carries, a file to open), never a code. What the person wrote is shown as written.

use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::{SignedIn, UiError};
use crate::i18n::{Lang, Text};
use crate::messages::content::{ChoiceContent, Content, MediaContent};
use crate::messages::read::MessageView;
use crate::messages::MessageKind;
use crate::service::Hafen;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/ui/t/{tenant}/messages/{id}/attachments/{n}",
        web::get().to(attachment),
    );
}

/// The kind of a message in words.
pub fn kind_words(kind: MessageKind) -> Text {
    match kind {
        MessageKind::Text => Text::KindText,
        MessageKind::Image => Text::KindImage,
        MessageKind::Audio => Text::KindAudio,
        MessageKind::Video => Text::KindVideo,
        MessageKind::Document => Text::KindDocument,
        MessageKind::Sticker => Text::KindSticker,
        MessageKind::Location => Text::KindLocation,
        MessageKind::Contacts => Text::KindContacts,
        MessageKind::Interactive => Text::KindInteractive,
        MessageKind::Button | MessageKind::Postback => Text::KindButton,
        MessageKind::Reaction => Text::KindReaction,
        MessageKind::Order => Text::KindOrder,
        MessageKind::System => Text::KindSystem,
        MessageKind::QuickReply => Text::KindQuickReply,
        MessageKind::Template => Text::KindTemplate,
        MessageKind::Unsupported => Text::KindUnsupported,
    }
}

/// The body of one message in the conversation.
pub fn render(who: &SignedIn, tenant: &str, m: &MessageView) -> Markup {
    let t = |x: Text| who.t(x);
    let Some(content) = &m.content else {
        return html! { p { "—" } };
    };
    let file = |media: &MediaContent| {
        let href = format!("/ui/t/{tenant}/messages/{}/attachments/0", m.id);
        html! {
            @if let Some(caption) = &media.caption { p { (caption) } }
            p { a href=(href) download { (t(Text::OpenFile)) @if let Some(name) = &media.filename { ": " (name) } } }
        }
    };
    let choice = |c: &ChoiceContent| {
        html! {
            p { (c.text.as_deref().or(c.payload.as_deref()).unwrap_or("—")) }
            @if let Some(payload) = &c.payload { p.hint { (t(Text::ChoiceValue)) " " code { (payload) } } }
        }
    };
    let body = match content {
        Content::Text(c) => html! { p { (c.text.as_deref().unwrap_or("—")) } },
        Content::Image(c)
        | Content::Audio(c)
        | Content::Video(c)
        | Content::Document(c)
        | Content::Sticker(c) => file(c),
        Content::Location(c) => html! {
            @if let Some(name) = &c.name { p { strong { (name) } } }
            @if let Some(address) = &c.address { p { (address) } }
            @if let (Some(lat), Some(lon)) = (c.latitude, c.longitude) {
                p.hint { (t(Text::Coordinates)) " " (format!("{lat:.5}")) " / " (format!("{lon:.5}")) }
            }
        },
        Content::Contacts(c) => html! {
            @for card in &c.contacts {
                div.card-shared {
                    p { strong { (card.name.as_deref().unwrap_or("—")) } }
                    @if let Some(org) = &card.organization { p { (org) } }
                    @for phone in &card.phones {
                        p { (t(Text::Phone)) " " (phone.phone) @if let Some(label) = &phone.label { " (" (phone_label(label, who.lang)) ")" } }
                    }
                    @for email in &card.emails { p { (t(Text::Email)) " " (email) } }
                }
            }
        },
        Content::Interactive(c) => html! {
            p { (c.title.as_deref().unwrap_or("—")) }
            @if let Some(d) = &c.description { p { (d) } }
            @if let Some(id) = &c.id { p.hint { (t(Text::ChoiceValue)) " " code { (id) } } }
        },
        Content::Button(c) | Content::Postback(c) | Content::QuickReply(c) => choice(c),
        Content::Reaction(c) => match &c.emoji {
            Some(emoji) => html! { p { (t(Text::ReactedWith)) " " span.emoji { (emoji) } } },
            None => html! { p { (t(Text::ReactionTakenBack)) } },
        },
        Content::Order(c) => html! {
            table.order {
                thead { tr { th { (t(Text::OrderItem)) } th.num { (t(Text::OrderQuantity)) } th.num { (t(Text::OrderPrice)) } } }
                tbody {
                    @for item in &c.items {
                        tr {
                            td { code { (item.product_id.as_deref().unwrap_or("—")) } }
                            td.num { (item.quantity.map(|q| number(q, who.lang)).unwrap_or_default()) }
                            td.num { (item.price.map(|p| number(p, who.lang)).unwrap_or_default()) " " (item.currency.as_deref().unwrap_or("")) }
                        }
                    }
                }
                @if let (Some(total), Some(currency)) = (c.total, &c.currency) {
                    tfoot { tr { th colspan="2" { (t(Text::OrderTotal)) } td.num { (number(total, who.lang)) " " (currency) } } }
                }
            }
            @if let Some(note) = &c.note { p { (note) } }
        },
        Content::System(c) if c.event.as_deref() == Some("user_changed_number") => html! {
            p { (t(Text::NumberChanged)) }
        },
        Content::System(c) => html! { p { span lang="en" { (c.text.as_deref().unwrap_or("—")) } } },
        Content::Template(c) => html! {
            p { (c.text.as_deref().or(c.name.as_deref()).unwrap_or("—")) }
        },
        Content::Unsupported(c) => html! {
            p { (t(Text::UnsupportedContent)) }
            @for e in &c.errors {
                p.hint { (t(Text::PlatformErrorCode)) " " code { (e.code) } " " span lang="en" { (e.title) } }
            }
        },
    };
    html! {
        @if m.reply_to.is_some() { p.hint { (t(Text::InReplyTo)) } }
        (body)
    }
}

/// WhatsApp's label of a shared number (`WORK`, `HOME`, `CELL`, …) in words.
fn phone_label(label: &str, lang: Lang) -> String {
    let words = match label.to_ascii_uppercase().as_str() {
        "WORK" => Some(("dienstlich", "work")),
        "HOME" => Some(("privat", "home")),
        "CELL" | "MOBILE" | "IPHONE" => Some(("mobil", "mobile")),
        "MAIN" => Some(("Hauptnummer", "main")),
        _ => None,
    };
    match (words, lang) {
        (Some((de, _)), Lang::De) => de.to_string(),
        (Some((_, en)), Lang::En) => en.to_string(),
        (None, _) => label.to_string(),
    }
}

/// A number as people write it in `lang`: no ".0" on whole numbers, two decimals on others,
/// a decimal comma in German.
fn number(n: f64, lang: Lang) -> String {
    let text = if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.2}")
    };
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

/// A message's file, decrypted, for those who may read content (audited like the API's read).
async fn attachment(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t_id, id, n) = path.into_inner();
    let (tenant, _) = who.tenant(&t_id)?;
    let e = UiError::domain(who.lang);
    let n: i32 = n.parse().map_err(|_| e(crate::error::Error::NotFound))?;
    let file = hafen
        .messages
        .read_attachment(who.actor(), &tenant, &id, n)
        .await
        .map_err(&e)?;
    Ok(crate::http::messages::file_response(file))
}
