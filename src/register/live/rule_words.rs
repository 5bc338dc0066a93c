//! The retention rules in words, for the records and the pages: what a rule keeps, from when,
//! for how long, and the periods an erasure waits for.

use super::*;

/// Describes a rule for people: "6 Jahre ab Ende des Jahres der Erhebung (§ 257 HGB …)".
pub fn describe_rule(rule: &Rule, lang: Lang) -> String {
    let period = match rule.retain {
        Retain::Keep => return lang.pick("unbefristet aufbewahrt", "kept without limit"),
        Retain::For(p) => {
            let mut parts = Vec::new();
            let unit = |n: u32, de1: &str, den: &str, en1: &str, enn: &str| {
                if n == 1 {
                    format!("1 {}", lang.pick(de1, en1))
                } else {
                    format!("{n} {}", lang.pick(den, enn))
                }
            };
            if p.years > 0 {
                parts.push(unit(p.years, "Jahr", "Jahre", "year", "years"));
            }
            if p.months > 0 {
                parts.push(unit(p.months, "Monat", "Monate", "month", "months"));
            }
            if p.days > 0 {
                parts.push(unit(p.days, "Tag", "Tage", "day", "days"));
            }
            if p.hours > 0 {
                parts.push(unit(p.hours, "Stunde", "Stunden", "hour", "hours"));
            }
            parts.join(" ")
        }
    };
    let start = if rule.end_of_year {
        let of = start_genitive(rule.start, lang);
        lang.pick(
            &format!("ab Ende des Kalenderjahres {of}"),
            &format!("from the end of the calendar year of {of}"),
        )
    } else {
        let start = start_label(rule.start, lang);
        lang.pick(&format!("ab {start}"), &format!("from {start}"))
    };
    format!("{period} {start} ({})", rule.legal_basis)
}

/// The start point after "des Kalenderjahres …" (German genitive).
pub(super) fn start_genitive(s: StartPoint, lang: Lang) -> String {
    match s {
        StartPoint::Collection => lang.pick("der Erhebung", "collection"),
        StartPoint::ConversationEnd => lang.pick("der letzten Nachricht", "the last message"),
        StartPoint::RelationshipEnd => lang.pick(
            "des Endes der Geschäftsbeziehung",
            "the end of the relationship",
        ),
        StartPoint::ConsentWithdrawal => lang.pick("des Widerrufs", "withdrawal"),
    }
}

pub(super) fn start_label(s: StartPoint, lang: Lang) -> String {
    match s {
        StartPoint::Collection => lang.pick("der Erhebung", "collection"),
        StartPoint::ConversationEnd => lang.pick("der letzten Nachricht", "the last message"),
        StartPoint::RelationshipEnd => lang.pick(
            "dem Ende der Geschäftsbeziehung",
            "the end of the relationship",
        ),
        StartPoint::ConsentWithdrawal => lang.pick("dem Widerruf", "withdrawal"),
    }
}

/// " (Handels- und Geschäftsbriefe)" or " (übrige Nachrichten)": which messages a rule covers.
pub fn class_label(business_letters: bool, lang: Lang) -> String {
    if business_letters {
        lang.pick(" (Handels- und Geschäftsbriefe)", " (business letters)")
    } else {
        lang.pick(" (übrige Nachrichten)", " (other messages)")
    }
}

/// The rules in force for `categories`, channel rules for `channel` included, described.
pub fn erasure_periods(
    rules: &RuleSet,
    categories: &[Category],
    channel: Option<&str>,
    lang: Lang,
) -> Vec<String> {
    let mut out = Vec::new();
    for c in categories {
        for rule in rules.for_category(*c) {
            let applies = match (&rule.channel, channel) {
                (None, _) => true,
                (Some(rc), Some(ch)) => rc.as_str() == ch,
                (Some(_), None) => true,
            };
            if applies {
                let mut scope = rule
                    .channel
                    .as_ref()
                    .map(|c| format!(" [{}]", c.as_str()))
                    .unwrap_or_default();
                if c.has_class() {
                    scope.push_str(&class_label(rule.business_letters, lang));
                }
                out.push(format!(
                    "{}{scope}: {}",
                    c.label(lang),
                    describe_rule(rule, lang)
                ));
            }
        }
    }
    out
}
