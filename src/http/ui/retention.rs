//! Retention rules in words: the rules in force ("6 Jahre ab Ende des Kalenderjahres der
//! Erhebung"), an editor whose period is a number and a unit and whose categories and start
//! points are named and explained, the dry-run preview, activation and the second person's
//! approval. A refused row comes back as typed, with what is wrong beside it.

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

/// Rows the editor accepts; a rule set has one rule per category and channel, so far fewer.
const MAX_RULE_ROWS: usize = 100;
/// Empty rows offered below the rules, for new ones.
const NEW_ROWS: usize = 3;

/// The grounds of the rule editor, in the order offered (the first is the default).
const GROUNDS: [(&str, Text); 4] = [
    ("none", Text::GroundNone),
    ("statutory", Text::GroundStatutory),
    ("contractual_or_bylaw", Text::GroundContractual),
    ("legal_claims", Text::GroundLegalClaims),
];

/// The units of a period, as the editor offers them: (value, word, ISO 8601 designator).
const UNITS: [(&str, Text); 6] = [
    ("years", Text::UnitYears),
    ("months", Text::UnitMonths),
    ("weeks", Text::UnitWeeks),
    ("days", Text::UnitDays),
    ("hours", Text::UnitHours),
    ("keep", Text::UnitKeep),
];

fn category_explained(c: Category) -> Text {
    match c {
        Category::Contacts => Text::ExplainContacts,
        Category::MessageContent => Text::ExplainMessageContent,
        Category::Attachments => Text::ExplainAttachments,
        Category::MessageMetadata => Text::ExplainMessageMetadata,
        Category::DeliveryStatuses => Text::ExplainDeliveryStatuses,
        Category::WebhookLogs => Text::ExplainWebhookLogs,
        Category::ConsentRequests => Text::ExplainConsentRequests,
        Category::ConsentProofs => Text::ExplainConsentProofs,
    }
}

fn start_word(s: StartPoint) -> Text {
    match s {
        StartPoint::Collection => Text::StartCollection,
        StartPoint::ConversationEnd => Text::StartConversationEnd,
        StartPoint::RelationshipEnd => Text::StartRelationshipEnd,
        StartPoint::ConsentWithdrawal => Text::StartConsentWithdrawal,
    }
}

fn start_explained(s: StartPoint) -> Text {
    match s {
        StartPoint::Collection => Text::ExplainCollection,
        StartPoint::ConversationEnd => Text::ExplainConversationEnd,
        StartPoint::RelationshipEnd => Text::ExplainRelationshipEnd,
        StartPoint::ConsentWithdrawal => Text::ExplainConsentWithdrawal,
    }
}

fn category_of(s: &str) -> Option<Category> {
    Category::ALL.into_iter().find(|c| c.as_str() == s)
}

fn start_of(s: &str) -> Option<StartPoint> {
    StartPoint::ALL.into_iter().find(|p| p.as_str() == s)
}

/// A period as the editor shows it: a number and a unit. Mixed periods become the smallest
/// unit that holds them exactly (P1Y6M: 18 months); None only for mixes no unit holds
/// (a year and ten days), which stay in ISO form.
pub fn amount_and_unit(period: &str) -> Option<(u32, &'static str)> {
    if period == "keep" {
        return Some((0, "keep"));
    }
    let p = Period::parse("period", period).ok()?;
    match (p.years, p.months, p.days, p.hours) {
        (y, 0, 0, 0) if y > 0 => Some((y, "years")),
        (y, m, 0, 0) if m > 0 => Some((y * 12 + m, "months")),
        (0, 0, d, 0) if d > 0 && d % 7 == 0 => Some((d / 7, "weeks")),
        (0, 0, d, 0) if d > 0 => Some((d, "days")),
        (0, 0, d, h) if h > 0 => Some((d * 24 + h, "hours")),
        _ => None,
    }
}

