//! The data-processing agreement's annexes (Art. 28(3) GDPR): its terms and the sub-processors
//! with their changes.

use super::*;

/// The terms of the processing agreement (Art. 28(3) GDPR) as the controller entered them.
pub(super) fn avv_fields(
    s: Section,
    controller: Option<&crate::register::Controller>,
    lang: Lang,
) -> Section {
    let avv = controller.map(|c| &c.avv);
    let text = |v: Option<&String>| or_missing(v.map(String::as_str), lang);
    let list = |v: Option<&Vec<String>>| match v {
        Some(l) if !l.is_empty() => join(l),
        _ => missing(lang),
    };
    s.field(
        "avv_subject_matter",
        lang.pick(
            "Gegenstand der Verarbeitung",
            "Subject matter of the processing",
        ),
        text(avv.map(|a| &a.subject_matter)),
    )
    .field(
        "avv_duration",
        lang.pick("Dauer der Verarbeitung", "Duration of the processing"),
        text(avv.map(|a| &a.duration)),
    )
    .field(
        "avv_nature_and_purpose",
        lang.pick(
            "Art und Zweck der Verarbeitung",
            "Nature and purpose of the processing",
        ),
        text(avv.map(|a| &a.nature_and_purpose)),
    )
    .field(
        "avv_data_types",
        lang.pick("Art der personenbezogenen Daten", "Type of personal data"),
        list(avv.map(|a| &a.data_types)),
    )
    .field(
        "avv_data_subject_categories",
        lang.pick(
            "Kategorien betroffener Personen",
            "Categories of data subjects",
        ),
        list(avv.map(|a| &a.data_subject_categories)),
    )
    .field(
        "avv_instruction_channel",
        lang.pick(
            "Weisungen des Verantwortlichen über",
            "Instructions from the controller through",
        ),
        text(avv.map(|a| &a.instruction_channel)),
    )
}

/// Whether the controller confirmed a sub-processor entry: a pre-filled one is a fact about the
/// data flow, listed in every record, but marked until the register names the date it was
/// authorised.
pub(super) fn confirmation(s: &SubProcessorRecord, lang: Lang) -> String {
    match (s.pre_filled, s.entry.authorised_on) {
        (false, Some(d)) => lang.pick(
            &format!(
                "im Register bestätigt, genehmigt am {}",
                crate::i18n::date(d, lang)
            ),
            &format!(
                "confirmed in the register, authorised on {}",
                crate::i18n::date(d, lang)
            ),
        ),
        (false, None) => lang.pick(
            "im Register erfasst, Genehmigungsdatum fehlt",
            "entered in the register, date of authorisation missing",
        ),
        (true, _) => lang.pick(
            "NICHT BESTÄTIGT: vorausgefüllt aus der genutzten Plattform – im Register mit Genehmigungsdatum zu bestätigen",
            "NOT CONFIRMED: pre-filled from the platform in use – to be confirmed in the register with the date of authorisation",
        ),
    }
}

pub(super) fn subprocessors_table(list: &[SubProcessorRecord], lang: Lang) -> Table {
    let mut t = Table::new(
        "subprocessors",
        lang.pick("Unterauftragsverarbeiter", "Sub-processors"),
        vec![
            ("name", lang.pick("Name", "Name")),
            ("address", lang.pick("Anschrift", "Address")),
            ("country", lang.pick("Land", "Country")),
            ("service", lang.pick("Leistung", "Service")),
            (
                "data_categories",
                lang.pick("Datenkategorien", "Data categories"),
            ),
            (
                "third_countries",
                lang.pick("Drittländer", "Third countries"),
            ),
            (
                "transfer_mechanism",
                lang.pick("Übermittlungsgrundlage", "Transfer mechanism"),
            ),
            ("authorised_on", lang.pick("Genehmigt am", "Authorised on")),
            ("listed_since", lang.pick("Gelistet seit", "Listed since")),
            ("status", lang.pick("Status", "Status")),
        ],
    )
    .typed(&["authorised_on", "listed_since"], ValueType::Date);
    for s in list {
        t.row(vec![
            s.entry.name.clone(),
            s.entry.address.clone(),
            s.entry.country.clone(),
            s.entry.service.clone(),
            join(&s.entry.data_categories),
            if s.entry.third_countries.is_empty() {
                lang.pick("keine", "none")
            } else {
                s.entry.third_countries.join(", ")
            },
            s.entry
                .transfer_mechanism
                .clone()
                .unwrap_or_else(|| lang.pick("nicht erforderlich (EU/EWR)", "not needed (EU/EEA)")),
            s.entry
                .authorised_on
                .map(iso_date)
                .unwrap_or_else(|| missing(lang)),
            local_day(s.listed_since),
            confirmation(s, lang),
        ]);
    }
    t
}

