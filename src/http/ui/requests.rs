//! Data-subject requests: the list with deadlines, registering a request for a person found by
//! what the DPO knows about them, answering (export, erasure after confirmation, restriction,
//! decisions), and the letters.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::contacts::{people_named, person_field, refused, resolve_person};
use super::form::Kept;
use super::tenant::csrf;
use super::{layout, query_param, see_other, Area, Posted, SignedIn, UiError};
use crate::contacts::ContactView;
use crate::error::Error;
use crate::i18n::Text;
use crate::requests::access::ExportOptions;
use crate::requests::{Kind, NewRequest};
use crate::service::Hafen;
use crate::tenants::TenantId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/requests", web::get().to(requests))
        .route("/ui/t/{tenant}/requests", web::post().to(create_request))
        .route(
            "/ui/t/{tenant}/requests/{id}/{action}",
            web::post().to(act_on_request),
        );
}

const KINDS: [(Kind, Text); 4] = [
    (Kind::Access, Text::KindAccess),
    (Kind::Portability, Text::KindPortability),
    (Kind::Erasure, Text::KindErasure),
    (Kind::Restriction, Text::KindRestriction),
];

pub(super) fn kind_text(kind: Kind) -> Text {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| *t)
        .unwrap_or(Text::Kind)
}

/// A request's state in words.
pub(super) fn state_text(status: &str) -> Text {
    match status {
        crate::requests::OPEN => Text::StateOpen,
        crate::requests::DECISION_NEEDED => Text::StateDecisionNeeded,
        crate::requests::REJECTED => Text::StateRejected,
        _ => Text::StateCompleted,
    }
}

