//! People: finding a person by what is known about them (phone number, chat id, name, or
//! Hafen's contact id), the "no data held" letter when nobody matches, the contact list and a
//! person's conversation. The person field used by the requests and holds forms lives here, so
//! every page that asks "who?" asks it the same way.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::form::{text_field, Kept};
use super::tenant::csrf;
use super::{layout, when, Area, Form, Posted, SignedIn, UiError};
use crate::auth::Permission;
use crate::contacts::ContactView;
use crate::i18n::Text;
use crate::page::PageRequest;
use crate::service::Hafen;
use crate::tenants::TenantId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/contacts", web::get().to(contacts))
        .route("/ui/t/{tenant}/contacts/find", web::post().to(find))
        .route("/ui/t/{tenant}/contacts/no-data", web::post().to(no_data))
        .route("/ui/t/{tenant}/contacts/{id}", web::get().to(conversation))
        .route("/ui/t/{tenant}/contacts/{id}/send", web::post().to(send))
        .route(
            "/ui/t/{tenant}/contacts/{id}/handover",
            web::post().to(handover),
        );
}

/// The platform's name as people know it.
pub fn platform_name(channel: &str) -> &str {
    match channel {
        "whatsapp" => "WhatsApp",
        "messenger" => "Facebook Messenger",
        "telegram" => "Telegram",
        "sms" => "SMS",
        other => other,
    }
}

/// How a contact is named on a page: name, else address, else (erased or restricted) a word
/// for why there is none.
pub fn person_label(who: &SignedIn, c: &ContactView) -> String {
    // Phone numbers are stored as E.164 digits; people read them with their plus.
    let address = c.address.as_ref().map(|a| match c.channel.as_str() {
        "whatsapp" | "sms" if a.bytes().all(|b| b.is_ascii_digit()) => format!("+{a}"),
        _ => a.clone(),
    });
    match (&c.display_name, &address) {
        (Some(name), Some(address)) => format!("{name} ({address})"),
        (Some(name), None) => name.clone(),
        (None, Some(address)) => address.clone(),
        (None, None) if c.restricted => who.t(Text::Restricted).to_string(),
        (None, None) => who.t(Text::ErasedContact).to_string(),
    }
}

/// The people behind a list of contact ids (requests, holds), each as "name (address) · platform",
/// read in one audited call; an id without a readable contact reads as erased.
pub async fn people_named(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    ids: impl Iterator<Item = String>,
) -> Result<impl Fn(&str) -> String, UiError> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    let people = hafen
        .contacts
        .read_many(who.actor(), tenant, ids)
        .await
        .map_err(UiError::domain(who.lang))?;
    let labels: std::collections::HashMap<String, String> = people
        .iter()
        .map(|c| {
            let label = format!("{} · {}", person_label(who, c), platform_name(&c.channel));
            (c.id.clone(), label)
        })
        .collect();
    let erased = who.t(Text::ErasedContact).to_string();
    Ok(move |id: &str| labels.get(id).cloned().unwrap_or_else(|| erased.clone()))
}

/// The "who?" field of a form: a clue in words, or, after a search found several people, a
/// choice between them.
pub fn person_field(
    who: &SignedIn,
    kept: &Kept,
    (id, label): (&str, &str),
    required: bool,
    choices: &[ContactView],
) -> Markup {
    html! {
        (text_field(kept, (id, label, "person"), required, Some(who.t(Text::PersonClueHint))))
        @if !choices.is_empty() {
            fieldset.choices {
                legend { (who.t(Text::ChoosePerson)) }
                @for (n, c) in choices.iter().enumerate() {
                    label {
                        input type="radio" name="contact_id" value=(c.id) checked[n == 0];
                        " " (person_label(who, c)) " · " (platform_name(&c.channel))
                        " · " (who.t(Text::LastMessage)) " " (when(c.last_message_at))
                    }
                }
            }
        }
    }
}

/// Who a form is about: the contact id chosen from a list, else the one person the clue in
/// `person` matches. `Ok(None)` when the field was left empty; `Err` keeps the form with what
/// is wrong (nobody, or several to choose from).
pub async fn resolve_person(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    form: &Form,
) -> Result<Result<Option<String>, (Kept, Vec<ContactView>)>, UiError> {
    if let Some(chosen) = form.opt("contact_id") {
        return Ok(Ok(Some(chosen)));
    }
    let Some(clue) = form.opt("person") else {
        return Ok(Ok(None));
    };
    let found = match hafen.contacts.find(who.actor(), tenant, &clue).await {
        Ok(found) => found,
        Err(crate::error::Error::Invalid { .. }) => Vec::new(),
        Err(e) => return Err(UiError::Domain(e, who.lang)),
    };
    let kept = Kept::from_form(form);
    Ok(match found.len() {
        0 => Err((kept.wrong("person", who.t(Text::NoPersonMatches)), found)),
        1 => Ok(found.into_iter().next().map(|c| c.id)),
        _ => Err((kept.wrong("person", who.t(Text::ChoosePerson)), found)),
    })
}