/// The ISO 8601 period for a number and a unit; Err(()) when the number is not a whole
/// number from 1 (the caller words the message).
pub fn iso_period(amount: &str, unit: &str) -> Result<String, ()> {
    if unit == "keep" {
        return Ok("keep".into());
    }
    let n: u32 = amount.trim().parse().map_err(|_| ())?;
    if n == 0 || n > 99_999 {
        return Err(());
    }
    Ok(match unit {
        "years" => format!("P{n}Y"),
        "months" => format!("P{n}M"),
        "weeks" => format!("P{}D", n * 7),
        "hours" => format!("PT{n}H"),
        _ => format!("P{n}D"),
    })
}

/// One row of the editor as typed, with what is wrong with it.
#[derive(Debug, Default, Clone)]
struct Row {
    category: String,
    channel: String,
    class: String,
    start: String,
    end_of_year: bool,
    amount: String,
    unit: String,
    legal_basis: String,
    ground: String,
    norm: String,
    error: Option<String>,
}

impl Row {
    fn from_rule(r: &RuleInput) -> Self {
        let (amount, unit) = match amount_and_unit(&r.period) {
            Some((_, "keep")) => (String::new(), "keep".to_string()),
            Some((n, unit)) => (n.to_string(), unit.to_string()),
            // A mix no single unit holds: in days, which is exact enough to read and edit.
            None => (
                Period::parse("period", &r.period)
                    .map(|p| p.approximate().num_days().to_string())
                    .unwrap_or_default(),
                "days".into(),
            ),
        };
        Self {
            category: r.category.clone(),
            channel: r.channel.clone().unwrap_or_default(),
            class: r.class.clone().unwrap_or_default(),
            start: r.start.clone(),
            end_of_year: r.end_of_year,
            amount,
            unit,
            legal_basis: r.legal_basis.clone(),
            ground: r.ground.clone().unwrap_or_default(),
            norm: r.norm.clone().unwrap_or_default(),
            error: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.category.is_empty()
    }

    /// The rule this row says, or what is wrong with it in the page's language.
    fn rule(&self, who: &SignedIn) -> Result<RuleInput, String> {
        let t = |x: Text| who.t(x).to_string();
        let category = category_of(&self.category).ok_or_else(|| t(Text::Required))?;
        let start = start_of(&self.start).ok_or_else(|| t(Text::Required))?;
        if !category.start_points().contains(&start) {
            let allowed: Vec<&str> = category
                .start_points()
                .iter()
                .map(|s| who.t(start_word(*s)))
                .collect();
            return Err(format!(
                "{} {}",
                t(Text::StartNotAllowed),
                allowed.join(", ")
            ));
        }
        if !self.channel.is_empty() && !category.has_channel() {
            return Err(t(Text::ChannelNotAllowed));
        }
        if !self.class.is_empty() && !category.has_class() {
            return Err(t(Text::ClassNotAllowed));
        }
        let period = iso_period(&self.amount, &self.unit).map_err(|()| t(Text::NotAWholeNumber))?;
        if self.legal_basis.trim().is_empty() {
            return Err(format!("{}: {}", t(Text::LegalBasis), t(Text::Required)));
        }
        let needs_norm = Ground::ALL
            .into_iter()
            .find(|g| g.as_str() == self.ground)
            .is_some_and(Ground::needs_norm);
        if needs_norm && self.norm.trim().is_empty() {
            return Err(t(Text::NormRequired));
        }
        Ok(RuleInput {
            category: self.category.clone(),
            channel: Some(self.channel.clone()).filter(|c| !c.is_empty()),
            start: self.start.clone(),
            end_of_year: self.end_of_year,
            period,
            legal_basis: self.legal_basis.trim().to_string(),
            deletion_class: None,
            class: Some(self.class.clone()).filter(|c| !c.is_empty()),
            ground: Some(self.ground.clone()).filter(|g| !g.is_empty()),
            norm: Some(self.norm.trim().to_string()).filter(|n| !n.is_empty()),
            statutory: false,
        })
    }
}

/// The editor's rows as posted (every row, empty ones too, so a refused form comes back whole).
fn rows_from(form: &Form) -> Result<Vec<Row>, Error> {
    let cats = form.all("r_category");
    if cats.len() > MAX_RULE_ROWS {
        return Err(Error::invalid(
            "rules",
            format!("at most {MAX_RULE_ROWS} rows"),
        ));
    }
    let column = |name: &str| form.all(name);
    let (classes, channels, starts, years, amounts, units, bases, grounds, norms) = (
        column("r_class"),
        column("r_channel"),
        column("r_start"),
        column("r_end_of_year"),
        column("r_amount"),
        column("r_unit"),
        column("r_legal_basis"),
        column("r_ground"),
        column("r_norm"),
    );
    let at = |values: &[&str], i: usize| values.get(i).copied().unwrap_or("").to_string();
    Ok(cats
        .iter()
        .enumerate()
        .map(|(i, c)| Row {
            category: c.to_string(),
            channel: at(&channels, i),
            class: at(&classes, i),
            start: at(&starts, i),
            end_of_year: at(&years, i) == "1",
            amount: at(&amounts, i),
            unit: at(&units, i),
            legal_basis: at(&bases, i),
            ground: at(&grounds, i),
            norm: at(&norms, i),
            error: None,
        })
        .collect())
}

/// The rules of the filled rows, or the rows with what is wrong marked on each.
fn rules_of(who: &SignedIn, mut rows: Vec<Row>) -> Result<Vec<RuleInput>, Vec<Row>> {
    let mut rules = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut wrong = false;
    for row in rows.iter_mut().filter(|r| !r.is_empty()) {
        match row.rule(who) {
            Ok(rule) => {
                let key = (
                    rule.category.clone(),
                    rule.channel.clone(),
                    rule.class.clone(),
                );
                if seen.insert(key) {
                    rules.push(rule);
                } else {
                    row.error = Some(who.t(Text::RowRepeats).to_string());
                    wrong = true;
                }
            }
            Err(why) => {
                row.error = Some(why);
                wrong = true;
            }
        }
    }
    if wrong {
        Err(rows)
    } else {
        Ok(rules)
    }
}

/// Marks the row behind the domain's `rules[i]…` error (the i-th filled row) with its reason.
fn mark_refused_row(who: &SignedIn, mut rows: Vec<Row>, error: &Error) -> Option<Vec<Row>> {
    let Error::Invalid { field, reason } = error else {
        return None;
    };
    let index: usize = field
        .strip_prefix("rules[")?
        .split(']')
        .next()?
        .parse()
        .ok()?;
    let row = rows.iter_mut().filter(|r| !r.is_empty()).nth(index)?;
    row.error = Some(format!(
        "{} {} {reason}",
        who.t(Text::RowRefused),
        who.t(Text::TechnicalDetail)
    ));
    Some(rows)
}

fn select<'a>(
    (id, name, label): (&str, &str, &str),
    current: &str,
    options: impl IntoIterator<Item = (&'a str, String)>,
) -> Markup {
    html! {
        label.sr for=(id) { (label) }
        select id=(id) name=(name) {
            @for (value, words) in options {
                option value=(value) selected[current == value] { (words) }
            }
        }
    }
}

fn editor_row(who: &SignedIn, i: usize, row: &Row) -> Markup {
    let t = |x: Text| who.t(x);
    let lang = who.lang;
    let id = |f: &str| format!("r{i}-{f}");
    let error_id = id("error");
    let categories = std::iter::once(("", "—".to_string())).chain(
        Category::ALL
            .into_iter()
            .map(|c| (c.as_str(), c.label(lang))),
    );
    let channels = std::iter::once(("", t(Text::AllChannels).to_string())).chain(
        crate::channels::Platform::ALL
            .into_iter()
            .map(|p| (p.as_str(), platform_name(p.as_str()).to_string())),
    );
    let classes = [
        ("", t(Text::ClassOther).to_string()),
        ("business_letter", t(Text::ClassLetters).to_string()),
    ];
    let starts = StartPoint::ALL
        .into_iter()
        .map(|s| (s.as_str(), t(start_word(s)).to_string()));
    let years = [
        ("0", t(Text::No).to_string()),
        ("1", t(Text::Yes).to_string()),
    ];
    let units = UNITS.into_iter().map(|(u, w)| (u, t(w).to_string()));
    let grounds = GROUNDS.into_iter().map(|(g, w)| (g, t(w).to_string()));
    html! {
        tr.rule-row.wrong[row.error.is_some()] aria-describedby=[row.error.as_ref().map(|_| &error_id)] {
            td { (select((&id("cat"), "r_category", t(Text::Data)), &row.category, categories)) }
            td { (select((&id("ch"), "r_channel", t(Text::ChannelCol)), &row.channel, channels)) }
            td { (select((&id("class"), "r_class", t(Text::MessageClass)), &row.class, classes)) }
            td { (select((&id("start"), "r_start", t(Text::Start)), &row.start, starts)) }
            td { (select((&id("eoy"), "r_end_of_year", t(Text::EndOfYear)), if row.end_of_year { "1" } else { "0" }, years)) }
            td.period {
                label.sr for=(id("amount")) { (t(Text::Amount)) }
                input id=(id("amount")) type="text" inputmode="numeric" name="r_amount" size="4" value=(row.amount)
                    aria-invalid=[row.error.as_ref().map(|_| "true")];
                (select((&id("unit"), "r_unit", t(Text::Unit)), &row.unit, units))
            }
            td {
                label.sr for=(id("basis")) { (t(Text::LegalBasis)) }
                input id=(id("basis")) type="text" name="r_legal_basis" value=(row.legal_basis);
            }
            td { (select((&id("ground"), "r_ground", t(Text::Ground)), &row.ground, grounds)) }
            td {
                label.sr for=(id("norm")) { (t(Text::Norm)) }
                input id=(id("norm")) type="text" name="r_norm" value=(row.norm);
            }
        }
        @if let Some(error) = &row.error {
            tr.row-error { td colspan="9" { p.field-error id=(error_id) role="alert" { (error) } } }
        }
    }
}

/// Rules for reading: what data, which channel, how long from when, on what basis.
fn rules_table(who: &SignedIn, rules: &[RuleInput]) -> Markup {
    let t = |x: Text| who.t(x);
    let lang = who.lang;
    html! {
        table.rules {
            thead { tr { th { (t(Text::Data)) } th { (t(Text::ChannelCol)) } th { (t(Text::KeptFor)) } th { (t(Text::LegalBasis)) } } }
            tbody {
                @for input in rules {
                    @match RuleSet::parse(std::slice::from_ref(input)).ok().and_then(|s| s.rules.into_iter().next()) {
                        Some(rule) => tr {
                            td { (rule.category.label(lang)) @if rule.category.has_class() { (class_label(rule.business_letters, lang)) } }
                            td { (rule.channel.as_ref().map_or(t(Text::AllChannels), |c| platform_name(c.as_str()))) }
                            td { (describe_rule(&rule, lang).trim_end_matches(&format!(" ({})", rule.legal_basis)).to_string()) }
                            // The basis is what the rule's author wrote, in their language.
                            td { span.typed { (rule.legal_basis) } @if let Some(norm) = &rule.norm { br; small { (norm) } } }
                        },
                        // Stored before a rule of this shape was refused: shown as stored.
                        None => tr { td { (input.category) } td { (input.channel.as_deref().unwrap_or("")) } td { (input.period) } td { (input.legal_basis) } },
                    }
                }
            }
        }
    }
}

/// One line per category and start point: what the editor's words mean.
fn explanations(who: &SignedIn) -> Markup {
    let t = |x: Text| who.t(x);
    html! {
        details.explain open {
            summary { (t(Text::WhatTheFieldsMean)) }
            h3 { (t(Text::Data)) }
            dl {
                @for c in Category::ALL { dt { (c.label(who.lang)) } dd { (t(category_explained(c))) } }
            }
            h3 { (t(Text::Start)) }
            dl {
                @for s in StartPoint::ALL { dt { (t(start_word(s))) } dd { (t(start_explained(s))) } }
                dt { (t(Text::EndOfYear)) } dd { (t(Text::ExplainEndOfYear)) }
            }
        }
    }
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
        }
    }
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
