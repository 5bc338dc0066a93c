//! A tenant's channels: the webhook address to give the platform (from `public_url`), a
//! connection test, where the platform delivers events and registering Hafen there, editing,
//! disabling.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::contacts::platform_name;
use super::tenant::{csrf, field};
use super::{layout, see_other, Area, Form, Posted, SignedIn, UiError};
use crate::channels::platform::PlatformFailure;
use crate::channels::registry::{ChannelInput, Platform, SecretsInput};
use crate::channels::subscription::{Delivery, MetaLevel};
use crate::error::Error;
use crate::i18n::{Lang, Text};
use crate::service::Hafen;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Each button that asks the platform something answers with the page, its outcome in the
    // channel's card.
    let asks = |action: Action| {
        move |req, body, hafen, who, path| answer_on_page(req, body, hafen, who, path, action)
    };
    cfg.route("/ui/t/{tenant}/channels", web::get().to(channels))
        .route("/ui/t/{tenant}/channels", web::post().to(create_channel))
        .route(
            "/ui/t/{tenant}/channels/{id}/test",
            web::post().to(asks(Action::Test)),
        )
        .route(
            "/ui/t/{tenant}/channels/{id}/webhook",
            web::post().to(asks(Action::Delivery)),
        )
        .route(
            "/ui/t/{tenant}/channels/{id}/webhook/register",
            web::post().to(asks(Action::Register)),
        )
        .route(
            "/ui/t/{tenant}/channels/{id}/{change}",
            web::post().to(change_channel),
        );
}

async fn channels(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    channels_page(&req, &hafen, &who, &path, None).await
}

/// The channels page; `checked` is a channel's id and the outcome of what its buttons just
/// asked the platform, shown in its card as the answer to that form (never taken from a link,
/// which anyone could word).
async fn channels_page(
    req: &HttpRequest,
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &str,
    checked: Option<(String, Markup)>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(tenant)?;
    let list = hafen
        .channels
        .list(who.actor(), &tenant)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let public = public_url(req);
    let base = shown_base(req);
    let content = html! {
        h1 { (t(Text::Channels)) " · " (name) }
        @if public.is_none() { p.notice.warn #no-public-url { (t(Text::NoPublicUrl)) } }
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
                @if let Some((_, outcome)) = checked.as_ref().filter(|(id, _)| *id == c.id) {
                    p.notice role="status" id={ "outcome-" (c.id) } { (outcome) }
                }
                h3 { (t(Text::WebhookSection)) }
                @match c.platform {
                    Platform::Messenger => { p.hint { (t(Text::MessengerAppHint)) } }
                    Platform::Whatsapp => { p.hint { (t(Text::WhatsappRegisterHint)) } }
                    Platform::Telegram => {}
                }
                div.actions {
                    form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels/" (c.id) "/webhook" } {
                        (csrf(who))
                        button.secondary type="submit" { (t(Text::CheckDelivery)) }
                    }
                    @if public.is_some() {
                        form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels/" (c.id) "/webhook/register" } {
                            (csrf(who))
                            button type="submit" { (t(match c.platform {
                                Platform::Telegram => Text::RegisterTelegram,
                                Platform::Whatsapp => Text::RegisterWhatsapp,
                                Platform::Messenger => Text::RegisterMessenger,
                            })) }
                        }
                    }
                }
                @if public.is_none() { p.hint { (t(Text::RegisterNeedsPublicUrl)) } }
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
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
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
        .channels
        .create(who.actor(), &tenant, input)
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/channels", tenant.as_str())))
}

/// Enables or disables a channel (`enabled`), or renames it and replaces credentials (`edit`:
/// an empty credential field leaves the stored one as it is).
async fn change_channel(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id, change) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
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
        .channels
        .update(who.actor(), &tenant, &id, patch)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/channels", tenant.as_str())))
}

/// What a channel's buttons ask the platform.
#[derive(Clone, Copy)]
enum Action {
    /// Whose account the credentials open.
    Test,
    /// Where it delivers the channel's events.
    Delivery,
    /// To deliver them to Hafen.
    Register,
}

