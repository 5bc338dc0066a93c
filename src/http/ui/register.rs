//! The GDPR register in the interface: the controller and its data-processing agreement (per
//! tenant) and the processor (this install). What is entered here heads the Art. 30 records,
//! the AVV annex and every letter to a data subject; without it they say "— nicht erfasst —".
//! Each save is a new audited version (`register.update`), as through the API.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::contacts::refused;
use super::form::{field_of, Kept};
use super::tenant::csrf;
use super::{layout, see_other, Area, Form, Posted, SignedIn, UiError};
use crate::error::Error;
use crate::i18n::Text;
use crate::register::{Scope, Section};
use crate::service::Hafen;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/register", web::get().to(controller))
        .route("/ui/t/{tenant}/register", web::post().to(save_controller))
        .route("/ui/register", web::get().to(processor))
        .route("/ui/register", web::post().to(save_processor));
}

/// The party's fields: (form name = the document's path, label, required).
const PARTY: [(&str, Text, bool); 6] = [
    ("name", Text::PartyName, true),
    ("address", Text::PartyAddress, true),
    ("contact", Text::PartyContact, true),
    ("dpo_name", Text::DpoName, false),
    ("dpo_contact", Text::DpoContact, false),
    ("representative", Text::Representative, false),
];

/// The AVV's fields: (name, label, kind, required); lists are one item per line.
const AVV: [(&str, Text, &str); 7] = [
    ("avv.date", Text::AvvDate, "date"),
    ("avv.subject_matter", Text::AvvSubject, "text"),
    ("avv.duration", Text::AvvDuration, "text"),
    ("avv.nature_and_purpose", Text::AvvNature, "textarea"),
    ("avv.data_types", Text::AvvDataTypes, "textarea"),
    ("avv.data_subject_categories", Text::AvvSubjects, "textarea"),
    ("avv.instruction_channel", Text::AvvInstructions, "text"),
];

fn is_list(name: &str) -> bool {
    matches!(name, "avv.data_types" | "avv.data_subject_categories")
}

/// A stored document's fields as the form's values (lists one per line).
fn values_of(document: &serde_json::Value, prefix: &str) -> Vec<(String, String)> {
    let mut values = Vec::new();
    let mut walk = |path: String, v: &serde_json::Value| match v {
        serde_json::Value::String(s) => values.push((path, s.clone())),
        serde_json::Value::Array(items) => values.push((
            path,
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        _ => {}
    };
    for (section, fields) in document.as_object().into_iter().flat_map(|o| o.iter()) {
        match fields.as_object() {
            Some(inner) => {
                for (k, v) in inner {
                    // The party's fields are named without "party." on the form.
                    let path = if section == "party" {
                        format!("{prefix}{k}")
                    } else {
                        format!("{section}.{k}")
                    };
                    walk(path, v);
                }
            }
            None => walk(format!("{prefix}{section}"), fields),
        }
    }
    values
}

/// The party as JSON from the form's fields.
fn party_of(form: &Form) -> serde_json::Value {
    let mut party = serde_json::Map::new();
    for (name, _, _) in PARTY {
        if let Some(v) = form.opt(name) {
            party.insert(name.into(), v.into());
        }
    }
    serde_json::Value::Object(party)
}

/// Required fields left empty, marked in the page's language before the domain is asked.
fn missing(who: &SignedIn, form: &Form, kept: Kept, with_avv: bool) -> Kept {
    let mut kept = kept;
    for (name, _, required) in PARTY {
        if required && form.opt(name).is_none() {
            kept = kept.wrong(name, who.t(Text::Required));
        }
    }
    if with_avv {
        for (name, _, _) in AVV {
            if form.opt(name).is_none() {
                kept = kept.wrong(name, who.t(Text::Required));
            }
        }
        if form
            .opt("avv.date")
            .is_some_and(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_err())
        {
            kept = kept.wrong("avv.date", who.t(Text::NotADate));
        }
    }
    kept
}

/// The domain's refusal of a field, beside that field (its name is the document's path).
fn refused_field(who: &SignedIn, kept: Kept, e: &Error) -> Option<Kept> {
    let Error::Invalid { field, .. } = e else {
        return None;
    };
    let name = field.strip_prefix("party.").unwrap_or(field);
    Some(kept.wrong(name.to_string(), who.t(Text::CheckField)))
}

async fn controller(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let scope = Scope::Tenant(tenant.clone());
    let current = hafen
        .register
        .entry(who.actor(), &scope, Section::Controller)
        .await
        .map_err(UiError::domain(who.lang))?;
    let kept = Kept::with_values(
        current
            .map(|e| values_of(&e.document, ""))
            .unwrap_or_default(),
    );
    let saved = super::query_param(&req, "saved") == "1";
    controller_page(&who, &tenant, &kept, saved)
}

fn controller_page(
    who: &SignedIn,
    tenant: &crate::tenants::TenantId,
    kept: &Kept,
    saved: bool,
) -> Result<HttpResponse, UiError> {
    let name = who.tenant(tenant.as_str())?.1;
    let t = |x: Text| who.t(x);
    let content = html! {
        h1 { (t(Text::Register)) " · " (name) }
        p.hint { (t(Text::RegisterHint)) }
        @if saved { p.notice role="status" { (t(Text::Saved)) } }
        @if kept.has_errors() { p.error role="alert" { (t(Text::NotSaved)) } }
        form method="post" action={ "/ui/t/" (tenant.as_str()) "/register" } {
            (csrf(who))
            fieldset {
                legend { (t(Text::RegisterController)) }
                @for (field, label, required) in PARTY {
                    (field_of("text", kept, (&format!("g-{field}"), t(label), field), required, None))
                }
            }
            fieldset {
                legend { (t(Text::RegisterAvv)) }
                @for (field, label, kind) in AVV {
                    (field_of(kind, kept, (&format!("g-{}", field.replace('.', "-")), t(label), field), true,
                        is_list(field).then(|| t(Text::OnePerLine))))
                }
            }
            button type="submit" { (t(Text::Save)) }
        }
    };
    Ok(layout(
        who,
        Area::Register,
        Some(tenant),
        t(Text::Register),
        content,
    ))
}

async fn save_controller(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let kept = missing(&who, &form, Kept::from_form(&form), true);
    if kept.has_errors() {
        return controller_page(&who, &tenant, &kept, false).map(refused);
    }
    let lines = |name: &str| -> Vec<String> {
        form.get(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let document = serde_json::json!({
        "party": party_of(&form),
        "avv": {
            "date": form.get("avv.date"),
            "subject_matter": form.get("avv.subject_matter"),
            "duration": form.get("avv.duration"),
            "nature_and_purpose": form.get("avv.nature_and_purpose"),
            "data_types": lines("avv.data_types"),
            "data_subject_categories": lines("avv.data_subject_categories"),
            "instruction_channel": form.get("avv.instruction_channel"),
        }
    });
    match hafen
        .register
        .put(
            who.actor(),
            &Scope::Tenant(tenant.clone()),
            Section::Controller,
            document,
        )
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/ui/t/{}/register?saved=1",
            tenant.as_str()
        ))),
        Err(e) => match refused_field(&who, Kept::from_form(&form), &e) {
            Some(kept) => controller_page(&who, &tenant, &kept, false).map(refused),
            None => Err(UiError::Domain(e, who.lang)),
        },
    }
}

