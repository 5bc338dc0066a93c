//! Retention rules in words: the rules in force ("6 Jahre ab Ende des Kalenderjahres der
//! Erhebung"), an editor whose period is a number and a unit and whose categories and start
//! points are named and explained, the dry-run preview, activation and the second person's
//! approval. A refused row comes back as typed, with what is wrong beside it.

mod editor;
pub use editor::*;

use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::contacts::{platform_name, refused};
use super::tenant::csrf;
use super::{layout, see_other, when, Area, Form, Posted, SignedIn, UiError};
use crate::error::Error;
use crate::i18n::Text;
use crate::register::live::{class_label, describe_rule};
use crate::retention::rules::{Category, Ground, Period, RuleInput, RuleSet, StartPoint};
use crate::retention::run::Forecast;
use crate::service::Hafen;
use crate::tenants::TenantId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/t/{tenant}/retention", web::get().to(retention))
        .route("/ui/t/{tenant}/retention/preview", web::post().to(preview))
        .route(
            "/ui/t/{tenant}/retention/activate",
            web::post().to(activate),
        )
        .route(
            "/ui/t/{tenant}/retention/versions/{v}/{decision}",
            web::post().to(decide),
        )
        .route("/ui/t/{tenant}/retention/run", web::post().to(run_now));
}

fn version_state(state: &str) -> Text {
    match state {
        "active" => Text::VersionActive,
        "superseded" => Text::VersionSuperseded,
        "rejected" => Text::StateRejected,
        _ => Text::Pending,
    }
}

async fn retention(
    hafen: web::Data<Hafen>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    retention_page(&hafen, &who, &tenant, None).await
}

/// The retention page; `typed` holds a refused editor's rows (shown instead of the rules in
/// force, with their errors).
async fn retention_page(
    hafen: &Hafen,
    who: &SignedIn,
    tenant: &TenantId,
    typed: Option<Vec<Row>>,
) -> Result<HttpResponse, UiError> {
    let name = who.tenant(tenant.as_str())?.1;
    let e = UiError::domain(who.lang);
    let view = hafen
        .retention
        .rules(who.actor(), tenant)
        .await
        .map_err(&e)?;
    let versions = hafen
        .retention
        .versions(who.actor(), tenant)
        .await
        .map_err(&e)?;
    let t = |x: Text| who.t(x);
    let actors = hafen
        .accounts
        .actor_names(
            versions
                .iter()
                .map(|v| v.proposed_by.as_str())
                .chain(view.pending.iter().map(|p| p.proposed_by.as_str())),
        )
        .await
        .map_err(&e)?;
    let actor_name = |label: &str| {
        actors
            .get(label)
            .map_or_else(|| label.to_string(), |n| n.show(who.lang))
    };
    let refused_form = typed.is_some();
    let mut rows = typed.unwrap_or_else(|| {
        view.active
            .as_ref()
            .map(|a| a.rules.iter().map(Row::from_rule).collect())
            .unwrap_or_default()
    });
    rows.retain(|r| !r.is_empty() || refused_form);
    if !refused_form {
        rows.extend(std::iter::repeat_n(Row::default(), NEW_ROWS));
    }
    let base = format!("/ui/t/{}/retention", tenant.as_str());
    let content = html! {
        h1 { (t(Text::Retention)) " · " (name) }
        h2 { (t(Text::RulesInForce)) }
        (rules_table(who, &view.effective))
        @if !view.pending.is_empty() {
            h2 { (t(Text::Pending)) }
            @for p in &view.pending {
                section.card {
                    p { (t(Text::Version)) " " (p.version) " · " (t(Text::ProposedBy)) " " (actor_name(&p.proposed_by)) " · " (when(p.proposed_at)) }
                    (rules_table(who, &p.rules))
                    div.actions {
                        form method="post" action={ (base) "/versions/" (p.version) "/approve" } { (csrf(who)) button type="submit" { (t(Text::Approve)) } }
                        form method="post" action={ (base) "/versions/" (p.version) "/reject" } { (csrf(who)) button.secondary type="submit" { (t(Text::Reject)) } }
                    }
                }
            }
        }
        h2 #edit { (t(Text::EditRules)) }
        p.hint { (t(Text::EditRulesHint)) }
        @if refused_form { p.error role="alert" { (t(Text::NotSaved)) } }
        form method="post" action={ (base) "/preview" } {
            (csrf(who))
            div.scroll {
                table.editor {
                    thead { tr { th { (t(Text::Data)) } th { (t(Text::ChannelCol)) } th { (t(Text::MessageClass)) } th { (t(Text::Start)) } th { (t(Text::EndOfYear)) } th { (t(Text::Period)) } th { (t(Text::LegalBasis)) } th { (t(Text::Ground)) } th { (t(Text::Norm)) } } }
                    tbody {
                        @for (i, row) in rows.iter().enumerate() { (editor_row(who, i, row)) }
                    }
                }
            }
            button type="submit" { (t(Text::ShowPreview)) }
        }
        (explanations(who))
        @if who.actor().authorize(tenant, crate::auth::Permission::ManageRetention).is_ok() {
            h2 #run { (t(Text::RunSection)) }
            p.hint { (t(Text::RunSectionHint)) }
            form method="post" action={ (base) "/run" } {
                (csrf(who))
                button.secondary type="submit" { (t(Text::RunCheck)) }
            }
        }
        h2 { (t(Text::Versions)) }
        table {
            thead { tr { th { (t(Text::Version)) } th { (t(Text::State)) } th { (t(Text::ProposedBy)) } th { (t(Text::Created)) } } }
            tbody {
                @for v in &versions {
                    tr { td { (v.version) } td { (t(version_state(&v.state))) } td { (actor_name(&v.proposed_by)) } td { (when(v.proposed_at)) } }
                }
            }
        }
        h2 { (t(Text::Defaults)) }
        (rules_table(who, &view.defaults))
    };
    let response = layout(
        who,
        Area::Retention,
        Some(tenant),
        t(Text::Retention),
        content,
    );
    Ok(if refused_form {
        refused(response)
    } else {
        response
    })
}

