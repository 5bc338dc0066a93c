//! Builds each kind of report from the register (what people entered) and the live state
//! (what Hafen runs). A field a person has not entered yet is shown as such, never left out:
//! a DPO sees at a glance what the record still lacks.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::live::{self, ActivityRecord, InstallFacts, LiveMeasure, TenantFacts};
use super::register::{
    Control, Document, EntryView, Measure, Party, Scope, Section as Part, SubProcessor,
};
use super::report::{
    iso_date, iso_moment, iso_percent, Format, Kind, Report, Section, Table, ValueType,
};
use super::Records;
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::clock::to_micros;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::retention::certificates::{self, CertificateView};
use crate::retention::rules::Category;
use crate::store::schema::consents;
use crate::tenants::TenantId;

/// Everything one report is built from, loaded once.
struct Inputs {
    lang: Lang,
    now: DateTime<Utc>,
    install: InstallFacts,
    /// The running server's settings (`records::instances`), and whose they are.
    posture: super::instances::Reported,
    processor: Option<Party>,
    measures: Vec<Measure>,
}

struct TenantInputs {
    facts: TenantFacts,
    controller: Option<super::register::Controller>,
    activities: Vec<super::register::Activity>,
    subprocessors: Vec<SubProcessorRecord>,
    subprocessor_history: Vec<EntryView>,
    /// When each hand-entered activity appeared and last changed.
    activity_dates: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
}

/// A sub-processor as the annex lists it.
#[derive(Debug, Clone)]
pub struct SubProcessorRecord {
    pub entry: SubProcessor,
    /// Pre-filled from a platform in use, not yet confirmed in the register.
    pub pre_filled: bool,
    /// Since when the register lists it without interruption (the date the controller was
    /// told, from which its right to object runs).
    pub listed_since: Option<DateTime<Utc>>,
}

fn missing(lang: Lang) -> String {
    lang.pick("— nicht erfasst —", "— not entered —")
}

fn or_missing(value: Option<&str>, lang: Lang) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => missing(lang),
    }
}

fn join(items: &[String]) -> String {
    items.join("; ")
}

