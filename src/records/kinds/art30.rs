//! The records of processing (Art. 30 GDPR): the processor's own (Art. 30(2)) and each
//! controller's (Art. 30(1)), in the column order of the DSK template.

mod fields;
pub(crate) use fields::*;

use super::*;

/// The record of processing activities in the column order of the DSK template ("Muster
/// Verzeichnis von Verarbeitungstätigkeiten"), one row per activity; the PDF shows each
/// activity as a form of its own.
pub(super) fn activities_table(
    activities: &[ActivityRecord],
    dates: &BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    subprocessors: &[SubProcessorRecord],
    lang: Lang,
) -> Table {
    let mut t = Table::new(
        "activities",
        lang.pick("Verarbeitungstätigkeiten", "Processing activities"),
        vec![
            (
                "name",
                lang.pick(
                    "Bezeichnung der Verarbeitungstätigkeit",
                    "Name of the processing activity",
                ),
            ),
            ("created", lang.pick("Erfasst am", "Entered on")),
            (
                "changed",
                lang.pick("Zuletzt geändert am", "Last changed on"),
            ),
            (
                "review_status",
                lang.pick("Stand der Prüfung", "Review status"),
            ),
            (
                "reviewed_on",
                lang.pick("Zuletzt geprüft am", "Last reviewed on"),
            ),
            (
                "department",
                lang.pick("Verantwortliche Fachabteilung", "Responsible department"),
            ),
            (
                "contact_person",
                lang.pick("Ansprechpartner", "Contact person"),
            ),
            (
                "purposes",
                lang.pick("Zwecke der Verarbeitung", "Purposes of the processing"),
            ),
            ("legal_basis", lang.pick("Rechtsgrundlage", "Legal basis")),
            (
                "legitimate_interest_assessment",
                lang.pick(
                    "Interessenabwägung (bei Art. 6 Abs. 1 lit. f)",
                    "Legitimate-interest assessment (for Art. 6(1)(f))",
                ),
            ),
            (
                "data_subject_categories",
                lang.pick(
                    "Kategorien betroffener Personen",
                    "Categories of data subjects",
                ),
            ),
            (
                "data_categories",
                lang.pick(
                    "Kategorien personenbezogener Daten",
                    "Categories of personal data",
                ),
            ),
            (
                "special_categories",
                lang.pick(
                    "Besondere Kategorien (Art. 9, 10 DSGVO)",
                    "Special categories (Art. 9, 10 GDPR)",
                ),
            ),
            (
                "recipients",
                lang.pick("Kategorien von Empfängern", "Categories of recipients"),
            ),
            (
                "transfers",
                lang.pick(
                    "Übermittlungen in Drittländer und Garantien",
                    "Transfers to third countries and safeguards",
                ),
            ),
            (
                "erasure",
                lang.pick("Fristen für die Löschung", "Time limits for erasure"),
            ),
            (
                "toms",
                lang.pick(
                    "Technische und organisatorische Maßnahmen (Art. 32)",
                    "Technical and organisational measures (Art. 32)",
                ),
            ),
            (
                "joint_controllers",
                lang.pick(
                    "Gemeinsam Verantwortliche (Art. 26 DSGVO)",
                    "Joint controllers (Art. 26 GDPR)",
                ),
            ),
            (
                "profiling",
                lang.pick(
                    "Profiling, automatisierte Entscheidung (Art. 22)",
                    "Profiling, automated decisions (Art. 22)",
                ),
            ),
            (
                "dpia",
                lang.pick(
                    "Datenschutz-Folgenabschätzung (Art. 35)",
                    "Data protection impact assessment (Art. 35)",
                ),
            ),
            (
                "storage_location",
                lang.pick("Speicherort", "Storage location"),
            ),
            (
                "processor_contract",
                lang.pick(
                    "Auftragsverarbeitung (AV-Vertrag)",
                    "Processing agreement (Art. 28)",
                ),
            ),
            (
                "source",
                lang.pick("Quelle des Eintrags", "Source of the entry"),
            ),
        ],
    )
    .typed(&["created", "changed", "reviewed_on"], ValueType::Date)
    .one_record_per_row();
    let yes_no = |v: Option<bool>, yes: (&str, &str), no: (&str, &str)| match v {
        Some(true) => lang.pick(yes.0, yes.1),
        Some(false) => lang.pick(no.0, no.1),
        None => missing(lang),
    };
    let transfers: Vec<String> = subprocessors
        .iter()
        .filter(|s| !s.entry.third_countries.is_empty())
        .map(|s| {
            format!(
                "{}: {} ({})",
                s.entry.name,
                s.entry.third_countries.join(", "),
                or_missing(s.entry.transfer_mechanism.as_deref(), lang)
            )
        })
        .collect();
    for a in activities {
        let source = match (a.generated, a.completed_by_hand) {
            (true, false) => lang.pick("aus der Konfiguration", "from the configuration"),
            (true, true) => lang.pick(
                "aus der Konfiguration, ergänzt im Register",
                "from the configuration, completed in the register",
            ),
            _ => lang.pick("im Register erfasst", "entered in the register"),
        };
        let or = |v: &[String]| {
            if v.is_empty() {
                missing(lang)
            } else {
                join(v)
            }
        };
        let d = &a.details;
        let (created, changed) = dates
            .get(&a.key)
            .map(|(c, ch)| {
                (
                    iso_date(crate::i18n::local_date(*c)),
                    iso_date(crate::i18n::local_date(*ch)),
                )
            })
            .unwrap_or_else(|| {
                let from_config = lang.pick(
                    "laufend aus der Konfiguration",
                    "live from the configuration",
                );
                if a.generated {
                    (from_config.clone(), from_config)
                } else {
                    (missing(lang), missing(lang))
                }
            });
        let lia = match (
            &d.legitimate_interest_assessment,
            relies_on_legitimate_interest(&a.legal_basis),
        ) {
            (Some(r), _) => r.clone(),
            (None, true) => lang.pick(
                "— nicht erfasst — (erforderlich: Art. 6 Abs. 1 lit. f ist Rechtsgrundlage)",
                "— not entered — (needed: Art. 6(1)(f) is a legal basis)",
            ),
            (None, false) => lang.pick(
                "nicht erforderlich (keine Verarbeitung nach lit. f)",
                "not needed (no processing under (f))",
            ),
        };
        let activity_transfers = if a.generated {
            if transfers.is_empty() {
                lang.pick("keine", "none")
            } else {
                transfers.join("; ")
            }
        } else {
            lang.pick(
                "siehe Abschnitt „Übermittlungen in Drittländer“",
                "see the section \"Transfers to third countries\"",
            )
        };
        t.row(vec![
            a.name.clone(),
            created,
            changed,
            d.review_status.map(|r| r.label(lang)).unwrap_or_else(|| missing(lang)),
            d.reviewed_on.map(iso_date).unwrap_or_else(|| missing(lang)),
            or_missing(d.department.as_deref(), lang),
            or_missing(d.contact_person.as_deref(), lang),
            or(&a.purposes),
            if a.legal_basis.is_empty() {
                missing(lang)
            } else {
                a.legal_basis.clone()
            },
            lia,
            or(&a.data_subject_categories),
            or(&a.data_categories),
            yes_no(
                d.special_categories,
                ("ja", "yes"),
                ("nein", "no"),
            ),
            or(&a.recipients),
            activity_transfers,
            or(&a.erasure),
            lang.pick(
                "siehe Abschnitt „Technische und organisatorische Maßnahmen“",
                "see the section \"Technical and organisational measures\"",
            ),
            if a.joint_controllers.is_empty() {
                lang.pick("keine", "none")
            } else {
                join(&a.joint_controllers)
            },
            match (d.profiling, a.generated && !a.completed_by_hand) {
                (Some(true), true) => lang.pick(
                    "ja (der Chatbot des Kanals trifft automatisierte Entscheidungen; Logik und Auswirkungen unter „Zwecke“)",
                    "yes (the channel's chatbot takes automated decisions; logic and effects under \"purposes\")",
                ),
                (Some(false), true) => lang.pick(
                    "nein (Hafen bildet keine Profile und trifft keine automatisierten Entscheidungen)",
                    "no (Hafen builds no profiles and takes no automated decisions)",
                ),
                (p, _) => yes_no(p, ("ja", "yes"), ("nein", "no")),
            },
            or_missing(d.dpia.as_deref(), lang),
            or_missing(d.storage_location.as_deref(), lang),
            or_missing(d.processor_contract.as_deref(), lang),
            source,
        ]);
    }
    t
}

