//! A tenant's pages: legal holds, consent purposes with the widget preview, deletion
//! certificates.

use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::contacts::{people_named, person_field, refused, resolve_person};
use super::form::{text_field, Kept};
use super::{layout, see_other, when, Area, Posted, SignedIn, UiError};
use crate::consent::{ConsentTextsInput, PurposeInput, WidgetStyle};
use crate::i18n::Text;
use crate::retention::holds::HoldInput;
use crate::service::Hafen;
use crate::tenants::TenantId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/holds", web::get().to(holds))
        .route("/ui/t/{tenant}/holds", web::post().to(place_hold))
        .route(
            "/ui/t/{tenant}/holds/{id}/release",
            web::post().to(release_hold),
        )
        .route("/ui/t/{tenant}/consent", web::get().to(consent))
        .route("/ui/t/{tenant}/consent", web::post().to(create_purpose))
        .route("/ui/t/{tenant}/certificates", web::get().to(certificates));
}

/// The hidden CSRF field every form of a signed-in page carries.
pub(super) fn csrf(who: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.session.csrf); }
}

pub(super) fn field(id: &str, label: &str, name: &str, required: bool) -> Markup {
    html! {
        label for=(id) { (label) }
        input id=(id) type="text" name=(name) required[required];
    }
}

// ----- legal holds -----

async fn holds(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    holds_page(&hafen, &who, &tenant, &Kept::default(), &[]).await
}

async fn holds_page(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    kept: &Kept,
    choices: &[crate::contacts::ContactView],
) -> Result<HttpResponse, UiError> {
    let name = who.tenant(tenant.as_str())?.1;
    let e = UiError::domain(who.lang);
    let list = hafen
        .retention
        .list_holds(who.actor(), tenant)
        .await
        .map_err(&e)?;
    let person = people_named(
        hafen,
        who,
        tenant,
        list.iter().filter_map(|h| h.contact_id.clone()),
    )
    .await?;
    let t = |x: Text| who.t(x);
    let base = format!("/ui/t/{}/holds", tenant.as_str());
    let content = html! {
        h1 { (t(Text::Holds)) " · " (name) }
        @if list.is_empty() { p { (t(Text::None_)) } } @else {
            table {
                thead { tr { th { (t(Text::Person)) } th { (t(Text::Reason)) } th { (t(Text::Created)) } th { (t(Text::Status)) } th {} } }
                tbody {
                    @for h in &list {
                        tr {
                            td { @match &h.contact_id { Some(id) => (person(id)), None => (t(Text::WholeTenant)) } }
                            td { (h.reason) }
                            td { (when(h.created_at)) }
                            td { @if h.active { (t(Text::Active)) } @else { (t(Text::Released)) } }
                            td { @if h.active {
                                form method="post" action={ (base) "/" (h.id) "/release" } { (csrf(who)) button.secondary type="submit" { (t(Text::Release)) } }
                            } }
                        }
                    }
                }
            }
        }
        h2 { (t(Text::PlaceHold)) }
        @if kept.has_errors() { p.error role="alert" { (t(Text::NotSaved)) } }
        form method="post" action=(base) {
            (csrf(who))
            (person_field(who, kept, ("h-person", t(Text::PersonOptional)), false, choices))
            (text_field(kept, ("h-reason", t(Text::Reason), "reason"), true, None))
            label for="h-until" { (t(Text::Until)) }
            input #h-until type="date" name="until" value=(kept.value("until"))
                aria-invalid=[kept.error("until").map(|_| "true")];
            @if let Some(error) = kept.error("until") { p.field-error role="alert" { (error) } }
            button type="submit" { (t(Text::PlaceHold)) }
        }
    };
    Ok(layout(
        who,
        Area::Holds,
        Some(tenant),
        t(Text::Holds),
        content,
    ))
}

async fn place_hold(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let until = form
        .opt("until")
        .map(|d| crate::retention::holds::end_of_day(&d))
        .transpose();
    let (contact, kept, choices) = match resolve_person(&hafen, &who, &tenant, &form).await? {
        Ok(contact) => (contact, Kept::from_form(&form), Vec::new()),
        Err((kept, choices)) => (None, kept, choices),
    };
    let kept = match (&until, form.opt("reason")) {
        (Err(_), _) => kept.wrong("until", who.t(Text::NotADate)),
        (_, None) => kept.wrong("reason", who.t(Text::Required)),
        _ => kept,
    };
    let until = match until {
        Ok(until) if !kept.has_errors() => until,
        _ => {
            return holds_page(&hafen, &who, &tenant, &kept, &choices)
                .await
                .map(refused)
        }
    };
    let input = HoldInput {
        contact_id: contact,
        data_from: None,
        data_until: None,
        reason: form.get("reason").to_string(),
        until,
    };
    hafen
        .retention
        .place_hold(who.actor(), &tenant, input)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/holds", tenant.as_str())))
}