fn forecast(who: &SignedIn, title: Text, f: &Forecast) -> Markup {
    html! {
        section.card {
            h3 { (who.t(title)) ": " strong.figure-inline { (f.total) } }
            @if !f.categories.is_empty() {
                ul {
                    // Only what is due: a list of zeros hides the line that matters.
                    @for c in f.categories.iter().filter(|c| c.count > 0) {
                        li { (category_of(c.category).map_or_else(|| c.category.to_string(), |c| c.label(who.lang))) ": " (c.count) }
                    }
                }
            }
            @if !f.unreadable_at_once.is_empty() {
                p.hint {
                    (who.t(Text::UnreadableAtOnce)) " "
                    (f.unreadable_at_once.iter().map(|m| month_of(who, &m.channel, &m.month)).collect::<Vec<_>>().join(", "))
                }
            }
        }
    }
}

/// "WhatsApp 03/2024" (German) or "WhatsApp 2024-03".
fn month_of(who: &SignedIn, channel: &str, month: &str) -> String {
    let month = match (who.lang, month.split_once('-')) {
        (crate::i18n::Lang::De, Some((year, m))) => format!("{m}/{year}"),
        _ => month.to_string(),
    };
    format!("{} {month}", platform_name(channel))
}

async fn preview(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let rows = rows_from(&form).map_err(UiError::domain(who.lang))?;
    let rules = match rules_of(&who, rows.clone()) {
        Ok(rules) => rules,
        Err(marked) => return retention_page(&hafen, &who, &tenant, Some(marked)).await,
    };
    let report = match hafen
        .retention
        .preview(who.actor(), &tenant, rules.clone())
        .await
    {
        Ok(report) => report,
        Err(e) => match mark_refused_row(&who, rows, &e) {
            Some(marked) => return retention_page(&hafen, &who, &tenant, Some(marked)).await,
            None => return Err(UiError::Domain(e, who.lang)),
        },
    };
    let t = |x: Text| who.t(x);
    let rules_json = serde_json::to_string(&rules).unwrap_or_default();
    let content = html! {
        h1 { (t(Text::Preview)) " · " (name) }
        (rules_table(&who, &report.effective_rules))
        div.cards #preview {
            (forecast(&who, Text::DueNow, &report.now))
            (forecast(&who, Text::Next30Days, &report.next_30_days))
        }
        p { (t(Text::ShareOfMessages)) ": " strong { (crate::i18n::percent(report.share_of_messages * 100.0, who.lang)) } }
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

/// A retention run on demand, in two clicks: the first lists what is due now (a dry run that
/// changes nothing), the second deletes exactly under the rules in force and shows the
/// certificate.
async fn run_now(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, name) = who.tenant(&path)?;
    let confirmed = form.get("confirm") == "yes";
    let report = hafen
        .retention
        .run(who.actor(), Some(&tenant), !confirmed)
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let run = report.tenants.first();
    let base = format!("/ui/t/{}/retention", tenant.as_str());
    let content = html! {
        h1 { (t(Text::RunSection)) " · " (name) }
        @if !confirmed {
            @match run.and_then(|r| r.forecast.as_ref()) {
                Some(f) if f.total > 0 => {
                    div.cards #due { (forecast(&who, Text::DueNow, f)) }
                    p { (t(Text::RunConfirmHint)) }
                    form method="post" action={ (base) "/run" } {
                        (csrf(&who))
                        input type="hidden" name="confirm" value="yes";
                        button.danger type="submit" { (t(Text::RunNow)) }
                        " "
                        a href=(base) { (t(Text::Cancel)) }
                    }
                },
                _ => { p #due role="status" { (t(Text::NothingDue)) } p { a href=(base) { (t(Text::Back)) } } },
            }
        } @else if !report.ran {
            p.warn role="status" { (t(Text::RunBusy)) }
        } @else {
            @if let Some(c) = run.and_then(|r| r.certificate.as_ref()) {
                p.ok role="status" { (t(Text::RunDone)) }
                table {
                    thead { tr { th { (t(Text::Data)) } th { (t(Text::Deleted)) } } }
                    tbody {
                        @for (k, n) in &c.counts {
                            tr { td { (category_of(k).map_or_else(|| k.clone(), |c| c.label(who.lang))) } td { (n) } }
                        }
                    }
                }
                p { (t(Text::Certificate)) " " code { (c.id) } " · " a href={ "/ui/t/" (tenant.as_str()) "/certificates" } { (t(Text::Certificates)) } }
            }
        }
    };
    Ok(layout(
        &who,
        Area::Retention,
        Some(&tenant),
        t(Text::RunSection),
        content,
    ))
}

async fn activate(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&path)?;
    let e = UiError::domain(who.lang);
    let rules: Vec<RuleInput> = serde_json::from_str(form.get("rules")).map_err(|_| {
        e(Error::invalid(
            "rules",
            "the previewed rules did not come back intact",
        ))
    })?;
    hafen
        .retention
        .propose(who.actor(), &tenant, rules, form.get("preview_id"))
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/retention", tenant.as_str())))
}