/// What changed between consecutive versions of the sub-processor list (oldest first).
pub(super) fn subprocessor_changes(history: &[EntryView], lang: Lang) -> Table {
    let mut t = Table::new(
        "changes",
        lang.pick(
            "Änderungen der Liste (Einspruchsrecht des Verantwortlichen, Art. 28 Abs. 2 Satz 2)",
            "Changes to the list (the controller's right to object, Art. 28(2))",
        ),
        vec![
            ("version", lang.pick("Registerversion", "Register version")),
            ("date", lang.pick("Datum", "Date")),
            ("by", lang.pick("Geändert von", "Changed by")),
            ("change", lang.pick("Änderung", "Change")),
        ],
    )
    .typed(&["version"], ValueType::Integer)
    .typed(&["date"], ValueType::DateTime)
    .sheet(lang.pick("Änderungen der Liste", "Changes to the list"));
    let mut previous: BTreeMap<String, SubProcessor> = BTreeMap::new();
    for v in history.iter().rev() {
        let Some(Document::Subprocessors(list)) = &v.parsed else {
            continue;
        };
        let now: BTreeMap<String, SubProcessor> =
            list.iter().map(|s| (s.key.clone(), s.clone())).collect();
        let mut changes = Vec::new();
        for (k, s) in &now {
            match previous.get(k) {
                None => changes.push(lang.pick(
                    &format!("hinzugefügt: {}", s.name),
                    &format!("added: {}", s.name),
                )),
                Some(old) if old != s => changes.push(lang.pick(
                    &format!("geändert: {}", s.name),
                    &format!("changed: {}", s.name),
                )),
                _ => {}
            }
        }
        for (k, s) in &previous {
            if !now.contains_key(k) {
                changes.push(lang.pick(
                    &format!("entfernt: {}", s.name),
                    &format!("removed: {}", s.name),
                ));
            }
        }
        t.row(vec![
            v.version.to_string(),
            iso_moment(v.created_at),
            v.created_by.clone(),
            if changes.is_empty() {
                lang.pick("keine inhaltliche Änderung", "no change in content")
            } else {
                changes.join("; ")
            },
        ]);
        previous = now;
    }
    t
}

/// The effective list: the register's entries, plus pre-filled ones for platforms in use that
/// the register does not list yet.
pub(super) fn effective_subprocessors(
    facts: &TenantFacts,
    history: &[EntryView],
    lang: Lang,
) -> Vec<SubProcessorRecord> {
    let current: Vec<SubProcessor> = match history.first().and_then(|v| v.parsed.as_ref()) {
        Some(Document::Subprocessors(list)) => list.clone(),
        _ => Vec::new(),
    };
    let listed_since = |key: &str| -> Option<DateTime<Utc>> {
        let mut since = None;
        for v in history {
            match &v.parsed {
                Some(Document::Subprocessors(list)) if list.iter().any(|s| s.key == key) => {
                    since = Some(v.created_at)
                }
                _ => break,
            }
        }
        since
    };
    let mut out: Vec<SubProcessorRecord> = current
        .iter()
        .map(|s| SubProcessorRecord {
            listed_since: listed_since(&s.key),
            entry: s.clone(),
            pre_filled: false,
        })
        .collect();
    for p in facts.platforms() {
        let pre = live::platform_subprocessor(p, lang);
        if !out.iter().any(|s| s.entry.key == pre.key) {
            out.push(SubProcessorRecord {
                entry: pre,
                pre_filled: true,
                listed_since: None,
            });
        }
    }
    out
}

/// The AVV annex of its own: the parties, the terms entered for Art. 28(3), what Hafen does
/// for the controller, and where the other annexes are.
pub(super) fn avv_sections(inputs: &Inputs, ti: &TenantInputs) -> Vec<Section> {
    let lang = inputs.lang;
    let controller = party_fields(
        Section::new(
            "controller",
            lang.pick("Verantwortlicher (Auftraggeber)", "Controller"),
        ),
        ti.controller.as_ref().map(|c| &c.party),
        lang,
    );
    let processor = party_fields(
        Section::new(
            "processor",
            lang.pick("Auftragsverarbeiter (Auftragnehmer)", "Processor"),
        ),
        inputs.processor.as_ref(),
        lang,
    );
    let terms = avv_fields(
        Section::new(
            "terms",
            lang.pick("Gegenstand und Bedingungen", "Subject matter and terms"),
        )
        .typed(
            "avv_date",
            lang.pick("AV-Vertrag vom", "AVV dated"),
            ti.controller
                .as_ref()
                .map(|c| iso_date(c.avv.date))
                .unwrap_or_else(|| missing(lang)),
            ValueType::Date,
        ),
        ti.controller.as_ref(),
        lang,
    );
    let activities: Vec<ActivityRecord> = live::activities(&ti.facts, &ti.activities, lang)
        .into_iter()
        .filter(|a| a.generated)
        .collect();
    let processing = Section::new(
        "processing",
        lang.pick(
            "Verarbeitungen im Auftrag (wie eingerichtet)",
            "Processing on behalf (as set up)",
        ),
    )
    .table(categories_table(&activities, lang))
    .note(lang.pick(
        "Weitere Anlagen zum AV-Vertrag, jeweils als eigener Bericht: technische und organisatorische Maßnahmen (toms), Unterauftragsverarbeiter (subprocessors), Lösch- und Aufbewahrungskonzept (deletion-concept).",
        "Further AVV annexes, each a report of its own: technical and organisational measures (toms), sub-processors (subprocessors), retention and deletion concept (deletion-concept).",
    ));
    vec![controller, processor, terms, processing]
}

pub(super) fn subprocessor_sections(ti: &TenantInputs, lang: Lang) -> Vec<Section> {
    let mut s = Section::new(
        "subprocessors",
        lang.pick("Unterauftragsverarbeiter", "Sub-processors"),
    )
    .field(
        "controller",
        lang.pick("Verantwortlicher", "Controller"),
        ti.facts.name.clone(),
    )
    .table(subprocessors_table(&ti.subprocessors, lang))
    .table(subprocessor_changes(&ti.subprocessor_history, lang));
    if ti.subprocessors.iter().any(|s| s.pre_filled) {
        s = s.note(lang.pick(
            "Vorausgefüllte Einträge stammen aus den genutzten Plattformen; sie gelten erst als genehmigt, wenn sie im Register mit Genehmigungsdatum erfasst sind.",
            "Pre-filled entries come from the platforms in use; they count as authorised only once entered in the register with the date of authorisation.",
        ));
    }
    vec![s]
}