fn control_label(c: Control, lang: Lang) -> String {
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

fn party_fields(mut s: Section, party: Option<&Party>, lang: Lang) -> Section {
    s = s
        .field(
            "name",
            lang.pick("Name", "Name"),
            or_missing(party.map(|p| p.name.as_str()), lang),
        )
        .field(
            "address",
            lang.pick("Anschrift", "Address"),
            or_missing(party.map(|p| p.address.as_str()), lang),
        )
        .field(
            "contact",
            lang.pick("Kontaktdaten", "Contact details"),
            or_missing(party.map(|p| p.contact.as_str()), lang),
        );
    s
}

fn dpo_fields(s: Section, party: Option<&Party>, lang: Lang) -> Section {
    s.field(
        "dpo_name",
        lang.pick("Datenschutzbeauftragter", "Data protection officer"),
        or_missing(party.and_then(|p| p.dpo_name.as_deref()), lang),
    )
    .field(
        "dpo_contact",
        lang.pick("Kontakt des Datenschutzbeauftragten", "DPO contact details"),
        or_missing(party.and_then(|p| p.dpo_contact.as_deref()), lang),
    )
}

/// The terms of the processing agreement (Art. 28(3) GDPR) as the controller entered them.
fn avv_fields(s: Section, controller: Option<&super::register::Controller>, lang: Lang) -> Section {
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

fn representative_field(s: Section, party: Option<&Party>, lang: Lang) -> Section {
    s.field(
        "representative",
        lang.pick("Vertreter (Art. 27 DSGVO)", "Representative (Art. 27 GDPR)"),
        match party.and_then(|p| p.representative.as_deref()) {
            Some(r) => r.to_string(),
            None if party.is_some() => lang.pick(
                "keiner (Niederlassung in der Union)",
                "none (established in the Union)",
            ),
            None => missing(lang),
        },
    )
}

fn measures_table(live: &[LiveMeasure], manual: &[Measure], lang: Lang) -> Table {
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

fn uncovered_controls(live: &[LiveMeasure], manual: &[Measure], lang: Lang) -> Option<String> {
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

/// When each hand-entered activity first appeared in the register and when it last changed
/// (history newest first).
fn activity_dates(history: &[EntryView]) -> BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> {
    let mut out: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    let mut before: BTreeMap<String, super::register::Activity> = BTreeMap::new();
    for v in history.iter().rev() {
        let Some(Document::Activities(list)) = &v.parsed else {
            continue;
        };
        let now: BTreeMap<String, super::register::Activity> =
            list.iter().map(|a| (a.key.clone(), a.clone())).collect();
        for (k, a) in &now {
            match before.get(k) {
                None => {
                    out.insert(k.clone(), (v.created_at, v.created_at));
                }
                Some(old) if old != a => {
                    if let Some(d) = out.get_mut(k) {
                        d.1 = v.created_at;
                    }
                }
                _ => {}
            }
        }
        out.retain(|k, _| now.contains_key(k));
        before = now;
    }
    out
}

/// What the record adds to Hafen's own view of an activity: the processor and every
/// sub-processor among the recipients (they receive the data, Art. 4(9)), where the data is
/// kept and under which contract — for the activities Hafen runs.
fn complete_for_record(
    activities: &mut [ActivityRecord],
    processor: Option<&Party>,
    controller: Option<&super::register::Controller>,
    subprocessors: &[SubProcessorRecord],
    lang: Lang,
) {
    let processor_name = processor.map(|p| p.name.clone()).unwrap_or_else(|| {
        lang.pick(
            "der Betreiber von Hafen (Auftragsverarbeiter, im Register noch nicht erfasst)",
            "the operator of Hafen (processor, not yet entered in the register)",
        )
    });
    for a in activities.iter_mut().filter(|a| a.generated) {
        let mut recipients = vec![lang.pick(
            &format!("Auftragsverarbeiter: {processor_name}"),
            &format!("Processor: {processor_name}"),
        )];
        for s in subprocessors {
            let line = lang.pick(
                &format!(
                    "Unterauftragsverarbeiter: {} ({})",
                    s.entry.name, s.entry.service
                ),
                &format!("Sub-processor: {} ({})", s.entry.name, s.entry.service),
            );
            recipients.push(line);
        }
        for r in &a.recipients {
            if !subprocessors.iter().any(|s| &s.entry.name == r) {
                recipients.push(r.clone());
            }
        }
        a.recipients = recipients;
        if a.details.storage_location.is_none() {
            a.details.storage_location = Some(match processor {
                Some(p) => lang.pick(
                    &format!(
                        "Hafen auf dem Server von {} ({}), verschlüsselt gespeichert",
                        p.name, p.address
                    ),
                    &format!(
                        "Hafen on the server of {} ({}), stored encrypted",
                        p.name, p.address
                    ),
                ),
                None => lang.pick(
                    "Hafen auf dem Server des Auftragsverarbeiters, verschlüsselt gespeichert",
                    "Hafen on the processor's server, stored encrypted",
                ),
            });
        }
        if a.details.processor_contract.is_none() {
            a.details.processor_contract = controller.map(|c| {
                lang.pick(
                    &format!(
                        "AV-Vertrag mit {processor_name} vom {} (Art. 28 DSGVO)",
                        crate::i18n::date(c.avv.date, lang)
                    ),
                    &format!(
                        "processing agreement with {processor_name} of {} (Art. 28 GDPR)",
                        crate::i18n::date(c.avv.date, lang)
                    ),
                )
            });
        }
    }
}

/// Whether Art. 6(1)(f) is among the legal bases (then a legitimate-interest assessment is due).
fn relies_on_legitimate_interest(legal_basis: &str) -> bool {
    let b = legal_basis.to_lowercase();
    b.contains("lit. f") || b.contains("(1)(f)")
}

/// The record of processing activities in the column order of the DSK template ("Muster
/// Verzeichnis von Verarbeitungstätigkeiten"), one row per activity; the PDF shows each
/// activity as a form of its own.
fn activities_table(
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

fn transfers_table(rows: &[(String, &SubProcessorRecord)], lang: Lang) -> Table {
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

/// Whether the controller confirmed a sub-processor entry: a pre-filled one is a fact about the
/// data flow, listed in every record, but marked until the register names the date it was
/// authorised.
fn confirmation(s: &SubProcessorRecord, lang: Lang) -> String {
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

/// The canonical form of the German calendar day a moment falls on.
fn local_day(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| iso_date(crate::i18n::local_date(d)))
        .unwrap_or_default()
}

fn subprocessors_table(list: &[SubProcessorRecord], lang: Lang) -> Table {
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
fn subprocessor_changes(history: &[EntryView], lang: Lang) -> Table {
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
fn effective_subprocessors(
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

impl Records {
    /// Builds a report. Install-wide kinds need an install-wide actor; the rest a tenant.
    /// Every export is audited with its content hash.
    pub async fn report(
        &self,
        actor: &Actor,
        kind: Kind,
        tenant: Option<&TenantId>,
        lang: Lang,
        format: Format,
    ) -> Result<(Report, Vec<u8>)> {
        let report = match (kind.is_install_wide(), tenant) {
            (true, _) => {
                actor.authorize_processor(Permission::ExportRecords)?;
                self.processor_record(lang).await?
            }
            (false, Some(t)) => {
                actor.authorize(t, Permission::ExportRecords)?;
                self.infra.ensure_tenant(t).await?;
                self.tenant_report(kind, t, lang).await?
            }
            (false, None) => {
                return Err(Error::invalid("tenant", "this report is made per tenant"))
            }
        };
        let bytes = report.render(format)?;
        let mut event = AuditEvent::new(actor, "report.export")
            .object("report", kind.as_str())
            .detail(format!(
                "format={} lang={} register_version={} sha256={}",
                format.as_str(),
                match lang {
                    Lang::De => "de",
                    Lang::En => "en",
                },
                report.register_version,
                report.content_sha256
            ));
        if let Some(t) = tenant.filter(|_| !kind.is_install_wide()) {
            event = event.tenant(t);
        }
        self.infra.record(event).await?;
        Ok((report, bytes))
    }

    async fn inputs(&self, lang: Lang) -> Result<Inputs> {
        let install = self.infra.store.read(live::install_facts).await?;
        let (now, fallback) = (self.infra.clock.now(), (*self.posture).clone());
        let posture = self
            .infra
            .store
            .read(move |conn| super::instances::reported(conn, now, &fallback, lang))
            .await?;
        let processor = match self
            .register_entry_internal(&Scope::Processor, Part::Processor)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Processor(p)),
                ..
            }) => Some(p),
            _ => None,
        };
        let measures = match self
            .register_entry_internal(&Scope::Processor, Part::Measures)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Measures(m)),
                ..
            }) => m,
            _ => Vec::new(),
        };
        Ok(Inputs {
            lang,
            now: self.infra.clock.now(),
            install,
            posture,
            processor,
            measures,
        })
    }

    async fn tenant_inputs(&self, tenant: &str, inputs: &Inputs) -> Result<TenantInputs> {
        let (t, now) = (tenant.to_string(), to_micros(inputs.now));
        let facts = self
            .infra
            .store
            .read(move |conn| live::tenant_facts(conn, &t, now))
            .await?
            .ok_or(Error::NotFound)?;
        let scope = Scope::Tenant(TenantId::parse(tenant)?);
        let controller = match self
            .register_entry_internal(&scope, Part::Controller)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Controller(c)),
                ..
            }) => Some(c),
            _ => None,
        };
        let activities = match self
            .register_entry_internal(&scope, Part::Activities)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Activities(a)),
                ..
            }) => a,
            _ => Vec::new(),
        };
        let subprocessor_history = self
            .register_history_internal(&scope, Part::Subprocessors)
            .await?;
        let subprocessors = effective_subprocessors(&facts, &subprocessor_history, inputs.lang);
        let activity_dates = activity_dates(
            &self
                .register_history_internal(&scope, Part::Activities)
                .await?,
        );
        Ok(TenantInputs {
            activity_dates,
            facts,
            controller,
            activities,
            subprocessors,
            subprocessor_history,
        })
    }

    async fn processor_record(&self, lang: Lang) -> Result<Report> {
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

    async fn register_version_all(&self) -> Result<i64> {
        use crate::store::schema::register_entries;
        Ok(self
            .infra
            .store
            .read(|conn| {
                let v: Option<i64> = register_entries::table
                    .select(diesel::dsl::max(register_entries::version))
                    .first(conn)?;
                Ok(v.unwrap_or(0))
            })
            .await?)
    }

    async fn tenant_report(&self, kind: Kind, tenant: &TenantId, lang: Lang) -> Result<Report> {
        let inputs = self.inputs(lang).await?;
        let ti = self.tenant_inputs(tenant.as_str(), &inputs).await?;
        let sections = match kind {
            Kind::ControllerRecord => self.controller_sections(&inputs, &ti),
            Kind::Toms => self.tom_sections(&inputs, &ti),
            Kind::Subprocessors => subprocessor_sections(&ti, lang),
            Kind::DeletionConcept => {
                self.deletion_concept_sections(&ti, &inputs.posture.posture, lang)
                    .await?
            }
            Kind::DeletionReport => self.deletion_report_sections(tenant, lang).await?,
            Kind::ConsentStatistics => self.consent_statistics_sections(&ti, lang).await?,
            Kind::RequestLog => {
                self.request_log_sections(tenant, &ti.facts.name, lang)
                    .await?
            }
            Kind::AvvTerms => avv_sections(&inputs, &ti),
            Kind::ProcessorRecord => return Err(Error::invalid("kind", "is install-wide")),
        };
        let version = self
            .register_version(&Scope::Tenant(tenant.clone()))
            .await?;
        let mut report = Report::new(
            kind,
            lang,
            inputs.now,
            version,
            Some(tenant.as_str().to_string()),
            sections,
        );
        report.letterhead = self.letterhead(tenant).await?;
        Ok(report)
    }

    fn controller_sections(&self, inputs: &Inputs, ti: &TenantInputs) -> Vec<Section> {
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

    fn tom_sections(&self, inputs: &Inputs, ti: &TenantInputs) -> Vec<Section> {
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

    async fn deletion_concept_sections(
        &self,
        ti: &TenantInputs,
        posture: &live::Posture,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = ti.facts.id.clone();
        let own = self
            .infra
            .store
            .read(move |conn| crate::retention::own_categories(conn, &t))
            .await?;
        let mut rules = Table::new(
            "rules",
            lang.pick("Löschregeln", "Deletion rules"),
            vec![
                ("category", lang.pick("Datenart", "Data category")),
                ("channel", lang.pick("Kanal", "Channel")),
                (
                    "rule",
                    lang.pick(
                        "Regellöschfrist und Startpunkt",
                        "Standard period and start point",
                    ),
                ),
                ("legal_basis", lang.pick("Rechtsgrundlage", "Legal basis")),
                ("deletion_class", lang.pick("Löschklasse", "Deletion class")),
                (
                    "ground",
                    lang.pick(
                        "Aufbewahrung bei Löschverlangen",
                        "Kept on an erasure request",
                    ),
                ),
                ("source", lang.pick("Quelle", "Source")),
            ],
        );
        let yes_no = |b: bool| {
            if b {
                lang.pick("ja", "yes")
            } else {
                lang.pick("nein", "no")
            }
        };
        for r in &ti.facts.rules.rules {
            rules.row(vec![
                format!(
                    "{}{}",
                    r.category.label(lang),
                    if r.category.has_class() {
                        live::class_label(r.business_letters, lang)
                    } else {
                        String::new()
                    }
                ),
                r.channel
                    .as_ref()
                    .map(|c| crate::channels::registry::channel_label(c.as_str()))
                    .unwrap_or_else(|| lang.pick("alle", "all")),
                live::describe_rule(r, lang),
                r.legal_basis.clone(),
                r.deletion_class.clone().unwrap_or_default(),
                if r.ground.keeps_on_erasure() {
                    r.citation(lang)
                } else {
                    r.ground.citation(lang)
                },
                if own.contains(&r.category) {
                    lang.pick(
                        &format!(
                            "Regelwerk des Mandanten, Version {}",
                            ti.facts.rules_version
                        ),
                        &format!("tenant's rules, version {}", ti.facts.rules_version),
                    )
                } else {
                    lang.pick("Standard der Installation", "install default")
                },
            ]);
        }
        let s = Section::new(
            "concept",
            lang.pick("Lösch- und Aufbewahrungskonzept", "Retention and deletion concept"),
        )
        .field("controller", lang.pick("Verantwortlicher", "Controller"), ti.facts.name.clone())
        .count(
            "rules_version",
            lang.pick("Version der Löschregeln", "Deletion rules version"),
            ti.facts.rules_version,
        )
        .field(
            "schedule",
            lang.pick("Zeitplan der Löschläufe (cron)", "Deletion run schedule (cron)"),
            if posture.retention_schedule.is_empty() {
                lang.pick(
                    "keiner – Löschläufe nur von Hand",
                    "none – deletion runs by hand only",
                )
            } else {
                posture.retention_schedule.clone()
            },
        )
        .field(
            "approval",
            lang.pick("Freigabe durch zweite Person", "Approval by a second person"),
            yes_no(posture.require_approval),
        )
        .count(
            "active_holds",
            lang.pick("Aktive Aufbewahrungssperren (Legal Holds)", "Active legal holds"),
            ti.facts.active_holds,
        )
        .count(
            "restricted_contacts",
            lang.pick("Eingeschränkte Kontakte (Art. 18)", "Restricted contacts (Art. 18)"),
            ti.facts.restricted_contacts,
        )
        .table(rules)
        .note(lang.pick(
            "Löschung durch Entfernen der Datensätze und Vernichtung der Schlüssel (Crypto-Shredding nach NIST SP 800-88). Auf ein Löschverlangen werden Daten gelöscht, soweit keine Regel sie hält: Daten mit gesetzlicher Aufbewahrungspflicht (Art. 17 Abs. 3 lit. b DSGVO) und Daten für Rechtsansprüche (Art. 17 Abs. 3 lit. e DSGVO) werden bis zum Ende ihrer Frist nur noch für diesen Zweck aufbewahrt und eingeschränkt; bei vertraglichen oder satzungsgemäßen Fristen tritt die Einschränkung an die Stelle der Löschung (§ 35 Abs. 3 BDSG).",
            "Deletion removes the records and destroys their keys (crypto-shredding, NIST SP 800-88). On an erasure request data is erased unless a rule keeps it: data under a statutory duty to retain (Art. 17(3)(b) GDPR) and data kept for legal claims (Art. 17(3)(e) GDPR) is kept for that purpose only, restricted, until its period ends; for contractual or by-law periods restriction takes the place of erasure (section 35(3) BDSG).",
        ));
        Ok(vec![s])
    }

    async fn deletion_report_sections(
        &self,
        tenant: &TenantId,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = tenant.as_str().to_string();
        let (list, chain, kept): (Vec<CertificateView>, _, _) = self
            .infra
            .store
            .read(move |conn| {
                Ok((
                    certificates::list(conn, &t)?,
                    certificates::verify(conn)?,
                    crate::requests::erase::kept_by_requests(conn, &t)?,
                ))
            })
            .await?;
        let mut table = Table::new(
            "certificates",
            lang.pick("Löschprotokolle", "Deletion certificates"),
            vec![
                ("seq", lang.pick("Nr.", "No.")),
                ("run", lang.pick("Lauf", "Run")),
                ("state", lang.pick("Status", "State")),
                ("started_at", lang.pick("Beginn", "Started")),
                ("finished_at", lang.pick("Ende", "Finished")),
                ("deleted", lang.pick("Gelöscht", "Deleted")),
                (
                    "keys_shredded",
                    lang.pick("Vernichtete Schlüssel", "Keys destroyed"),
                ),
                ("hash", lang.pick("Hash", "Hash")),
            ],
        )
        .typed(&["seq", "keys_shredded"], ValueType::Integer)
        .typed(&["started_at", "finished_at"], ValueType::DateTime);
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for c in &list {
            for (k, v) in &c.counts {
                *totals.entry(k.clone()).or_default() += v;
            }
            let deleted: Vec<String> = c
                .counts
                .iter()
                .filter(|(_, v)| **v > 0)
                .map(
                    |(k, v)| match Category::ALL.into_iter().find(|c| c.as_str() == k) {
                        Some(category) => format!("{}: {v}", category.label(lang)),
                        None => format!("{k}: {v}"),
                    },
                )
                .collect();
            table.row(vec![
                c.seq.map(|s| s.to_string()).unwrap_or_default(),
                c.source_label(lang),
                c.state_label(lang),
                iso_moment(c.started_at),
                c.finished_at.map(iso_moment).unwrap_or_default(),
                if deleted.is_empty() {
                    lang.pick("nichts", "nothing")
                } else {
                    deleted.join("; ")
                },
                c.keys_shredded.len().to_string(),
                c.hash.clone().unwrap_or_default(),
            ]);
        }
        let mut s = Section::new("deletions", lang.pick("Löschungen", "Deletions"))
            .count(
                "certificates",
                lang.pick("Anzahl Löschprotokolle", "Number of certificates"),
                list.len() as i64,
            )
            .field(
                "chain_intact",
                lang.pick(
                    "Hashkette der Protokolle unversehrt",
                    "Certificate chain intact",
                ),
                if chain.intact() {
                    lang.pick("ja", "yes")
                } else {
                    lang.pick(
                        "NEIN – Protokolle verändert oder entfernt",
                        "NO – certificates changed or removed",
                    )
                },
            );
        for c in Category::ALL {
            s = s.typed(
                &format!("total_{}", c.as_str()),
                lang.pick(
                    &format!("Summe gelöscht: {}", c.label(lang)),
                    &format!("Total deleted: {}", c.label(lang)),
                ),
                totals.get(c.as_str()).copied().unwrap_or(0).to_string(),
                ValueType::Integer,
            );
        }
        s = s.table(table);
        let mut restricted = Table::new(
            "kept_by_requests",
            lang.pick(
                "Auf Löschantrag aufbewahrte und eingeschränkte Daten",
                "Data kept and restricted on erasure requests",
            ),
            vec![
                ("request", lang.pick("Löschantrag", "Erasure request")),
                ("category", lang.pick("Datenart", "Data category")),
                ("kept", lang.pick("Anzahl", "Number")),
                (
                    "ground",
                    lang.pick("Grund der Aufbewahrung", "Ground for keeping"),
                ),
                ("until", lang.pick("Gelöscht ab", "Erased from")),
            ],
        )
        .typed(&["kept"], ValueType::Integer)
        .typed(&["until"], ValueType::Date)
        .sheet(lang.pick("Aufbewahrt auf Löschantrag", "Kept on erasure requests"));
        for k in &kept {
            let category = Category::ALL
                .into_iter()
                .find(|c| c.as_str() == k.category)
                .map(|c| c.label(lang))
                .unwrap_or_else(|| k.category.clone());
            restricted.row(vec![
                k.request_id.clone(),
                category,
                k.kept.to_string(),
                k.citation.get(lang).to_string(),
                match (k.until, k.decision_needed) {
                    (Some(u), _) => iso_date(crate::i18n::local_date(u)),
                    (None, true) => lang.pick(
                        "Entscheidung der/des DSB ausstehend",
                        "awaiting the DPO's decision",
                    ),
                    (None, false) => lang.pick(
                        "nach Ende der Aufbewahrungssperre",
                        "after the legal hold ends",
                    ),
                },
            ]);
        }
        if kept.is_empty() {
            s = s.note(lang.pick(
                "Derzeit hält kein Löschantrag Daten zurück.",
                "No erasure request keeps data back at present.",
            ));
        }
        Ok(vec![s.table(restricted)])
    }

    async fn consent_statistics_sections(
        &self,
        ti: &TenantInputs,
        lang: Lang,
    ) -> Result<Vec<Section>> {
        let t = ti.facts.id.clone();
        let rows: Vec<(String, String)> = self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::tenant_id.eq(&t))
                    .select((consents::purpose_id, consents::state))
                    .load(conn)?)
            })
            .await?;
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (p, s) in rows {
            *counts.entry((p, s)).or_default() += 1;
        }
        let states = ["requested", "confirmed", "withdrawn", "expired"];
        let mut table = Table::new(
            "purposes",
            lang.pick("Einwilligungen je Zweck", "Consents per purpose"),
            vec![
                ("purpose", lang.pick("Zweck", "Purpose")),
                (
                    "requested",
                    lang.pick("Angefragt (offen)", "Requested (pending)"),
                ),
                ("confirmed", lang.pick("Bestätigt", "Confirmed")),
                ("withdrawn", lang.pick("Widerrufen", "Withdrawn")),
                ("expired", lang.pick("Abgelaufen", "Expired")),
                (
                    "confirmation_rate",
                    lang.pick("Bestätigungsquote", "Confirmation rate"),
                ),
            ],
        )
        .typed(
            &["requested", "confirmed", "withdrawn", "expired"],
            ValueType::Integer,
        )
        .typed(&["confirmation_rate"], ValueType::Percent);
        for (id, name) in &ti.facts.purposes {
            let n = |s: &str| {
                counts
                    .get(&(id.clone(), s.to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            let total: u64 = states.iter().map(|s| n(s)).sum();
            let ever_confirmed = n("confirmed") + n("withdrawn");
            let rate = if total == 0 {
                "–".to_string()
            } else {
                iso_percent(100.0 * ever_confirmed as f64 / total as f64)
            };
            table.row(vec![
                name.clone(),
                n("requested").to_string(),
                n("confirmed").to_string(),
                n("withdrawn").to_string(),
                n("expired").to_string(),
                rate,
            ]);
        }
        Ok(vec![Section::new(
            "consent",
            lang.pick("Einwilligungen", "Consents"),
        )
        .field("controller", lang.pick("Verantwortlicher", "Controller"), ti.facts.name.clone())
        .count(
            "purposes",
            lang.pick("Zwecke", "Purposes"),
            ti.facts.purposes.len() as i64,
        )
        .table(table)
        .note(lang.pick(
            "Bestätigungsquote: Anteil der Anfragen, die bestätigt wurden (auch wenn später widerrufen).",
            "Confirmation rate: share of requests that were confirmed (even if withdrawn later).",
        ))])
    }
}

/// The categories of processing done for a controller, each with what is done (Art. 30(2)(b)).
fn categories_table(activities: &[ActivityRecord], lang: Lang) -> Table {
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

/// The AVV annex of its own: the parties, the terms entered for Art. 28(3), what Hafen does
/// for the controller, and where the other annexes are.
fn avv_sections(inputs: &Inputs, ti: &TenantInputs) -> Vec<Section> {
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

fn subprocessor_sections(ti: &TenantInputs, lang: Lang) -> Vec<Section> {
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