async fn decide(
    hafen: web::Data<Hafen>,
    Posted { who, .. }: Posted,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (t, v, decision) = path.into_inner();
    let (tenant, _) = who.tenant(&t)?;
    let e = UiError::domain(who.lang);
    let version: i32 = v.parse().map_err(|_| e(Error::NotFound))?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(e(Error::NotFound)),
    };
    hafen
        .retention
        .decide(who.actor(), &tenant, version, approve)
        .await
        .map_err(&e)?;
    Ok(see_other(&format!("/ui/t/{}/retention", tenant.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_a_number_and_a_unit_and_back() {
        assert_eq!(amount_and_unit("P6Y"), Some((6, "years")));
        assert_eq!(amount_and_unit("P1Y6M"), Some((18, "months")));
        assert_eq!(amount_and_unit("P14D"), Some((2, "weeks")));
        assert_eq!(amount_and_unit("P90D"), Some((90, "days")));
        assert_eq!(amount_and_unit("PT48H"), Some((48, "hours")));
        assert_eq!(amount_and_unit("keep"), Some((0, "keep")));
        assert_eq!(amount_and_unit("P1Y10D"), None);
        assert_eq!(iso_period("6", "years"), Ok("P6Y".into()));
        assert_eq!(iso_period(" 2 ", "weeks"), Ok("P14D".into()));
        assert_eq!(iso_period("48", "hours"), Ok("PT48H".into()));
        assert_eq!(iso_period("", "keep"), Ok("keep".into()));
        for bad in ["6 Jahre", "0", "-1", "", "1.5", "100000"] {
            assert_eq!(iso_period(bad, "years"), Err(()), "{bad}");
        }
        for iso in ["P6Y", "P18M", "P14D", "P90D", "PT48H"] {
            let (n, unit) = amount_and_unit(iso).unwrap();
            let back = iso_period(&n.to_string(), unit).unwrap();
            assert_eq!(
                Period::parse("p", &back).unwrap().approximate(),
                Period::parse("p", iso).unwrap().approximate(),
                "{iso}"
            );
        }
    }
}