/// A page answered with the form refused: the same page, status 422.
pub fn refused(mut response: HttpResponse) -> HttpResponse {
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

fn may(who: &SignedIn, tenant: &TenantId, permission: Permission) -> bool {
    who.actor().authorize(tenant, permission).is_ok()
}

async fn contacts(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    contacts_page(&hafen, &who, &tenant, &Kept::default(), None).await
}

/// The contacts page: the search, its result (when there is one), and for the roles that work
/// with conversations the most recently active contacts. The DPO gets no list: a DPO looks a
/// person up, and each read of a person is audited.
async fn contacts_page(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    kept: &Kept,
    found: Option<&[ContactView]>,
) -> Result<HttpResponse, UiError> {
    let name = who.tenant(tenant.as_str())?.1;
    let t = |x: Text| who.t(x);
    let lists = !may(who, tenant, Permission::HandleRequests)
        || may(who, tenant, Permission::ManageChannels);
    let newest = if lists && found.is_none() {
        let page = hafen
            .contacts
            .list(
                who.actor(),
                tenant,
                PageRequest {
                    after: None,
                    limit: 50,
                },
            )
            .await
            .map_err(UiError::domain(who.lang))?;
        Some(page.items)
    } else {
        None
    };
    let base = format!("/ui/t/{}", tenant.as_str());
    let dpo = may(who, tenant, Permission::HandleRequests);
    let content = html! {
        h1 { (t(Text::Contacts)) " · " (name) }
        h2 { (t(Text::FindPerson)) }
        p.hint { (t(Text::LookupHint)) }
        form #find method="post" action={ (base) "/contacts/find" } {
            (csrf(who))
            (text_field(kept, ("f-person", t(Text::PersonClue), "person"), true, Some(t(Text::PersonClueHint))))
            button type="submit" { (t(Text::Search)) }
        }
        @if let Some(found) = found {
            @if found.is_empty() {
                section.notice #nobody role="status" {
                    p { strong { (t(Text::NobodyFound)) } }
                    @if dpo {
                        p { (t(Text::NobodyFoundHint)) }
                        form method="post" action={ (base) "/contacts/no-data" } {
                            (csrf(who))
                            input type="hidden" name="person" value=(kept.value("person"));
                            button type="submit" { (t(Text::NoDataLetter)) }
                        }
                    }
                }
            } @else {
                h2 { (t(Text::PeopleFound)) }
                (contact_table(who, tenant, found, dpo))
            }
        }
        @if let Some(newest) = &newest {
            h2 { (t(Text::NewestContacts)) }
            @if newest.is_empty() { p { (t(Text::None_)) } } @else { (contact_table(who, tenant, newest, dpo)) }
        }
    };
    Ok(layout(
        who,
        Area::Contacts,
        Some(tenant),
        t(Text::Contacts),
        content,
    ))
}

fn contact_table(who: &SignedIn, tenant: &TenantId, list: &[ContactView], dpo: bool) -> Markup {
    let t = |x: Text| who.t(x);
    let base = format!("/ui/t/{}", tenant.as_str());
    html! {
        table.contacts {
            thead { tr { th { (t(Text::Person)) } th { (t(Text::Platform)) } th { (t(Text::LastMessage)) } th { (t(Text::Status)) } @if dpo { th {} } } }
            tbody {
                @for c in list {
                    tr {
                        td { a href={ (base) "/contacts/" (c.id) } { (person_label(who, c)) } }
                        td { (platform_name(&c.channel)) }
                        td { (when(c.last_message_at)) }
                        td {
                            @if c.erased { (t(Text::ErasedContact)) }
                            @else if c.restricted { (t(Text::Restricted)) }
                        }
                        @if dpo { td { a href={ (base) "/requests?contact=" (c.id) "#new-request" } { (t(Text::StartRequest)) } } }
                    }
                }
            }
        }
    }
}

