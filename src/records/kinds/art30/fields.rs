//! The fields of the Art. 30 record that name the parties (controller, DPO, representative)
//! and say when each activity was recorded and whether its entry is complete.

use super::*;

pub(crate) fn party_fields(mut s: Section, party: Option<&Party>, lang: Lang) -> Section {
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

pub(crate) fn dpo_fields(s: Section, party: Option<&Party>, lang: Lang) -> Section {
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

pub(crate) fn representative_field(s: Section, party: Option<&Party>, lang: Lang) -> Section {
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

/// When each hand-entered activity first appeared in the register and when it last changed
/// (history newest first).
pub(crate) fn activity_dates(
    history: &[EntryView],
) -> BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> {
    let mut out: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    let mut before: BTreeMap<String, crate::register::Activity> = BTreeMap::new();
    for v in history.iter().rev() {
        let Some(Document::Activities(list)) = &v.parsed else {
            continue;
        };
        let now: BTreeMap<String, crate::register::Activity> =
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
pub(crate) fn complete_for_record(
    activities: &mut [ActivityRecord],
    processor: Option<&Party>,
    controller: Option<&crate::register::Controller>,
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
pub(crate) fn relies_on_legitimate_interest(legal_basis: &str) -> bool {
    let b = legal_basis.to_lowercase();
    b.contains("lit. f") || b.contains("(1)(f)")
}