pub(super) fn transfers_table(rows: &[(String, &SubProcessorRecord)], lang: Lang) -> Table {
    let mut t = Table::new(
        "transfers",
        lang.pick(
            "Übermittlungen in Drittländer und geeignete Garantien",
            "Transfers to third countries and safeguards",
        ),
        vec![
            ("controller", lang.pick("Verantwortlicher", "Controller")),
            ("recipient", lang.pick("Empfänger", "Recipient")),
            ("countries", lang.pick("Drittländer", "Third countries")),
            ("safeguards", lang.pick("Geeignete Garantien", "Safeguards")),
            ("status", lang.pick("Bestätigt", "Confirmed")),
        ],
    )
    .sheet(lang.pick("Drittlandübermittlungen", "Third-country transfers"));
    for (controller, s) in rows {
        if s.entry.third_countries.is_empty() {
            continue;
        }
        t.row(vec![
            controller.clone(),
            s.entry.name.clone(),
            s.entry.third_countries.join(", "),
            or_missing(s.entry.transfer_mechanism.as_deref(), lang),
            confirmation(s, lang),
        ]);
    }
    t
}

/// The categories of processing done for a controller, each with what is done (Art. 30(2)(b)).
pub(super) fn categories_table(activities: &[ActivityRecord], lang: Lang) -> Table {
    let mut categories = Table::new(
        "categories",
        lang.pick(
            "Kategorien von Verarbeitungen, die im Auftrag des Verantwortlichen durchgeführt werden",
            "Categories of processing carried out on behalf of the controller",
        ),
        vec![
            ("category", lang.pick("Kategorie", "Category")),
            ("nature", lang.pick("Art der Verarbeitung", "Nature of the processing")),
        ],
    )
    .sheet(lang.pick("Kategorien der Verarbeitung", "Categories of processing"));
    for a in activities {
        categories.row(vec![a.name.clone(), a.nature.clone()]);
    }
    categories
}