async fn find(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let kept = Kept::from_form(&form);
    if form.opt("person").is_none() {
        let kept = kept.wrong("person", who.t(Text::Required));
        return contacts_page(&hafen, &who, &tenant, &kept, None)
            .await
            .map(refused);
    }
    let found = match hafen
        .contacts
        .find(who.actor(), &tenant, form.get("person"))
        .await
    {
        Ok(found) => found,
        // A clue too long or with control characters cannot match anyone.
        Err(crate::error::Error::Invalid { .. }) => Vec::new(),
        Err(e) => return Err(UiError::Domain(e, who.lang)),
    };
    contacts_page(&hafen, &who, &tenant, &kept, Some(&found)).await
}

/// The "no data held" letter, in the interface's language, for the clue just searched.
async fn no_data(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let letter = hafen
        .requests
        .no_data_letter(who.actor(), &tenant, form.get("person"), who.lang)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(HttpResponse::Ok()
        .content_type(letter.content_type)
        .insert_header(("X-Hafen-Content-SHA256", letter.sha256.clone()))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", letter.file_name),
        ))
        .body(letter.bytes))
}

/// The `{id}` of a contact's page: a UUID in any spelling, else there is no such page (a
/// contact's id is stored as its 16 bytes, `store::id`; every id the interface links is one).
fn contact_in_path(who: &SignedIn, id: &str) -> Result<String, UiError> {
    crate::store::id::canonical(id)
        .ok_or_else(|| UiError::Domain(crate::error::Error::NotFound, who.lang))
}

async fn conversation(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t_id, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t_id)?;
    let id = contact_in_path(&who, &id)?;
    conversation_page(&hafen, &who, &tenant, &id, &Kept::default(), None).await
}

/// An agent takes the conversation over from the channel's bot, or hands it back.
async fn handover(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t_id, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t_id)?;
    let id = contact_in_path(&who, &id)?;
    let e = UiError::domain(who.lang);
    if form.opt("to").as_deref() == Some("bot") {
        hafen
            .bots
            .hand_back(who.actor(), &tenant, &id)
            .await
            .map_err(&e)?;
    } else {
        hafen
            .bots
            .take_over(who.actor(), &tenant, &id)
            .await
            .map_err(&e)?;
    }
    Ok(super::see_other(&format!(
        "/ui/t/{}/contacts/{}#bot",
        tenant.as_str(),
        id
    )))
}

/// A delivery state in words.
fn delivery_words(status: &str) -> Text {
    match status {
        "queued" => Text::DeliveryQueued,
        "sent" => Text::DeliverySent,
        "delivered" => Text::DeliveryDelivered,
        "read" => Text::DeliveryRead,
        "failed" => Text::DeliveryFailed,
        _ => Text::Unknown,
    }
}