/// Runs `action` against the platform and shows the channels page with its outcome in the
/// channel's card.
async fn answer_on_page(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    mut who: SignedIn,
    path: web::Path<(String, String)>,
    action: Action,
) -> Result<HttpResponse, UiError> {
    let (t, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    // The page shown is the channels page: the language switch returns there, not to this
    // form's address (which answers posts only).
    who.path = format!("/ui/t/{}/channels", tenant.as_str());
    let e = UiError::domain(who.lang);
    let lang = who.lang;
    // The channel's own address, to compare with where the platform delivers.
    let ours = format!(
        "{}{}",
        shown_base(&req),
        hafen
            .channels
            .read(who.actor(), &tenant, &id)
            .await
            .map_err(&e)?
            .webhook_path
    );
    let outcome = match action {
        Action::Test => {
            let check = hafen
                .channels
                .check(who.actor(), &tenant, &id)
                .await
                .map_err(&e)?;
            check_in_words(lang, check)
        }
        Action::Delivery => {
            let delivery = hafen
                .channels
                .webhook_delivery(who.actor(), &tenant, &id)
                .await
                .map_err(&e)?;
            delivery_in_words(lang, delivery, &ours, Text::DeliveryCheckFailed)
        }
        Action::Register => {
            let public = public_url(&req);
            let delivery = hafen
                .channels
                .register_webhook(who.actor(), &tenant, &id, public.as_deref())
                .await
                .map_err(&e)?;
            let registered = html! { span.ok { (Text::WebhookRegistered.get(lang)) } " " };
            let words = delivery_in_words(lang, delivery.clone(), &ours, Text::RegisterFailed);
            if delivery.is_ok() {
                html! { (registered) (words) }
            } else {
                words
            }
        }
    };
    channels_page(&req, &hafen, &who, tenant.as_str(), Some((id, outcome))).await
}

/// The configured `public_url`, without its trailing slash.
fn public_url(req: &HttpRequest) -> Option<String> {
    req.app_data::<web::Data<super::PublicUrl>>()
        .and_then(|p| p.0.clone())
}

/// The base the page shows webhook addresses under: `public_url`, else the address this page
/// was opened at (right only if the platforms reach Hafen there too, which the page says).
fn shown_base(req: &HttpRequest) -> String {
    public_url(req).unwrap_or_else(|| {
        format!(
            "{}://{}",
            if super::secure_transport(req) {
                "https"
            } else {
                "http"
            },
            crate::http::forwarded::host(req)
        )
    })
}

/// A failed call to a platform for people: what happened and what to do, in the page's
/// language; the platform's own words (English) follow as a technical detail.
fn failure_in_words(lang: Lang, headline: Text, failure: PlatformFailure) -> Markup {
    let t = |x: Text| x.get(lang);
    let (sentence, detail) = match failure {
        PlatformFailure::Missing("public_url") => (t(Text::MissingPublicUrl).to_string(), None),
        PlatformFailure::Missing(what) => {
            let field = match what {
                "account_id" => t(Text::AccountId),
                "bot_token" => t(Text::BotToken),
                "verify_token" => t(Text::VerifyToken),
                "webhook_secret" => t(Text::WebhookSecret),
                _ => t(Text::AccessToken),
            };
            (format!("{} {field}", t(Text::CheckMissing)), None)
        }
        PlatformFailure::Unreachable { timeout, detail } => (
            t(if timeout {
                Text::CheckTimeout
            } else {
                Text::CheckUnreachable
            })
            .to_string(),
            Some(detail),
        ),
        PlatformFailure::Refused { status, detail } => (
            match status {
                401 | 403 => t(Text::CheckCredentials).to_string(),
                404 => t(Text::CheckUnknownAccount).to_string(),
                _ => format!("{} {status}.", t(Text::CheckAnswered)),
            },
            detail,
        ),
    };
    html! {
        strong.warn { (t(headline)) } ": " (sentence)
        (technical(lang, detail.as_deref()))
    }
}

/// The platform's own words, marked as English, after a sentence of ours.
fn technical(lang: Lang, detail: Option<&str>) -> Markup {
    html! {
        @if let Some(d) = detail { br; small.technical { (Text::TechnicalDetail.get(lang)) " " span lang="en" { (d) } } }
    }
}

/// A connection test's outcome in words.
fn check_in_words(lang: Lang, check: Result<String, PlatformFailure>) -> Markup {
    match check {
        Ok(account) => {
            html! { span.ok { (Text::ConnectionOk.get(lang)) } ": " (account) }
        }
        Err(failure) => failure_in_words(lang, Text::ConnectionFailed, failure),
    }
}

/// Where the platform delivers a channel's events, in words, against the channel's own
/// webhook address `ours`.
fn delivery_in_words(
    lang: Lang,
    delivery: Result<Delivery, PlatformFailure>,
    ours: &str,
    headline: Text,
) -> Markup {
    let t = |x: Text| x.get(lang);
    let delivery = match delivery {
        Ok(d) => d,
        Err(failure) => return failure_in_words(lang, headline, failure),
    };
    let reaches = delivery.reaches(ours);
    let place = |url: &Option<String>, level: Option<MetaLevel>| -> Markup {
        let level = level.and_then(|l| match l {
            MetaLevel::Number => Some(Text::LevelNumber),
            MetaLevel::BusinessAccount => Some(Text::LevelAccount),
            MetaLevel::App => Some(Text::LevelApp),
            MetaLevel::Nowhere => None,
        });
        html! {
            @match url {
                None => { strong.warn { (t(Text::DeliveryNowhere)) } }
                Some(_) if reaches => { span.ok { (t(Text::DeliveryHere)) } }
                Some(other) => { strong.warn { (t(Text::DeliveryElsewhere)) } " " code { (other) } }
            }
            @if let (Some(level), Some(_)) = (level, url) { " (" (t(level)) ")" }
        }
    };
    match &delivery {
        Delivery::Telegram {
            url,
            pending,
            last_error,
        } => html! {
            (place(url, None))
            @if *pending > 0 { br; (t(Text::DeliveryPending)) " " (pending) }
            @if let Some(error) = last_error {
                br; (t(Text::DeliveryLastError)) " " span lang="en" { (error) }
            }
        },
        Delivery::Whatsapp { url, level } => place(url, Some(*level)),
        Delivery::Messenger { apps, missing } => {
            let field = |f: &str| match f {
                "messages" => t(Text::FieldMessages),
                "messaging_postbacks" => t(Text::FieldPostbacks),
                "message_deliveries" => t(Text::FieldDeliveries),
                _ => t(Text::FieldReads),
            };
            let fields: Vec<&str> = crate::channels::subscription::MESSENGER_FIELDS
                .iter()
                .map(|f| field(f))
                .collect();
            html! {
                @if apps.is_empty() {
                    strong.warn { (t(Text::PageNotSubscribed)) }
                } @else if missing.is_empty() {
                    span.ok { (t(Text::PageSubscribed)) } " " (apps.join(", ")) ". " (fields.join(", ")) "."
                } @else {
                    strong.warn { (t(Text::PageMissing)) } " "
                    (missing.iter().map(|f| field(f)).collect::<Vec<_>>().join(", ")) " (" (apps.join(", ")) ")"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::platform::PlatformFailure;

    fn words(check: Result<String, PlatformFailure>) -> String {
        check_in_words(Lang::De, check).into_string()
    }
    #[test]
    fn a_channel_test_says_what_happened_and_what_to_do() {
        assert!(words(Ok("Muster GmbH".into())).contains("Verbindung in Ordnung"));
        let missing = words(Err(PlatformFailure::Missing("bot_token")));
        assert!(
            missing.contains("Dem Kanal fehlt eine Angabe: Bot-Token"),
            "{missing}"
        );
        let unreachable = words(Err(PlatformFailure::Unreachable {
            timeout: false,
            detail: "error sending request".into(),
        }));
        assert!(
            unreachable.contains("Hafen hat die Plattform nicht erreicht"),
            "{unreachable}"
        );
        assert!(
            unreachable.contains("<span lang=\"en\">error sending request</span>"),
            "the platform's words are marked as English: {unreachable}"
        );
        let refused = words(Err(PlatformFailure::Refused {
            status: 401,
            detail: Some("Invalid OAuth access token".into()),
        }));
        assert!(refused.contains("Zugangsdaten abgewiesen"), "{refused}");
        assert!(words(Err(PlatformFailure::Refused {
            status: 404,
            detail: None
        }))
        .contains("Konto-ID prüfen"));
        assert!(words(Err(PlatformFailure::Refused {
            status: 500,
            detail: None
        }))
        .contains("Status 500"));
    }

    fn delivery(d: Result<Delivery, PlatformFailure>) -> String {
        delivery_in_words(
            Lang::De,
            d,
            "https://h.de/hooks/telegram/1",
            Text::DeliveryCheckFailed,
        )
        .into_string()
    }

    #[test]
    fn where_the_platform_delivers_is_said_against_the_channels_own_address() {
        let here = delivery(Ok(Delivery::Telegram {
            url: Some("https://h.de/hooks/telegram/1".into()),
            pending: 3,
            last_error: Some("Connection timed out".into()),
        }));
        assert!(
            here.contains("liefert an die Webhook-URL dieses Kanals"),
            "{here}"
        );
        assert!(here.contains("warten Updates auf Zustellung: 3"), "{here}");
        assert!(
            here.contains("<span lang=\"en\">Connection timed out</span>"),
            "{here}"
        );
        let elsewhere = delivery(Ok(Delivery::Whatsapp {
            url: Some("https://alt.de/hook".into()),
            level: MetaLevel::App,
        }));
        assert!(elsewhere.contains("an eine andere Adresse:</strong> <code>https://alt.de/hook</code> (eingetragen für die App)"), "{elsewhere}");
        let nowhere = delivery(Ok(Delivery::Telegram {
            url: None,
            pending: 0,
            last_error: None,
        }));
        assert!(nowhere.contains("keine Adresse eingetragen"), "{nowhere}");
        let page = delivery(Ok(Delivery::Messenger {
            apps: vec!["Hafen".into()],
            missing: vec!["message_reads"],
        }));
        assert!(
            page.contains("Die Seite erhält nicht:</strong> Lesebestätigungen (Hafen)"),
            "{page}"
        );
        let unset = delivery(Err(PlatformFailure::Missing("public_url")));
        assert!(unset.contains("Prüfung fehlgeschlagen"), "{unset}");
        assert!(unset.contains("fehlt public_url"), "{unset}");
    }
}