async fn release_hold(
    hafen: web::Data<Hafen>,
    Posted { who, .. }: Posted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    hafen
        .retention
        .release_hold(who.actor(), &tenant, &id)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/holds", tenant.as_str())))
}

// ----- consent -----

async fn consent(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let list = hafen
        .consent
        .list_purposes(who.actor(), &tenant)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let content = html! {
        h1 { (t(Text::Consent)) " · " (name) }
        h2 { (t(Text::Purposes)) }
        @if list.is_empty() { p { (t(Text::None_)) } }
        @for p in &list {
            section.card {
                h3 { (p.name) }
                @for text in &p.texts { p { small { (text.language) " v" (text.version) } " " (text.text) } }
                p { a href={ "/w/" (tenant.as_str()) "/" (p.id) } { (t(Text::WidgetLink)) " ↗" } }
            }
        }
        h2 { (t(Text::CreatePurpose)) }
        div.split {
            form #purpose-form method="post" action={ "/ui/t/" (tenant.as_str()) "/consent" } {
                (csrf(&who))
                (field("p-name", t(Text::Name), "name", true))
                label for="p-de" { (t(Text::ConsentText)) }
                textarea #p-de name="text_de" required rows="4" data-preview="text" {}
                label for="p-en" { (t(Text::ConsentTextEn)) }
                textarea #p-en name="text_en" rows="3" {}
                (field("p-template", t(Text::ConfirmTemplate), "confirm_template", false))
                label for="p-title" { (t(Text::WidgetTitle)) }
                input #p-title type="text" name="title" data-preview="title";
                label for="p-intro" { (t(Text::WidgetIntro)) }
                textarea #p-intro name="intro" rows="2" data-preview="intro" {}
                label for="p-color" { (t(Text::WidgetColor)) }
                input #p-color type="color" name="color" value="#005f73" data-preview="color";
                label for="p-privacy" { (t(Text::PrivacyUrl)) }
                input #p-privacy type="url" name="privacy_url" placeholder="https://";
                button type="submit" { (t(Text::CreatePurpose)) }
            }
            aside.widget-preview aria-label=(t(Text::LivePreview)) {
                p.hint { (t(Text::LivePreview)) }
                div #wp.wp {
                    h3 #wp-title { "Newsletter" }
                    p #wp-intro {}
                    label.wp-box { input type="checkbox" disabled; " " span #wp-text {} }
                    button #wp-button type="button" disabled { "OK" }
                }
            }
        }
    };
    Ok(layout(
        &who,
        Area::Consent,
        Some(&tenant),
        t(Text::Consent),
        content,
    ))
}

async fn create_purpose(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let input = PurposeInput {
        name: form.get("name").to_string(),
        texts: ConsentTextsInput {
            de: form.get("text_de").to_string(),
            en: form.opt("text_en"),
        },
        confirm_template: form.opt("confirm_template"),
        widget: Some(WidgetStyle {
            title: form.opt("title"),
            intro: form.opt("intro"),
            color: form.opt("color"),
            privacy_url: form.opt("privacy_url"),
        }),
    };
    hafen
        .consent
        .create_purpose(who.actor(), &tenant, input)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/consent", tenant.as_str())))
}

// ----- deletion certificates -----

async fn certificates(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let (list, chain) = hafen
        .retention
        .certificates(who.actor(), &tenant)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let content = html! {
        h1 { (t(Text::Certificates)) " · " (name) }
        p role="status" {
            @if chain.intact() { span.ok { "✓ " (t(Text::ChainIntact)) } } @else { strong.warn { "✗ " (t(Text::ChainBroken)) } }
        }
        @if list.is_empty() { p { (t(Text::None_)) } } @else {
            table {
                thead { tr { th { (t(Text::Certificate)) } th { (t(Text::Time)) } th { (t(Text::State)) } th { (t(Text::Deleted)) } th { "SHA-256" } } }
                tbody {
                    @for c in &list {
                        tr {
                            td { code { (c.id) } }
                            td { (when(c.started_at)) }
                            td { (c.state) }
                            td { @for (k, n) in &c.counts { (k) ": " (n) br; } }
                            td { code.hash { (c.deleted_ids_sha256) } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        &who,
        Area::Certificates,
        Some(&tenant),
        t(Text::Certificates),
        content,
    ))
}
