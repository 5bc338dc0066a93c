//! A tenant's pages: channels, retention rules (editor, dry-run preview, activation and
//! approval), legal holds, consent purposes with the widget preview, contacts and their
//! conversations, data-subject requests, deletion certificates.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::contacts::{people_named, person_field, platform_name, refused, resolve_person};
use super::form::{text_field, Kept};
use super::{layout, see_other, when, Area, Form, SignedIn, UiError};
use crate::channels::registry::{ChannelInput, Platform, SecretsInput};
use crate::consent::{ConsentTextsInput, PurposeInput, WidgetStyle};
use crate::error::Error;
use crate::retention::holds::HoldInput;
use crate::service::Hafen;
use crate::tenants::TenantId;
use crate::ui::text::{Lang, Text};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/channels", web::get().to(channels))
        .route("/ui/t/{tenant}/channels", web::post().to(create_channel))
        .route(
            "/ui/t/{tenant}/channels/{id}/test",
            web::post().to(test_channel),
        )
        .route(
            "/ui/t/{tenant}/channels/{id}/{change}",
            web::post().to(change_channel),
        )
        .route("/ui/t/{tenant}/holds", web::get().to(holds))
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

fn field(id: &str, label: &str, name: &str, required: bool) -> Markup {
    html! {
        label for=(id) { (label) }
        input id=(id) type="text" name=(name) required[required];
    }
}

// ----- channels -----

async fn channels(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    channels_page(&req, &hafen, &who, &path, None).await
}

/// The channels page; `checked` is the outcome of a connection test just run, shown as the
/// answer to that form (never taken from a link, which anyone could word).
async fn channels_page(
    req: &HttpRequest,
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &str,
    checked: Option<Markup>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(tenant)?;
    let list = hafen
        .list_channels(who.actor(), &tenant)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let public = req
        .app_data::<web::Data<super::PublicUrl>>()
        .and_then(|p| p.0.clone());
    // Without public_url, the address this page was opened at: right only if the platforms
    // reach Hafen there too, which the page says.
    let base = public.clone().unwrap_or_else(|| {
        format!(
            "{}://{}",
            if super::secure_transport(req) {
                "https"
            } else {
                "http"
            },
            crate::http::forwarded::host(req)
        )
    });
    let content = html! {
        h1 { (t(Text::Channels)) " · " (name) }
        @if public.is_none() { p.notice.warn #no-public-url { (t(Text::NoPublicUrl)) } }
        @if let Some(result) = &checked {
            p.notice role="status" { (result) }
        }
        @if list.is_empty() { p { (t(Text::None_)) } }
        @for c in &list {
            section.card.channel {
                h2 { (c.name) " " small { (platform_name(c.platform.as_str())) } }
                p { (t(Text::Status)) ": " @if c.enabled { (t(Text::Enabled)) } @else { span.warn { (t(Text::Disabled)) } } }
                label for={ "hook-" (c.id) } { (t(Text::WebhookUrl)) }
                input.copy id={ "hook-" (c.id) } type="text" readonly value={ (base) (c.webhook_path) };
                div.actions {
                    form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels/" (c.id) "/test" } {
                        (csrf(who))
                        button type="submit" { (t(Text::TestConnection)) }
                    }
                    form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels/" (c.id) "/enabled" } {
                        (csrf(who))
                        input type="hidden" name="enabled" value=(if c.enabled { "0" } else { "1" });
                        button.secondary type="submit" { (t(if c.enabled { Text::Disable } else { Text::Enable })) }
                    }
                }
                @if !c.enabled { p.hint { (t(Text::DisabledHint)) } }
                details {
                    summary { (t(Text::EditChannel)) }
                    form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels/" (c.id) "/edit" } {
                        (csrf(who))
                        label for={ "e-name-" (c.id) } { (t(Text::Name)) }
                        input id={ "e-name-" (c.id) } type="text" name="name" value=(c.name) required;
                        label for={ "e-account-" (c.id) } { (t(Text::AccountId)) }
                        input id={ "e-account-" (c.id) } type="text" name="account_id" value=(c.account_id.as_deref().unwrap_or(""));
                        p.hint { (t(Text::NewCredentialsHint)) }
                        @let fields: &[(&str, Text)] = if c.platform == Platform::Telegram {
                            &[("bot_token", Text::BotToken), ("webhook_secret", Text::WebhookSecret)]
                        } else {
                            &[("app_secret", Text::AppSecret), ("verify_token", Text::VerifyToken), ("access_token", Text::AccessToken)]
                        };
                        @for (name, label) in fields {
                            label for={ "e-" (name) "-" (c.id) } { (t(*label)) }
                            input id={ "e-" (name) "-" (c.id) } type="password" name=(name) autocomplete="off";
                        }
                        button type="submit" { (t(Text::Save)) }
                    }
                }
            }
        }
        h2 { (t(Text::ConnectChannel)) }
        form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels" } {
            (csrf(who))
            label for="c-platform" { (t(Text::Platform)) }
            select #c-platform name="platform" {
                option value="whatsapp" { "WhatsApp" }
                option value="messenger" { "Facebook Messenger" }
                option value="telegram" { "Telegram" }
            }
            (field("c-name", t(Text::Name), "name", true))
            (field("c-account", t(Text::AccountId), "account_id", false))
            // Each platform's credentials in a fieldset of its own; the script shows only the
            // chosen platform's (without it, all show, each labelled with its platforms).
            fieldset data-platforms="whatsapp messenger" {
                legend { (t(Text::Credentials)) " · WhatsApp, Facebook Messenger" }
                p.hint { (t(Text::SecretsHint)) }
                @for (id, label, name) in [("c-app", Text::AppSecret, "app_secret"), ("c-verify", Text::VerifyToken, "verify_token"), ("c-access", Text::AccessToken, "access_token")] {
                    label for=(id) { (t(label)) }
                    input id=(id) type="password" name=(name) autocomplete="off";
                }
            }
            fieldset data-platforms="telegram" {
                legend { (t(Text::Credentials)) " · Telegram" }
                p.hint { (t(Text::SecretsHint)) }
                @for (id, label, name) in [("c-bot", Text::BotToken, "bot_token"), ("c-hook", Text::WebhookSecret, "webhook_secret")] {
                    label for=(id) { (t(label)) }
                    input id=(id) type="password" name=(name) autocomplete="off";
                }
            }
            button type="submit" { (t(Text::ConnectChannel)) }
        }
    };
    Ok(layout(
        who,
        Area::Channels,
        Some(&tenant),
        t(Text::Channels),
        content,
    ))
}

