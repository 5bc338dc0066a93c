//! The rule editor: rules as rows of a form (category, channel, start, period, ground), read
//! back into a rule set, refused rows marked, and the words that explain each choice.

use super::*;

/// Rows the editor accepts; a rule set has one rule per category and channel, so far fewer.
pub(super) const MAX_RULE_ROWS: usize = 100;

/// Empty rows offered below the rules, for new ones.
pub(super) const NEW_ROWS: usize = 3;

/// The grounds of the rule editor, in the order offered (the first is the default).
pub(super) const GROUNDS: [(&str, Text); 4] = [
    ("none", Text::GroundNone),
    ("statutory", Text::GroundStatutory),
    ("contractual_or_bylaw", Text::GroundContractual),
    ("legal_claims", Text::GroundLegalClaims),
];

/// The units of a period, as the editor offers them: (value, word, ISO 8601 designator).
pub(super) const UNITS: [(&str, Text); 6] = [
    ("years", Text::UnitYears),
    ("months", Text::UnitMonths),
    ("weeks", Text::UnitWeeks),
    ("days", Text::UnitDays),
    ("hours", Text::UnitHours),
    ("keep", Text::UnitKeep),
];

pub(super) fn category_explained(c: Category) -> Text {
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

pub(super) fn start_word(s: StartPoint) -> Text {
    match s {
        StartPoint::Collection => Text::StartCollection,
        StartPoint::ConversationEnd => Text::StartConversationEnd,
        StartPoint::RelationshipEnd => Text::StartRelationshipEnd,
        StartPoint::ConsentWithdrawal => Text::StartConsentWithdrawal,
    }
}

pub(super) fn start_explained(s: StartPoint) -> Text {
    match s {
        StartPoint::Collection => Text::ExplainCollection,
        StartPoint::ConversationEnd => Text::ExplainConversationEnd,
        StartPoint::RelationshipEnd => Text::ExplainRelationshipEnd,
        StartPoint::ConsentWithdrawal => Text::ExplainConsentWithdrawal,
    }
}

pub(super) fn category_of(s: &str) -> Option<Category> {
    Category::ALL.into_iter().find(|c| c.as_str() == s)
}

pub(super) fn start_of(s: &str) -> Option<StartPoint> {
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
pub(super) struct Row {
    pub(super) category: String,
    pub(super) channel: String,
    pub(super) class: String,
    pub(super) start: String,
    pub(super) end_of_year: bool,
    pub(super) amount: String,
    pub(super) unit: String,
    pub(super) legal_basis: String,
    pub(super) ground: String,
    pub(super) norm: String,
    pub(super) error: Option<String>,
}

impl Row {
    pub(super) fn from_rule(r: &RuleInput) -> Self {
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

    pub(super) fn is_empty(&self) -> bool {
        self.category.is_empty()
    }

    /// The rule this row says, or what is wrong with it in the page's language.
    pub(super) fn rule(&self, who: &SignedIn) -> Result<RuleInput, String> {
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
pub(super) fn rows_from(form: &Form) -> Result<Vec<Row>, Error> {
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
pub(super) fn rules_of(who: &SignedIn, mut rows: Vec<Row>) -> Result<Vec<RuleInput>, Vec<Row>> {
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
pub(super) fn mark_refused_row(
    who: &SignedIn,
    mut rows: Vec<Row>,
    error: &Error,
) -> Option<Vec<Row>> {
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

pub(super) fn select<'a>(
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

pub(super) fn editor_row(who: &SignedIn, i: usize, row: &Row) -> Markup {
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
pub(super) fn rules_table(who: &SignedIn, rules: &[RuleInput]) -> Markup {
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
pub(super) fn explanations(who: &SignedIn) -> Markup {
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