impl Records {
    pub(super) async fn processor_record(&self, lang: Lang) -> Result<Report> {
        let inputs = self.inputs(lang).await?;
        let p = inputs.processor.as_ref();
        let mut sections = vec![
            party_fields(
                Section::new(
                    "processor",
                    lang.pick("Angaben zum Auftragsverarbeiter", "The processor"),
                ),
                p,
                lang,
            ),
            representative_field(
                Section::new("representative", lang.pick("Vertreter", "Representative")),
                p,
                lang,
            ),
            dpo_fields(
                Section::new(
                    "dpo",
                    lang.pick("Datenschutzbeauftragter", "Data protection officer"),
                ),
                p,
                lang,
            ),
        ];
        let mut transfers: Vec<(String, SubProcessorRecord)> = Vec::new();
        for (id, name) in inputs.install.tenants.clone() {
            let ti = self.tenant_inputs(&id, &inputs).await?;
            let c = ti.controller.as_ref().map(|c| &c.party);
            let mut s = Section::new(
                &format!("controller:{id}"),
                lang.pick(
                    &format!("Verantwortlicher (Auftraggeber): {name}"),
                    &format!("Controller: {name}"),
                ),
            )
            .field("tenant_id", lang.pick("Mandant", "Tenant"), id.clone())
            .own_sheet(&name);
            s = party_fields(s, c, lang);
            s = representative_field(s, c, lang);
            s = dpo_fields(s, c, lang);
            s = s.typed(
                "avv_date",
                lang.pick("AV-Vertrag vom", "AVV dated"),
                ti.controller
                    .as_ref()
                    .map(|c| iso_date(c.avv.date))
                    .unwrap_or_else(|| missing(lang)),
                ValueType::Date,
            );
            s = avv_fields(s, ti.controller.as_ref(), lang);
            // Only what Hafen does for the controller: activities entered by hand run elsewhere.
            let activities: Vec<ActivityRecord> = live::activities(&ti.facts, &ti.activities, lang)
                .into_iter()
                .filter(|a| a.generated)
                .collect();
            let categories = categories_table(&activities, lang);
            if activities.is_empty() {
                s = s.note(lang.pick(
                    "Noch keine Verarbeitung eingerichtet (kein Kanal, kein Einwilligungszweck).",
                    "No processing set up yet (no channel, no consent purpose).",
                ));
            }
            sections.push(s.table(categories));
            for sp in ti.subprocessors {
                transfers.push((name.clone(), sp));
            }
        }
        let rows: Vec<(String, &SubProcessorRecord)> =
            transfers.iter().map(|(c, s)| (c.clone(), s)).collect();
        let transfer_table = transfers_table(&rows, lang);
        let mut transfer_section = Section::new(
            "transfers",
            lang.pick(
                "Übermittlungen in Drittländer und geeignete Garantien",
                "Transfers to third countries and safeguards",
            ),
        );
        if transfer_table.rows.is_empty() {
            transfer_section = transfer_section.note(lang.pick(
                "Keine Übermittlungen in Drittländer.",
                "No transfers to third countries.",
            ));
        }
        sections.push(transfer_section.table(transfer_table));
        let live = live::technical_measures(&inputs.posture.posture, &inputs.install, None, lang);
        let mut toms = Section::new(
            "toms",
            lang.pick(
                "Allgemeine Beschreibung der technischen und organisatorischen Maßnahmen (Art. 32 Abs. 1)",
                "General description of the technical and organisational measures (Art. 32(1))",
            ),
        )
        .table(measures_table(&live, &inputs.measures, lang))
        .note(lang.pick(
            "Mandantenbezogene Maßnahmen (Webhook-Prüfung, Löschregeln, Einwilligungen) stehen in der TOM-Anlage des jeweiligen Mandanten.",
            "Per-tenant measures (webhook verification, deletion rules, consents) are in each tenant's TOM annex.",
        ));
        if let Some(gaps) = uncovered_controls(&live, &inputs.measures, lang) {
            toms = toms.note(gaps);
        }
        sections.push(toms);
        // The processor's record reads every tenant's entries: the newest of all.
        let version = self.register_version_all().await?;
        Ok(Report::new(
            Kind::ProcessorRecord,
            lang,
            inputs.now,
            version,
            None,
            sections,
        ))
    }