async fn processor(hafen: web::Data<Hafen>, who: SignedIn) -> Result<HttpResponse, UiError> {
    let current = hafen
        .register
        .entry(who.actor(), &Scope::Processor, Section::Processor)
        .await
        .map_err(UiError::domain(who.lang))?;
    let kept = Kept::with_values(
        current
            .map(|e| values_of(&e.document, ""))
            .unwrap_or_default(),
    );
    Ok(processor_page(&who, &kept))
}

fn processor_page(who: &SignedIn, kept: &Kept) -> HttpResponse {
    let t = |x: Text| who.t(x);
    let content = html! {
        h1 { (t(Text::RegisterProcessor)) }
        p.hint { (t(Text::RegisterProcessorHint)) }
        @if kept.has_errors() { p.error role="alert" { (t(Text::NotSaved)) } }
        form method="post" action="/ui/register" {
            (csrf(who))
            @for (field, label, required) in PARTY {
                (field_of("text", kept, (&format!("g-{field}"), t(label), field), required, None))
            }
            button type="submit" { (t(Text::Save)) }
        }
    };
    layout(
        who,
        Area::Register,
        None,
        t(Text::RegisterProcessor),
        content,
    )
}

async fn save_processor(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
) -> Result<HttpResponse, UiError> {
    let kept = missing(&who, &form, Kept::from_form(&form), false);
    if kept.has_errors() {
        return Ok(refused(processor_page(&who, &kept)));
    }
    match hafen
        .register
        .put(
            who.actor(),
            &Scope::Processor,
            Section::Processor,
            party_of(&form),
        )
        .await
    {
        Ok(_) => Ok(see_other("/ui/dashboard")),
        Err(e) => match refused_field(&who, Kept::from_form(&form), &e) {
            Some(kept) => Ok(refused(processor_page(&who, &kept))),
            None => Err(UiError::Domain(e, who.lang)),
        },
    }
}

/// What the records still lack, for the dashboard: (what, where to enter it). Sections the
/// person may not keep are left out.
pub async fn missing_entries(hafen: &Hafen, who: &SignedIn) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let processor = hafen
        .register
        .entry(who.actor(), &Scope::Processor, Section::Processor)
        .await;
    if let Ok(None) = processor {
        out.push((
            who.t(Text::RegisterProcessor).to_string(),
            "/ui/register".to_string(),
        ));
    }
    for (tenant, name) in &who.tenants {
        let entry = hafen
            .register
            .entry(
                who.actor(),
                &Scope::Tenant(tenant.clone()),
                Section::Controller,
            )
            .await;
        if let Ok(None) = entry {
            out.push((
                format!("{name}: {}", who.t(Text::RegisterController)),
                format!("/ui/t/{}/register", tenant.as_str()),
            ));
        }
    }
    out
}
