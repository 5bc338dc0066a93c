//! A tenant's pages: channels, retention rules (editor, dry-run preview, activation and
//! approval), legal holds, consent purposes with the widget preview, contacts and their
//! conversations, data-subject requests, deletion certificates.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::{layout, see_other, when, Area, Form, SignedIn, UiError};
use crate::channels::registry::{ChannelInput, Platform, SecretsInput};
use crate::consent::{ConsentTextsInput, PurposeInput, WidgetStyle};
use crate::error::Error;
use crate::requests::access::ExportOptions;
use crate::requests::{Kind, NewRequest};
use crate::retention::holds::HoldInput;
use crate::retention::rules::{Category, RuleInput};
use crate::retention::run::Forecast;
use crate::service::{Hafen, PageRequest};
use crate::ui::text::Text;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/channels", web::get().to(channels))
        .route("/ui/t/{tenant}/channels", web::post().to(create_channel))
        .route(
            "/ui/t/{tenant}/channels/{id}/test",
            web::post().to(test_channel),
        )
        .route("/ui/t/{tenant}/retention", web::get().to(retention))
        .route("/ui/t/{tenant}/retention/preview", web::post().to(preview))
        .route(
            "/ui/t/{tenant}/retention/activate",
            web::post().to(activate),
        )
        .route(
            "/ui/t/{tenant}/retention/versions/{v}/{decision}",
            web::post().to(decide),
        )
        .route("/ui/t/{tenant}/holds", web::get().to(holds))
        .route("/ui/t/{tenant}/holds", web::post().to(place_hold))
        .route(
            "/ui/t/{tenant}/holds/{id}/release",
            web::post().to(release_hold),
        )
        .route("/ui/t/{tenant}/consent", web::get().to(consent))
        .route("/ui/t/{tenant}/consent", web::post().to(create_purpose))
        .route("/ui/t/{tenant}/contacts", web::get().to(contacts))
        .route("/ui/t/{tenant}/contacts/lookup", web::post().to(lookup))
        .route("/ui/t/{tenant}/contacts/{id}", web::get().to(conversation))
        .route("/ui/t/{tenant}/requests", web::get().to(requests))
        .route("/ui/t/{tenant}/requests", web::post().to(create_request))
        .route(
            "/ui/t/{tenant}/requests/{id}/{action}",
            web::post().to(act_on_request),
        )
        .route("/ui/t/{tenant}/certificates", web::get().to(certificates));
}