/// The conversation with a person and, for those who may send, the reply: free text inside the
/// platform's service window (24 hours after the person last wrote, on WhatsApp and Messenger),
/// an approved template outside it. The domain decides (window, restriction, consent); the page
/// only offers what will be accepted and words a refusal.
async fn conversation_page(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    id: &str,
    kept: &Kept,
    refusal: Option<String>,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let contact = hafen
        .contacts
        .read(who.actor(), tenant, id)
        .await
        .map_err(&e)?;
    let messages = hafen
        .messages
        .read_of_contact(
            who.actor(),
            tenant,
            id,
            PageRequest {
                after: None,
                limit: 100,
            },
        )
        .await
        .map_err(&e)?;
    let t = |x: Text| who.t(x);
    let may_send =
        may(who, tenant, Permission::SendMessages) && !contact.erased && !contact.restricted;
    let last_in = messages
        .items
        .iter()
        .filter(|m| m.direction.as_str() == "in")
        .map(|m| m.occurred_at)
        .max();
    let now = hafen.clock().now();
    let window_open = contact.channel == "telegram"
        || last_in.is_some_and(|at| now - at < crate::channels::policy::SERVICE_WINDOW);
    let send_to = format!("/ui/t/{}/contacts/{}/send", tenant.as_str(), contact.id);
    // The bot of a channel this conversation runs on, and whether a person has taken it over.
    let bots = hafen.bots.names(tenant).await.map_err(&e)?;
    let bot = bots.values().find(|b| {
        b.removed_at.is_none()
            && messages
                .items
                .iter()
                .any(|m| m.channel_id.as_deref() == Some(b.channel_id.as_str()))
    });
    let handover = hafen
        .bots
        .handover_state(who.actor(), tenant, &contact.id)
        .await
        .map_err(&e)?;
    let content = html! {
        h1 { (person_label(who, &contact)) }
        p { (platform_name(&contact.channel)) " · " (t(Text::ContactId)) " " code { (contact.id) } }
        h2 { (t(Text::Conversation)) }
        ol.conversation {
            @for m in &messages.items {
                li.msg.(m.direction.as_str()) {
                    // The side and colour show the direction; the words say it for everyone.
                    p.meta {
                        strong { (t(if m.direction.as_str() == "out" { Text::Outgoing } else { Text::Incoming })) }
                        @if let Some(b) = m.sent_by_bot.as_ref().and_then(|id| bots.get(id)) {
                            " · " span.bot { (t(Text::SentByBot)) " „" (b.name) "“" }
                        }
                        " · " (when(m.occurred_at)) " · " (t(super::message_content::kind_words(m.kind)))
                        @if let Some(status) = &m.delivery_status { " · " span.delivery { (t(delivery_words(status))) } }
                    }
                    (super::message_content::render(who, tenant.as_str(), m))
                }
            }
        }
        @if let Some(bot) = bot {
            section #bot aria-labelledby="bot-title" {
                h2 #bot-title { (t(Text::BotTitle)) }
                @if let Some(since) = handover.handed_over_at {
                    p { (t(Text::HandedOverSince)) " " (when(since)) ". " (t(Text::BotSilent)) }
                } @else {
                    p { (t(Text::BotAnswers)) " „" (bot.name) "“." }
                }
                @if may(who, tenant, Permission::SendMessages) {
                    form method="post" action=(format!("/ui/t/{}/contacts/{}/handover", tenant.as_str(), contact.id)) {
                        (csrf(who))
                        @if handover.handed_over_at.is_some() {
                            input type="hidden" name="to" value="bot";
                            button type="submit" { (t(Text::HandBack)) }
                        } @else {
                            input type="hidden" name="to" value="person";
                            button type="submit" { (t(Text::TakeOver)) }
                        }
                    }
                }
            }
        }
        @if may_send {
            section #reply aria-labelledby="reply-title" {
                h2 #reply-title { (t(Text::Reply)) }
                @if let Some(why) = &refusal {
                    p.error role="alert" { (t(Text::SendRefused)) br; small.technical { (t(Text::TechnicalDetail)) " " span lang="en" { (why) } } }
                }
                form method="post" action=(send_to) {
                    (csrf(who))
                    input type="hidden" name="idempotency_key" value=(uuid::Uuid::new_v4().to_string());
                    @if window_open {
                        (super::form::field_of("textarea", kept, ("s-text", t(Text::YourReply), "text"), true, None))
                        button type="submit" { (t(Text::Send)) }
                    } @else {
                        p.hint { (t(Text::WindowClosed)) }
                        (text_field(kept, ("s-template", t(Text::TemplateName), "template"), true, None))
                        (text_field(&if kept.value("language").is_empty() { Kept::with_values(vec![("language".into(), "de".into())]) } else { Kept::from_values(kept) }, ("s-language", t(Text::TemplateLanguage), "language"), true, None))
                        button type="submit" { (t(Text::SendTemplate)) }
                    }
                }
            }
        }
    };
    Ok(layout(
        who,
        Area::Contacts,
        Some(tenant),
        t(Text::Conversation),
        content,
    ))
}

async fn send(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t_id, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t_id)?;
    let id = contact_in_path(&who, &id)?;
    let kept = Kept::from_form(&form);
    let request = match (form.opt("text"), form.opt("template")) {
        (Some(text), _) => serde_json::json!({ "text": text }),
        (None, Some(name)) => serde_json::json!({
            "template": { "name": name, "language": form.opt("language").unwrap_or_else(|| "de".into()) }
        }),
        (None, None) => {
            let field = if form.checked("template") {
                "template"
            } else {
                "text"
            };
            let kept = kept.wrong(field, who.t(Text::Required));
            return conversation_page(&hafen, &who, &tenant, &id, &kept, None)
                .await
                .map(refused);
        }
    };
    let request: crate::channels::send::SendRequest = serde_json::from_value(request)
        .map_err(|e| UiError::Domain(crate::error::Error::internal(e), who.lang))?;
    match hafen
        .channels
        .send(
            who.actor(),
            &tenant,
            &id,
            request,
            form.opt("idempotency_key"),
        )
        .await
    {
        Ok(_) => Ok(super::see_other(&format!(
            "/ui/t/{}/contacts/{}#reply",
            tenant.as_str(),
            id
        ))),
        Err(
            crate::error::Error::Conflict(why) | crate::error::Error::Invalid { reason: why, .. },
        ) => conversation_page(&hafen, &who, &tenant, &id, &kept, Some(why))
            .await
            .map(refused),
        Err(e) => Err(UiError::Domain(e, who.lang)),
    }
}