async fn create_channel(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let e = UiError::domain(who.lang);
    let platform = Platform::parse(form.get("platform")).ok_or_else(|| {
        e(Error::invalid(
            "platform",
            "must be whatsapp, messenger or telegram",
        ))
    })?;
    let input = ChannelInput {
        platform,
        name: form.get("name").to_string(),
        account_id: form.opt("account_id"),
        enabled: Some(true),
        business_letters: None,
        // Only the chosen platform's credentials: fields of another platform typed before the
        // choice changed are not stored.
        secrets: {
            let meta = platform != Platform::Telegram;
            let of = |name: &str, ours: bool| form.opt(name).filter(|_| ours);
            SecretsInput {
                app_secret: of("app_secret", meta),
                verify_token: of("verify_token", meta),
                access_token: of("access_token", meta),
                bot_token: of("bot_token", !meta),
                webhook_secret: of("webhook_secret", !meta),
            }
        },
    };
    hafen
        .create_channel(who.actor(), &tenant, input)
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/channels", tenant.as_str())))
}

/// Enables or disables a channel (`enabled`), or renames it and replaces credentials (`edit`:
/// an empty credential field leaves the stored one as it is).
async fn change_channel(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id, change) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let keep_or = |name: &str| form.opt(name).map(Some);
    let patch = match change.as_str() {
        "enabled" => crate::channels::registry::ChannelPatch {
            enabled: Some(form.get("enabled") == "1"),
            ..Default::default()
        },
        "edit" => crate::channels::registry::ChannelPatch {
            name: form.opt("name"),
            account_id: Some(form.opt("account_id")),
            secrets: Some(crate::channels::registry::SecretsPatch {
                app_secret: keep_or("app_secret"),
                verify_token: keep_or("verify_token"),
                access_token: keep_or("access_token"),
                bot_token: keep_or("bot_token"),
                webhook_secret: keep_or("webhook_secret"),
            }),
            ..Default::default()
        },
        _ => return Err(UiError::Domain(Error::NotFound, who.lang)),
    };
    hafen
        .update_channel(who.actor(), &tenant, &id, patch)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/channels", tenant.as_str())))
}

