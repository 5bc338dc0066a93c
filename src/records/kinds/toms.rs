//! The technical and organisational measures (Art. 32 GDPR): what Hafen enforces, what was
//! entered, and which controls nothing covers yet.

use super::*;

pub(super) fn control_label(c: Control, lang: Lang) -> String {
    match c {
        Control::Encryption => lang.pick(
            "Pseudonymisierung und Verschlüsselung (Art. 32 Abs. 1 lit. a)",
            "Pseudonymisation and encryption (Art. 32(1)(a))",
        ),
        Control::PhysicalAccess => lang.pick("Zutrittskontrolle", "Physical access control"),
        Control::SystemAccess => lang.pick("Zugangskontrolle", "System access control"),
        Control::DataAccess => lang.pick("Zugriffskontrolle", "Data access control"),
        Control::Transfer => lang.pick("Weitergabekontrolle", "Transfer control"),
        Control::Input => lang.pick("Eingabekontrolle", "Input control"),
        Control::Instructions => lang.pick("Auftragskontrolle", "Instruction control"),
        Control::Availability => lang.pick("Verfügbarkeitskontrolle", "Availability control"),
        Control::Separation => lang.pick("Trennungsgebot", "Separation control"),
        Control::Recovery => lang.pick(
            "Wiederherstellbarkeit (Art. 32 Abs. 1 lit. c)",
            "Restoring availability (Art. 32(1)(c))",
        ),
        Control::Evaluation => lang.pick(
            "Regelmäßige Überprüfung (Art. 32 Abs. 1 lit. d)",
            "Regular testing and evaluation (Art. 32(1)(d))",
        ),
        Control::Erasure => lang.pick(
            "Löschung und Speicherbegrenzung (Art. 5 Abs. 1 lit. e, Art. 17)",
            "Erasure and storage limitation (Art. 5(1)(e), Art. 17)",
        ),
    }
}

pub(super) fn measures_table(live: &[LiveMeasure], manual: &[Measure], lang: Lang) -> Table {
    let mut t = Table::new(
        "measures",
        lang.pick(
            "Technische und organisatorische Maßnahmen",
            "Technical and organisational measures",
        ),
        vec![
            ("control", lang.pick("Kontrollziel", "Control")),
            ("measure", lang.pick("Maßnahme", "Measure")),
            ("source", lang.pick("Quelle", "Source")),
            ("status", lang.pick("Status", "Status")),
            ("id", lang.pick("Kennung", "Id")),
        ],
    )
    .sheet(lang.pick("Maßnahmen (TOM)", "Measures (TOMs)"));
    for c in Control::ALL {
        for m in live.iter().filter(|m| m.control == c) {
            t.row(vec![
                control_label(c, lang),
                m.text.clone(),
                lang.pick(
                    "technisch, aus den Einstellungen des laufenden Servers",
                    "technical, from the running server's settings",
                ),
                if m.active {
                    lang.pick("aktiv", "active")
                } else {
                    lang.pick("NICHT AKTIV", "NOT ACTIVE")
                },
                m.id.to_string(),
            ]);
        }
        for m in manual.iter().filter(|m| m.control == c) {
            t.row(vec![
                control_label(c, lang),
                m.text.clone(),
                lang.pick(
                    "organisatorisch, erfasst im Register",
                    "organisational, from the register",
                ),
                lang.pick("laut Register", "as entered"),
                String::new(),
            ]);
        }
    }
    t
}

pub(super) fn uncovered_controls(
    live: &[LiveMeasure],
    manual: &[Measure],
    lang: Lang,
) -> Option<String> {
    let covered: BTreeSet<Control> = live
        .iter()
        .filter(|m| m.active)
        .map(|m| m.control)
        .chain(manual.iter().map(|m| m.control))
        .collect();
    let gaps: Vec<String> = Control::ALL
        .into_iter()
        .filter(|c| !covered.contains(c))
        .map(|c| control_label(c, lang))
        .collect();
    (!gaps.is_empty()).then(|| {
        lang.pick(
            &format!("Noch keine Maßnahme erfasst für: {}.", gaps.join(", ")),
            &format!("No measure entered yet for: {}.", gaps.join(", ")),
        )
    })
}

impl Records {
    pub(super) fn tom_sections(&self, inputs: &Inputs, ti: &TenantInputs) -> Vec<Section> {
        let lang = inputs.lang;
        let live = live::technical_measures(
            &inputs.posture.posture,
            &inputs.install,
            Some(&ti.facts),
            lang,
        );
        let mut s = Section::new(
            "toms",
            lang.pick(
                "Technische und organisatorische Maßnahmen",
                "Technical and organisational measures",
            ),
        )
        .field("controller", lang.pick("Verantwortlicher", "Controller"), ti.facts.name.clone())
        .field(
            "settings_source",
            lang.pick("Stand der technischen Maßnahmen", "Technical measures as of"),
            inputs.posture.source.clone(),
        )
        .table(measures_table(&live, &inputs.measures, lang))
        .note(lang.pick(
            "Technische Maßnahmen werden bei jeder Erstellung aus den Einstellungen des laufenden Servers ermittelt; eine abgeschaltete Maßnahme wird als „NICHT AKTIV“ aufgeführt.",
            "Technical measures are read from the running server's settings each time; a measure that is switched off is listed as \"NOT ACTIVE\".",
        ));
        if let Some(gaps) = uncovered_controls(&live, &inputs.measures, lang) {
            s = s.note(gaps);
        }
        vec![s]
    }
}