/// The categories of an erasure that wait for the DPO: (category, class).
fn waiting(r: &crate::requests::RequestView) -> Vec<(String, Option<String>)> {
    r.outcome
        .as_ref()
        .and_then(|o| o["categories"].as_array())
        .map(|list| {
            list.iter()
                .filter(|c| c["decision_needed"] == serde_json::json!(true))
                .map(|c| {
                    (
                        c["category"].as_str().unwrap_or_default().to_string(),
                        c["class"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn requests(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    // From the contacts page: the person is already known.
    let contact = query_param(&req, "contact");
    let chosen = if contact.is_empty() {
        Vec::new()
    } else {
        hafen
            .contacts
            .read_many(who.actor(), &tenant, vec![contact])
            .await
            .map_err(UiError::domain(who.lang))?
    };
    requests_page(&hafen, &who, &tenant, &Kept::default(), &chosen).await
}

async fn requests_page(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    kept: &Kept,
    choices: &[ContactView],
) -> Result<HttpResponse, UiError> {
    let name = who.tenant(tenant.as_str())?.1;
    let e = UiError::domain(who.lang);
    let list = hafen
        .requests
        .list(who.actor(), tenant, false)
        .await
        .map_err(&e)?;
    let person = people_named(
        hafen,
        who,
        tenant,
        list.iter().map(|r| r.contact_id.clone()),
    )
    .await?;
    let t = |x: Text| who.t(x);
    let base = format!("/ui/t/{}/requests", tenant.as_str());
    let kind_kept = kept.value("kind");
    let content = html! {
        h1 { (t(Text::Requests)) " · " (name) }
        @if list.is_empty() { p { (t(Text::None_)) } } @else {
            table {
                thead { tr { th { (t(Text::Kind)) } th { (t(Text::Person)) } th { (t(Text::Deadline)) } th { (t(Text::Status)) } th {} } }
                tbody {
                    @for r in &list {
                        tr {
                            td { (t(kind_text(r.kind))) }
                            td { a href={ "/ui/t/" (tenant.as_str()) "/contacts/" (r.contact_id) } { (person(&r.contact_id)) } }
                            td { (r.extended_due_on.as_deref().unwrap_or(&r.due_on)) @if r.overdue { " " strong.warn { (t(Text::Overdue)) } } }
                            td { (t(state_text(&r.status))) }
                            td.actions {
                                @if matches!(r.kind, Kind::Access | Kind::Portability) {
                                    form method="post" action={ (base) "/" (r.id) "/export" } { (csrf(who)) button type="submit" { (t(Text::Export)) } }
                                }
                                @if r.status == "open" && r.kind == Kind::Erasure {
                                    form method="post" action={ (base) "/" (r.id) "/erase" } { (csrf(who)) button.danger type="submit" { (t(Text::Erase)) } }
                                }
                                @if r.status == "open" && r.kind == Kind::Restriction {
                                    form method="post" action={ (base) "/" (r.id) "/restrict" } { (csrf(who)) button type="submit" { (t(Text::Restrict)) } }
                                }
                                @if r.status != "open" {
                                    form method="post" action={ (base) "/" (r.id) "/letter" } { (csrf(who)) button type="submit" { (t(Text::LetterPdf)) } }
                                }
                                @if r.status == crate::requests::DECISION_NEEDED {
                                    @for c in waiting(r) {
                                        form.decision method="post" action={ (base) "/" (r.id) "/decide" } {
                                            (csrf(who))
                                            p { strong { (t(Text::DecisionNeeded)) } ": " (crate::requests::letters::subject_label(&c.0, who.lang)) }
                                            input type="hidden" name="category" value=(c.0);
                                            @if let Some(class) = &c.1 { input type="hidden" name="class" value=(class); }
                                            label { input type="radio" name="decision" value="keep_until" checked; " " (t(Text::KeepUntilDay)) }
                                            input type="date" name="until" aria-label=(t(Text::KeepUntilDay));
                                            label { input type="radio" name="decision" value="erase"; " " (t(Text::EraseNowDecision)) }
                                            label { (t(Text::Reason)) input type="text" name="reason" required; }
                                            button type="submit" { (t(Text::Decide)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 #new-request { (t(Text::CreateRequest)) }
        @if kept.has_errors() { p.error role="alert" { (t(Text::NotSaved)) } }
        form method="post" action=(base) {
            (csrf(who))
            label for="q-kind" { (t(Text::Kind)) }
            select #q-kind name="kind" {
                @for (kind, text) in KINDS {
                    option value=(kind.as_str()) selected[kind_kept == kind.as_str()] { (t(text)) }
                }
            }
            (person_field(who, kept, ("q-person", t(Text::Person)), choices.is_empty(), choices))
            label for="q-received" { (t(Text::ReceivedOn)) }
            input #q-received type="date" name="received_on" value=(kept.value("received_on"))
                aria-invalid=[kept.error("received_on").map(|_| "true")];
            @if let Some(error) = kept.error("received_on") { p.field-error role="alert" { (error) } }
            button type="submit" { (t(Text::CreateRequest)) }
        }
    };
    Ok(layout(
        who,
        Area::Requests,
        Some(tenant),
        t(Text::Requests),
        content,
    ))
}

async fn create_request(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let kind = KINDS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| k.as_str() == form.get("kind"))
        .ok_or_else(|| {
            UiError::Domain(
                Error::invalid(
                    "kind",
                    "must be access, portability, erasure or restriction",
                ),
                who.lang,
            )
        })?;
    let received_on = form
        .opt("received_on")
        .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d"));
    let contact = match resolve_person(&hafen, &who, &tenant, &form).await? {
        Ok(Some(id)) => id,
        Ok(None) => {
            let kept = Kept::from_form(&form).wrong("person", who.t(Text::PersonRequired));
            return requests_page(&hafen, &who, &tenant, &kept, &[])
                .await
                .map(refused);
        }
        Err((kept, choices)) => {
            let kept = match received_on {
                Some(Err(_)) => kept.wrong("received_on", who.t(Text::NotADate)),
                _ => kept,
            };
            return requests_page(&hafen, &who, &tenant, &kept, &choices)
                .await
                .map(refused);
        }
    };
    let received_on = match received_on.transpose() {
        Ok(d) => d,
        Err(_) => {
            let kept = Kept::from_form(&form).wrong("received_on", who.t(Text::NotADate));
            return requests_page(&hafen, &who, &tenant, &kept, &[])
                .await
                .map(refused);
        }
    };
    hafen
        .requests
        .create(
            who.actor(),
            &tenant,
            NewRequest {
                kind,
                contact_id: contact,
                received_on,
            },
        )
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/requests", tenant.as_str())))
}

async fn act_on_request(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id, action) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    let e = UiError::domain(who.lang);
    match action.as_str() {
        "letter" => {
            let letter = hafen
                .requests
                .letter(who.actor(), &tenant, &id, who.lang, "pdf")
                .await
                .map_err(&e)?;
            return Ok(HttpResponse::Ok()
                .content_type(letter.content_type)
                .insert_header(("X-Hafen-Content-SHA256", letter.sha256.clone()))
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"{}\"", letter.file_name),
                ))
                .body(letter.bytes));
        }
        "decide" => {
            let until = form
                .opt("until")
                .filter(|_| form.get("decision") == "keep_until")
                .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
                .transpose()
                .map_err(|_| e(Error::invalid("until", "must be a date (YYYY-MM-DD)")))?;
            hafen
                .requests
                .decide_erasure(
                    who.actor(),
                    &tenant,
                    &id,
                    crate::requests::erase::DecisionInput {
                        category: form.get("category").into(),
                        class: form.opt("class"),
                        decision: form.get("decision").into(),
                        until,
                        reason: form.get("reason").into(),
                    },
                )
                .await
                .map_err(&e)?;
        }
        "export" => {
            let options = ExportOptions {
                lang: Some(who.lang),
                ..Default::default()
            };
            let export = hafen
                .requests
                .export(who.actor(), &tenant, &id, options)
                .await
                .map_err(&e)?;
            return Ok(HttpResponse::Ok()
                .content_type("application/zip")
                .insert_header(("X-Hafen-Content-SHA256", export.sha256.clone()))
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"{}\"", export.file_name),
                ))
                .body(export.bytes));
        }
        "erase" if form.get("confirm") != "yes" => {
            return confirm_erasure(&hafen, &who, &tenant, &id).await;
        }
        "erase" => {
            hafen
                .requests
                .erase(who.actor(), &tenant, &id)
                .await
                .map_err(&e)?;
        }
        "restrict" => {
            hafen
                .requests
                .answer_restriction(who.actor(), &tenant, &id)
                .await
                .map_err(&e)?;
        }
        _ => return Err(e(Error::NotFound)),
    }
    Ok(see_other(&format!("/ui/t/{}/requests", tenant.as_str())))
}

/// Before an erasure: what will be erased and what the rules in force may keep, and why —
/// erasing cannot be undone, so it takes a second, informed click.
async fn confirm_erasure(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &crate::tenants::TenantId,
    id: &str,
) -> Result<HttpResponse, UiError> {
    let overview = hafen
        .requests
        .erasure_overview(who.actor(), tenant, id, who.lang)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let base = format!("/ui/t/{}/requests", tenant.as_str());
    let content = html! {
        h1 { (t(Text::ConfirmErasure)) }
        p { (t(Text::ConfirmErasureHint)) }
        table {
            thead { tr { th { (t(Text::Data)) } th { (t(Text::Count)) } th { (t(Text::WhatHappens)) } } }
            tbody {
                @for line in &overview.categories {
                    tr {
                        td { (crate::requests::letters::subject_label(&line.category, who.lang)) }
                        td { (line.present) }
                        td {
                            @match &line.may_keep {
                                None => strong { (t(Text::WillBeErased)) },
                                Some(why) => { (t(Text::MayBeKept)) ": " (why) },
                            }
                        }
                    }
                }
            }
        }
        @if overview.categories.is_empty() { p { (t(Text::NothingStored)) } }
        @if overview.holds { p.warn { (t(Text::HoldsKeep)) } }
        form method="post" action={ (base) "/" (id) "/erase" } {
            (csrf(who))
            input type="hidden" name="confirm" value="yes";
            button.danger type="submit" { (t(Text::EraseNow)) }
            " "
            a href=(base) { (t(Text::Cancel)) }
        }
    };
    Ok(layout(
        who,
        Area::Requests,
        Some(tenant),
        t(Text::ConfirmErasure),
        content,
    ))
}