async fn test_channel(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    mut who: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    // The page shown is the channels page: the language switch returns there, not to this
    // form's address (which answers posts only).
    who.path = format!("/ui/t/{}/channels", tenant.as_str());
    let check = hafen
        .check_channel(who.actor(), &tenant, &id)
        .await
        .map_err(UiError::domain(who.lang))?;
    let outcome = check_in_words(who.lang, check);
    channels_page(&req, &hafen, &who, tenant.as_str(), Some(outcome)).await
}

/// A channel test's outcome for people: what happened and what to do, in the page's language;
/// the platform's own words (English) follow as a technical detail.
fn check_in_words(lang: Lang, check: crate::channels::platform::AccountCheck) -> Markup {
    use crate::channels::platform::AccountCheck;
    let t = |x: Text| x.get(lang);
    let (sentence, detail) = match check {
        AccountCheck::Ok(account) => {
            return html! { span.ok { (t(Text::ConnectionOk)) } ": " (account) }
        }
        AccountCheck::Missing(what) => {
            let field = match what {
                "account_id" => t(Text::AccountId),
                "bot_token" => t(Text::BotToken),
                _ => t(Text::AccessToken),
            };
            (format!("{} {field}", t(Text::CheckMissing)), None)
        }
        AccountCheck::Unreachable { timeout, detail } => (
            t(if timeout {
                Text::CheckTimeout
            } else {
                Text::CheckUnreachable
            })
            .to_string(),
            Some(detail),
        ),
        AccountCheck::Refused { status, detail } => (
            match status {
                401 | 403 => t(Text::CheckCredentials).to_string(),
                404 => t(Text::CheckUnknownAccount).to_string(),
                _ => format!("{} {status}.", t(Text::CheckAnswered)),
            },
            detail,
        ),
    };
    html! {
        strong.warn { (t(Text::ConnectionFailed)) } ": " (sentence)
        @if let Some(d) = detail { br; small.technical { (t(Text::TechnicalDetail)) " " span lang="en" { (d) } } }
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
    let list = hafen.list_holds(who.actor(), tenant).await.map_err(&e)?;
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
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
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
        .place_hold(who.actor(), &tenant, input)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/holds", tenant.as_str())))
}

async fn release_hold(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    hafen
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
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
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
        .retention_certificates(who.actor(), &tenant)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::platform::AccountCheck;

    fn words(check: AccountCheck) -> String {
        check_in_words(Lang::De, check).into_string()
    }

    #[test]
    fn a_channel_test_says_what_happened_and_what_to_do() {
        assert!(words(AccountCheck::Ok("Muster GmbH".into())).contains("Verbindung in Ordnung"));
        let missing = words(AccountCheck::Missing("bot_token"));
        assert!(
            missing.contains("Dem Kanal fehlt eine Angabe: Bot-Token"),
            "{missing}"
        );
        let unreachable = words(AccountCheck::Unreachable {
            timeout: false,
            detail: "error sending request".into(),
        });
        assert!(
            unreachable.contains("Hafen hat die Plattform nicht erreicht"),
            "{unreachable}"
        );
        assert!(
            unreachable.contains("<span lang=\"en\">error sending request</span>"),
            "the platform's words are marked as English: {unreachable}"
        );
        let refused = words(AccountCheck::Refused {
            status: 401,
            detail: Some("Invalid OAuth access token".into()),
        });
        assert!(refused.contains("Zugangsdaten abgewiesen"), "{refused}");
        assert!(words(AccountCheck::Refused {
            status: 404,
            detail: None
        })
        .contains("Konto-ID prüfen"));
        assert!(words(AccountCheck::Refused {
            status: 500,
            detail: None
        })
        .contains("Status 500"));
    }
}