    pub(super) fn controller_sections(&self, inputs: &Inputs, ti: &TenantInputs) -> Vec<Section> {
        let lang = inputs.lang;
        let c = ti.controller.as_ref().map(|c| &c.party);
        let mut controller =
            Section::new("controller", lang.pick("Verantwortlicher", "Controller")).field(
                "tenant",
                lang.pick("Mandant", "Tenant"),
                ti.facts.name.clone(),
            );
        controller = party_fields(controller, c, lang);
        controller = representative_field(controller, c, lang);
        let dpo = dpo_fields(
            Section::new(
                "dpo",
                lang.pick("Datenschutzbeauftragter", "Data protection officer"),
            ),
            c,
            lang,
        );
        let processor = party_fields(
            Section::new(
                "processor",
                lang.pick(
                    "Auftragsverarbeiter (Betreiber von Hafen)",
                    "Processor (operator of Hafen)",
                ),
            ),
            inputs.processor.as_ref(),
            lang,
        );
        let mut activities = live::activities(&ti.facts, &ti.activities, lang);
        complete_for_record(
            &mut activities,
            inputs.processor.as_ref(),
            ti.controller.as_ref(),
            &ti.subprocessors,
            lang,
        );
        let mut act = Section::new(
            "activities",
            lang.pick("Verarbeitungstätigkeiten", "Processing activities"),
        )
        .table(activities_table(
            &activities,
            &ti.activity_dates,
            &ti.subprocessors,
            lang,
        ));
        if activities.is_empty() {
            act = act.note(lang.pick(
                "Noch keine Verarbeitung eingerichtet.",
                "No processing set up yet.",
            ));
        }
        let rows: Vec<(String, &SubProcessorRecord)> = ti
            .subprocessors
            .iter()
            .map(|s| (ti.facts.name.clone(), s))
            .collect();
        let transfers_t = transfers_table(&rows, lang);
        let mut transfers = Section::new(
            "transfers",
            lang.pick(
                "Übermittlungen in Drittländer und geeignete Garantien",
                "Transfers to third countries and safeguards",
            ),
        );
        if transfers_t.rows.is_empty() {
            transfers = transfers.note(lang.pick(
                "Keine Übermittlungen in Drittländer.",
                "No transfers to third countries.",
            ));
        }
        let live = live::technical_measures(
            &inputs.posture.posture,
            &inputs.install,
            Some(&ti.facts),
            lang,
        );
        let toms = Section::new(
            "toms",
            lang.pick(
                "Allgemeine Beschreibung der technischen und organisatorischen Maßnahmen (Art. 32 Abs. 1)",
                "General description of the technical and organisational measures (Art. 32(1))",
            ),
        )
        .table(measures_table(&live, &inputs.measures, lang));
        vec![
            controller,
            dpo,
            processor,
            act,
            transfers.table(transfers_t),
            toms,
        ]
    }
}