/// The hidden CSRF field every form of a signed-in page carries.
fn csrf(who: &SignedIn) -> Markup {
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
    checked: Option<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(tenant)?;
    let list = hafen
        .list_channels(who.actor(), &tenant)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let base = format!(
        "{}://{}",
        if super::secure_transport(req) {
            "https"
        } else {
            "http"
        },
        crate::http::forwarded::host(req)
    );
    let content = html! {
        h1 { (t(Text::Channels)) " · " (name) }
        @if let Some(result) = &checked {
            p.notice role="status" { (result) }
        }
        @if list.is_empty() { p { (t(Text::None_)) } }
        @for c in &list {
            section.card.channel {
                h2 { (c.name) " " small { (c.platform.as_str()) } }
                p { (t(Text::Status)) ": " @if c.enabled { (t(Text::Enabled)) } @else { span.warn { (t(Text::Disabled)) } } }
                label for={ "hook-" (c.id) } { (t(Text::WebhookUrl)) }
                input.copy id={ "hook-" (c.id) } type="text" readonly value={ (base) (c.webhook_path) };
                form method="post" action={ "/ui/t/" (tenant.as_str()) "/channels/" (c.id) "/test" } {
                    (csrf(who))
                    button type="submit" { (t(Text::TestConnection)) }
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
            fieldset {
                legend { "Secrets" }
                p.hint { (t(Text::SecretsHint)) }
                @for (id, label, name) in [("c-app", Text::AppSecret, "app_secret"), ("c-verify", Text::VerifyToken, "verify_token"),
                        ("c-access", Text::AccessToken, "access_token"), ("c-bot", Text::BotToken, "bot_token"), ("c-hook", Text::WebhookSecret, "webhook_secret")] {
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
        secrets: SecretsInput {
            app_secret: form.opt("app_secret"),
            verify_token: form.opt("verify_token"),
            access_token: form.opt("access_token"),
            bot_token: form.opt("bot_token"),
            webhook_secret: form.opt("webhook_secret"),
        },
    };
    hafen
        .create_channel(who.actor(), &tenant, input)
        .await
        .map_err(&e)?;
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
    let outcome = match hafen.test_channel(who.actor(), &tenant, &id).await {
        Ok(account) => format!("{}: {account}", who.t(Text::ConnectionOk)),
        Err(Error::Conflict(why)) => format!("{}: {why}", who.t(Text::ConnectionFailed)),
        Err(e) => return Err(UiError::Domain(e, who.lang)),
    };
    channels_page(&req, &hafen, &who, tenant.as_str(), Some(outcome)).await
}

// ----- retention -----

const STARTS: [&str; 4] = [
    "collection",
    "conversation_end",
    "relationship_end",
    "consent_withdrawal",
];

fn rule_row(who: &SignedIn, i: usize, rule: Option<&RuleInput>) -> Markup {
    let t = |x: Text| who.t(x);
    let id = |f: &str| format!("r{i}-{f}");
    html! {
        tr {
            td {
                label.sr for=(id("cat")) { (t(Text::Category)) }
                select id=(id("cat")) name="r_category" {
                    option value="" { "—" }
                    @for c in Category::ALL {
                        option value=(c.as_str()) selected[rule.is_some_and(|r| r.category == c.as_str())] { (c.as_str()) }
                    }
                }
            }
            td {
                label.sr for=(id("ch")) { (t(Text::ChannelOptional)) }
                select id=(id("ch")) name="r_channel" {
                    option value="" { "*" }
                    @for p in ["whatsapp", "messenger", "telegram"] {
                        option value=(p) selected[rule.and_then(|r| r.channel.as_deref()) == Some(p)] { (p) }
                    }
                }
            }
            td {
                label.sr for=(id("class")) { (t(Text::MessageClass)) }
                select id=(id("class")) name="r_class" {
                    option value="" { (t(Text::ClassOther)) }
                    option value="business_letter" selected[rule.is_some_and(|r| r.class.is_some())] { (t(Text::ClassLetters)) }
                }
            }
            td {
                label.sr for=(id("start")) { (t(Text::Start)) }
                select id=(id("start")) name="r_start" {
                    @for s in STARTS { option value=(s) selected[rule.is_some_and(|r| r.start == s)] { (s) } }
                }
            }
            td {
                label.sr for=(id("eoy")) { (t(Text::EndOfYear)) }
                select id=(id("eoy")) name="r_end_of_year" {
                    option value="0" { (t(Text::No)) }
                    option value="1" selected[rule.is_some_and(|r| r.end_of_year)] { (t(Text::Yes)) }
                }
            }
            td {
                label.sr for=(id("period")) { (t(Text::Period)) }
                input id=(id("period")) type="text" name="r_period" size="6" value=[rule.map(|r| r.period.as_str())];
            }
            td {
                label.sr for=(id("basis")) { (t(Text::LegalBasis)) }
                input id=(id("basis")) type="text" name="r_legal_basis" value=[rule.map(|r| r.legal_basis.as_str())];
            }
            td {
                label.sr for=(id("ground")) { (t(Text::Ground)) }
                select id=(id("ground")) name="r_ground" {
                    @for (value, label) in GROUNDS {
                        option value=(value) selected[rule.is_some_and(|r| r.ground.as_deref() == Some(value))] { (t(label)) }
                    }
                }
            }
            td {
                label.sr for=(id("norm")) { (t(Text::Norm)) }
                input id=(id("norm")) type="text" name="r_norm" value=[rule.and_then(|r| r.norm.as_deref())];
            }
        }
    }
}

/// The grounds of the rule editor, in the order offered (the first is the default).
const GROUNDS: [(&str, Text); 4] = [
    ("none", Text::GroundNone),
    ("statutory", Text::GroundStatutory),
    ("contractual_or_bylaw", Text::GroundContractual),
    ("legal_claims", Text::GroundLegalClaims),
];

fn rules_table(rules: &[RuleInput]) -> Markup {
    html! {
        table {
            thead { tr { th { "category" } th { "channel" } th { "start" } th { "period" } th { "legal basis" } } }
            tbody {
                @for r in rules {
                    tr {
                        td { (r.category) @if let Some(c) = &r.class { " · " (c) } }
                        td { (r.channel.as_deref().unwrap_or("*")) }
                        td { (r.start) @if r.end_of_year { " (EOY)" } }
                        td { (r.period) }
                        td { (r.legal_basis) @if let Some(norm) = &r.norm { " (" (norm) ")" } }
                    }
                }
            }
        }
    }
}

async fn retention(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let e = UiError::domain(who.lang);
    let view = hafen
        .retention_rules(who.actor(), &tenant)
        .await
        .map_err(&e)?;
    let versions = hafen
        .retention_versions(who.actor(), &tenant)
        .await
        .map_err(&e)?;
    let t = |x: Text| who.t(x);
    let actors = hafen
        .actor_names(
            versions
                .iter()
                .map(|v| v.proposed_by.as_str())
                .chain(view.pending.iter().map(|p| p.proposed_by.as_str())),
        )
        .await
        .map_err(UiError::domain(who.lang))?;
    let actor_name = |label: &str| {
        actors
            .get(label)
            .map_or_else(|| label.to_string(), |n| n.show(who.lang))
    };
    let editable: Vec<RuleInput> = view
        .active
        .as_ref()
        .map(|a| a.rules.clone())
        .unwrap_or_default();
    let base = format!("/ui/t/{}/retention", tenant.as_str());
    let content = html! {
        h1 { (t(Text::Retention)) " · " (name) }
        h2 { (t(Text::RulesInForce)) }
        (rules_table(&view.effective))
        @if !view.pending.is_empty() {
            h2 { (t(Text::Pending)) }
            @for p in &view.pending {
                section.card {
                    p { (t(Text::Version)) " " (p.version) " · " (t(Text::ProposedBy)) " " (actor_name(&p.proposed_by)) " · " (when(p.proposed_at)) }
                    (rules_table(&p.rules))
                    div.actions {
                        form method="post" action={ (base) "/versions/" (p.version) "/approve" } { (csrf(&who)) button type="submit" { (t(Text::Approve)) } }
                        form method="post" action={ (base) "/versions/" (p.version) "/reject" } { (csrf(&who)) button.secondary type="submit" { (t(Text::Reject)) } }
                    }
                }
            }
        }
        h2 { (t(Text::EditRules)) }
        p.hint { (t(Text::EditRulesHint)) }
        form method="post" action={ (base) "/preview" } {
            (csrf(&who))
            div.scroll {
                table.editor {
                    thead { tr { th { (t(Text::Category)) } th { (t(Text::ChannelOptional)) } th { (t(Text::MessageClass)) } th { (t(Text::Start)) } th { (t(Text::EndOfYear)) } th { (t(Text::Period)) } th { (t(Text::LegalBasis)) } th { (t(Text::Ground)) } th { (t(Text::Norm)) } } }
                    tbody {
                        @for (i, r) in editable.iter().enumerate() { (rule_row(&who, i, Some(r))) }
                        @for i in editable.len()..editable.len() + 3 { (rule_row(&who, i, None)) }
                    }
                }
            }
            button type="submit" { (t(Text::ShowPreview)) }
        }
        h2 { (t(Text::Versions)) }
        table {
            thead { tr { th { (t(Text::Version)) } th { (t(Text::State)) } th { (t(Text::ProposedBy)) } th { (t(Text::Created)) } } }
            tbody {
                @for v in &versions {
                    tr { td { (v.version) } td { (v.state) } td { (actor_name(&v.proposed_by)) } td { (when(v.proposed_at)) } }
                }
            }
        }
        h2 { (t(Text::Defaults)) }
        (rules_table(&view.defaults))
    };
    Ok(layout(
        &who,
        Area::Retention,
        Some(&tenant),
        t(Text::Retention),
        content,
    ))
}

/// Rows the editor accepts; a rule set has one rule per category and channel, so far fewer.
const MAX_RULE_ROWS: usize = 100;

/// The editor's rows as rules; rows without a category are empty and skipped.
fn rules_from(form: &Form) -> Result<Vec<RuleInput>, Error> {
    let cats = form.all("r_category");
    if cats.len() > MAX_RULE_ROWS {
        return Err(Error::invalid(
            "rules",
            format!("at most {MAX_RULE_ROWS} rows"),
        ));
    }
    let column = |name: &str| form.all(name);
    let (classes, channels, starts, years, periods, bases, grounds, norms) = (
        column("r_class"),
        column("r_channel"),
        column("r_start"),
        column("r_end_of_year"),
        column("r_period"),
        column("r_legal_basis"),
        column("r_ground"),
        column("r_norm"),
    );
    let at = |values: &[&str], i: usize| values.get(i).copied().unwrap_or("").to_string();
    Ok(cats
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .map(|(i, c)| RuleInput {
            category: c.to_string(),
            channel: Some(at(&channels, i)).filter(|c| !c.is_empty()),
            start: at(&starts, i),
            end_of_year: at(&years, i) == "1",
            period: at(&periods, i),
            legal_basis: at(&bases, i),
            deletion_class: None,
            class: Some(at(&classes, i)).filter(|c| !c.is_empty()),
            ground: Some(at(&grounds, i)).filter(|g| !g.is_empty()),
            norm: Some(at(&norms, i)).filter(|n| !n.trim().is_empty()),
            statutory: false,
        })
        .collect())
}

fn forecast(who: &SignedIn, title: Text, f: &Forecast) -> Markup {
    html! {
        section.card {
            h3 { (who.t(title)) ": " strong.figure-inline { (f.total) } }
            @if !f.categories.is_empty() {
                ul { @for c in &f.categories { li { (c.category) ": " (c.count) } } }
            }
        }
    }
}

async fn preview(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let rules = rules_from(&form).map_err(UiError::domain(who.lang))?;
    let report = hafen
        .preview_retention(who.actor(), &tenant, rules.clone())
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let rules_json = serde_json::to_string(&rules).unwrap_or_default();
    let content = html! {
        h1 { (t(Text::Preview)) " · " (name) }
        (rules_table(&report.effective_rules))
        div.cards #preview {
            (forecast(&who, Text::DueNow, &report.now))
            (forecast(&who, Text::Next30Days, &report.next_30_days))
        }
        p { (t(Text::ShareOfMessages)) ": " strong { (crate::records::percent(report.share_of_messages * 100.0, who.lang)) } }
        @if report.needs_approval.is_some() {
            p.warn role="status" { (t(Text::NeedsApproval)) }
        }
        p.hint { (t(Text::ActivateHint)) }
        form method="post" action={ "/ui/t/" (tenant.as_str()) "/retention/activate" } {
            (csrf(&who))
            input type="hidden" name="rules" value=(rules_json);
            input type="hidden" name="preview_id" value=(report.preview_id);
            button type="submit" { (t(Text::Activate)) }
            " "
            a href={ "/ui/t/" (tenant.as_str()) "/retention" } { (t(Text::Back)) }
        }
    };
    Ok(layout(
        &who,
        Area::Retention,
        Some(&tenant),
        t(Text::Preview),
        content,
    ))
}

async fn activate(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let e = UiError::domain(who.lang);
    let rules: Vec<RuleInput> = serde_json::from_str(form.get("rules")).map_err(|_| {
        e(Error::invalid(
            "rules",
            "the previewed rules did not come back intact",
        ))
    })?;
    hafen
        .propose_retention(who.actor(), &tenant, rules, form.get("preview_id"))
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/retention", tenant.as_str())))
}

async fn decide(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, v, decision) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let e = UiError::domain(who.lang);
    let version: i32 = v.parse().map_err(|_| e(Error::NotFound))?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(e(Error::NotFound)),
    };
    hafen
        .decide_retention(who.actor(), &tenant, version, approve)
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/retention", tenant.as_str())))
}

// ----- legal holds -----

async fn holds(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let list = hafen
        .list_holds(who.actor(), &tenant)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let base = format!("/ui/t/{}/holds", tenant.as_str());
    let content = html! {
        h1 { (t(Text::Holds)) " · " (name) }
        @if list.is_empty() { p { (t(Text::None_)) } } @else {
            table {
                thead { tr { th { (t(Text::ContactId)) } th { (t(Text::Reason)) } th { (t(Text::Created)) } th { (t(Text::Status)) } th {} } }
                tbody {
                    @for h in &list {
                        tr {
                            td { (h.contact_id.as_deref().unwrap_or("*")) }
                            td { (h.reason) }
                            td { (when(h.created_at)) }
                            td { @if h.active { (t(Text::Enabled)) } @else { (t(Text::Disabled)) } }
                            td { @if h.active {
                                form method="post" action={ (base) "/" (h.id) "/release" } { (csrf(&who)) button.secondary type="submit" { (t(Text::Release)) } }
                            } }
                        }
                    }
                }
            }
        }
        h2 { (t(Text::PlaceHold)) }
        form method="post" action=(base) {
            (csrf(&who))
            (field("h-contact", t(Text::ContactIdOptional), "contact_id", false))
            (field("h-reason", t(Text::Reason), "reason", true))
            label for="h-until" { (t(Text::Until)) }
            input #h-until type="date" name="until";
            button type="submit" { (t(Text::PlaceHold)) }
        }
    };
    Ok(layout(
        &who,
        Area::Holds,
        Some(&tenant),
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
    let e = UiError::domain(who.lang);
    let until = form
        .opt("until")
        .map(|d| {
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|d| d.and_utc())
                .ok_or_else(|| Error::invalid("until", "must be a date (YYYY-MM-DD)"))
        })
        .transpose()
        .map_err(&e)?;
    let input = HoldInput {
        contact_id: form.opt("contact_id"),
        data_from: None,
        data_until: None,
        reason: form.get("reason").to_string(),
        until,
    };
    hafen
        .place_hold(who.actor(), &tenant, input)
        .await
        .map_err(&e)?;
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

// ----- contacts -----

async fn contacts(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let t = |x: Text| who.t(x);
    let may_lookup = who
        .actor()
        .authorize(&tenant, crate::auth::Permission::HandleRequests)
        .is_ok();
    // Agents see the newest contacts (each read is audited by the domain); DPOs look up.
    let page = if may_lookup {
        None
    } else {
        Some(
            hafen
                .list_contacts(
                    who.actor(),
                    &tenant,
                    PageRequest {
                        after: None,
                        limit: 50,
                    },
                )
                .await
                .map_err(UiError::domain(who.lang))?,
        )
    };
    let content = html! {
        h1 { (t(Text::Contacts)) " · " (name) }
        @if may_lookup {
            h2 { (t(Text::Lookup)) }
            p.hint { (t(Text::LookupHint)) }
            form method="post" action={ "/ui/t/" (tenant.as_str()) "/contacts/lookup" } {
                (csrf(&who))
                label for="l-channel" { (t(Text::Platform)) }
                select #l-channel name="channel" { option value="whatsapp" { "WhatsApp" } option value="messenger" { "Messenger" } option value="telegram" { "Telegram" } }
                (field("l-address", t(Text::Address), "address", true))
                button type="submit" { (t(Text::Lookup)) }
            }
        }
        @if let Some(page) = &page {
            table {
                thead { tr { th { (t(Text::Name)) } th { (t(Text::Platform)) } th { (t(Text::LastMessage)) } } }
                tbody {
                    @for c in &page.items {
                        tr {
                            td { a href={ "/ui/t/" (tenant.as_str()) "/contacts/" (c.id) } { (c.display_name.as_deref().or(c.address.as_deref()).unwrap_or(&c.id)) } }
                            td { (c.channel) }
                            td { (when(c.last_message_at)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        &who,
        Area::Contacts,
        Some(&tenant),
        t(Text::Contacts),
        content,
    ))
}

async fn lookup(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let contact = hafen
        .lookup_contact(
            who.actor(),
            &tenant,
            form.get("channel"),
            form.get("address"),
        )
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!(
        "/ui/t/{}/contacts/{}",
        tenant.as_str(),
        contact.id
    )))
}

async fn conversation(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t_id, id) = path.into_inner();
    let (tenant, _) = who.tenant(&t_id)?;
    let e = UiError::domain(who.lang);
    let contact = hafen
        .read_contact(who.actor(), &tenant, &id)
        .await
        .map_err(&e)?;
    let messages = hafen
        .read_contact_messages(
            who.actor(),
            &tenant,
            &id,
            PageRequest {
                after: None,
                limit: 100,
            },
        )
        .await
        .map_err(&e)?;
    let t = |x: Text| who.t(x);
    let content = html! {
        h1 { (contact.display_name.as_deref().or(contact.address.as_deref()).unwrap_or(&contact.id)) }
        p { (contact.channel) " · " (t(Text::ContactId)) " " code { (contact.id) } }
        h2 { (t(Text::Conversation)) }
        ol.conversation {
            @for m in &messages.items {
                li.msg.(m.direction.as_str()) {
                    // The side and colour show the direction; the words say it for everyone.
                    p.meta {
                        strong { (t(if m.direction.as_str() == "out" { Text::Outgoing } else { Text::Incoming })) }
                        " · " (when(m.occurred_at)) " · " (m.kind.as_str())
                        @if let Some(status) = &m.delivery_status { " · " (status) }
                    }
                    p { (m.body.as_deref().unwrap_or("—")) }
                }
            }
        }
    };
    Ok(layout(
        &who,
        Area::Contacts,
        Some(&tenant),
        t(Text::Conversation),
        content,
    ))
}

// ----- data-subject requests -----

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
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let list = hafen
        .list_requests(who.actor(), &tenant, false)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let base = format!("/ui/t/{}/requests", tenant.as_str());
    let content = html! {
        h1 { (t(Text::Requests)) " · " (name) }
        @if list.is_empty() { p { (t(Text::None_)) } } @else {
            table {
                thead { tr { th { (t(Text::Kind)) } th { (t(Text::ContactId)) } th { (t(Text::Deadline)) } th { (t(Text::Status)) } th {} } }
                tbody {
                    @for r in &list {
                        tr {
                            td { (r.kind.as_str()) }
                            td { code { (r.contact_id) } }
                            td { (r.extended_due_on.as_deref().unwrap_or(&r.due_on)) @if r.overdue { " " strong.warn { (t(Text::Overdue)) } } }
                            td { (r.status) }
                            td.actions {
                                @if matches!(r.kind, Kind::Access | Kind::Portability) {
                                    form method="post" action={ (base) "/" (r.id) "/export" } { (csrf(&who)) button type="submit" { (t(Text::Export)) } }
                                }
                                @if r.status == "open" && r.kind == Kind::Erasure {
                                    form method="post" action={ (base) "/" (r.id) "/erase" } { (csrf(&who)) button.danger type="submit" { (t(Text::Erase)) } }
                                }
                                @if r.status == "open" && r.kind == Kind::Restriction {
                                    form method="post" action={ (base) "/" (r.id) "/restrict" } { (csrf(&who)) button type="submit" { (t(Text::Restrict)) } }
                                }
                                @if r.status != "open" {
                                    form method="post" action={ (base) "/" (r.id) "/letter" } { (csrf(&who)) button type="submit" { (t(Text::LetterPdf)) } }
                                }
                                @if r.status == crate::requests::DECISION_NEEDED {
                                    @for c in waiting(r) {
                                        form.decision method="post" action={ (base) "/" (r.id) "/decide" } {
                                            (csrf(&who))
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
        h2 { (t(Text::CreateRequest)) }
        form method="post" action=(base) {
            (csrf(&who))
            label for="q-kind" { (t(Text::Kind)) }
            select #q-kind name="kind" {
                option value="access" { "access (Art. 15)" }
                option value="portability" { "portability (Art. 20)" }
                option value="erasure" { "erasure (Art. 17)" }
                option value="restriction" { "restriction (Art. 18)" }
            }
            (field("q-contact", t(Text::ContactId), "contact_id", true))
            label for="q-received" { (t(Text::ReceivedOn)) }
            input #q-received type="date" name="received_on";
            button type="submit" { (t(Text::CreateRequest)) }
        }
    };
    Ok(layout(
        &who,
        Area::Requests,
        Some(&tenant),
        t(Text::Requests),
        content,
    ))
}

async fn create_request(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let e = UiError::domain(who.lang);
    let kind: Kind = serde_json::from_value(serde_json::Value::String(form.get("kind").into()))
        .map_err(|_| {
            e(Error::invalid(
                "kind",
                "must be access, portability, erasure or restriction",
            ))
        })?;
    let received_on = form
        .opt("received_on")
        .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
        .transpose()
        .map_err(|_| e(Error::invalid("received_on", "must be a date (YYYY-MM-DD)")))?;
    hafen
        .create_request(
            who.actor(),
            &tenant,
            NewRequest {
                kind,
                contact_id: form.get("contact_id").into(),
                received_on,
            },
        )
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/requests", tenant.as_str())))
}

async fn act_on_request(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, id, action) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    let form = Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    let e = UiError::domain(who.lang);
    match action.as_str() {
        "letter" => {
            let letter = hafen
                .request_letter(who.actor(), &tenant, &id, who.lang, "pdf")
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
                .export_request(who.actor(), &tenant, &id, options)
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
                .erase_request(who.actor(), &tenant, &id)
                .await
                .map_err(&e)?;
        }
        "restrict" => {
            hafen
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
