//! The letter answering an erasure request: what was deleted, what is kept and why, and whom
//! the erasure was passed on to (Art. 17, 19 GDPR).

use super::*;

/// Writes the answer to an erasure request into `l`, from the outcome stored when it was
/// answered (refused while there is none).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_into(
    l: &mut Letter,
    f: &Facts,
    outcome: Option<serde_json::Value>,
    received: &str,
    answered: &str,
    platform: &str,
    operator: Option<&str>,
    lang: Lang,
) -> Result<()> {
    let outcome: ErasureOutcome = outcome
        .and_then(|o| serde_json::from_value(o).ok())
        .ok_or_else(|| Error::Conflict("this erasure request has not been answered yet".into()))?;
    l.kind = "erasure".into();
    l.subject = lang.pick(
        &format!("Ihr Antrag auf Löschung Ihrer Daten (Art. 17 DSGVO) vom {received}"),
        &format!("Your request of {received} to erase your data (Art. 17 GDPR)"),
    );
    l.paragraphs.push(lang.pick(
        &format!("Sie haben uns am {received} gebeten, die Daten zu löschen, die wir über {platform} mit Ihnen ausgetauscht haben. Wir haben Ihren Antrag am {answered} bearbeitet."),
        &format!("On {received} you asked us to erase the data we exchanged with you over {platform}. We dealt with your request on {answered}."),
    ));
    let mut erased = vec![vec![
        lang.pick("Daten", "Data"),
        lang.pick("Anzahl", "Number"),
    ]];
    let mut kept = vec![vec![
        lang.pick("Daten", "Data"),
        lang.pick("Anzahl", "Number"),
        lang.pick("Warum wir sie aufbewahren", "Why we keep it"),
        lang.pick("Gelöscht ab", "Erased from"),
    ]];
    let mut waiting = Vec::new();
    for c in &outcome.categories {
        let label = subject_label(&c.category, lang);
        if c.erased > 0 {
            erased.push(vec![label.clone(), c.erased.to_string()]);
        }
        if c.kept > 0 {
            if c.decision_needed {
                waiting.push(label.clone());
            }
            let why = c
                .citation
                .as_ref()
                .map(|c| c.get(lang).to_string())
                .unwrap_or_default();
            let until = match (c.until, c.decision_needed) {
                (Some(u), _) => day(u, lang),
                (None, true) => lang.pick("wird noch entschieden", "still to be decided"),
                (None, false) => lang.pick(
                    "sobald die Aufbewahrungssperre endet",
                    "once the legal hold ends",
                ),
            };
            kept.push(vec![label, c.kept.to_string(), why, until]);
        }
    }
    let erased_any = outcome.categories.iter().any(|c| c.erased > 0);
    if outcome.erased {
        l.paragraphs.push(lang.pick(
            "Wir haben alle Daten gelöscht, die wir über diesen Kanal zu Ihnen gespeichert hatten. Der Schlüssel, mit dem sie verschlüsselt waren, ist vernichtet; Kopien in unseren Datensicherungen sind damit unlesbar, sobald die Sicherungen, die den Schlüssel noch enthalten, abgelaufen sind.",
            "We have erased all data we held about you from this channel. The key it was encrypted with is destroyed; copies in our backups become unreadable once the backups that still hold the key have expired.",
        ));
    } else if !erased_any {
        l.paragraphs.push(lang.pick(
            "Ihre Daten dürfen oder müssen wir noch aufbewahren. Ihre Verarbeitung haben wir eingeschränkt (Art. 18 DSGVO): Wir nutzen sie nur noch für den jeweils genannten Zweck und löschen sie, sobald ihre Frist endet.",
            "We may or must still keep your data. We have restricted its processing (Art. 18 GDPR): we use it only for the purpose given and erase it as soon as its period ends.",
        ));
    } else {
        l.paragraphs.push(lang.pick(
            "Einen Teil Ihrer Daten haben wir gelöscht. Andere Daten dürfen oder müssen wir noch aufbewahren. Ihre Verarbeitung haben wir eingeschränkt (Art. 18 DSGVO): Wir nutzen sie nur noch für den jeweils genannten Zweck und löschen sie, sobald ihre Frist endet.",
            "We have erased part of your data. Other data we may or must still keep. We have restricted its processing (Art. 18 GDPR): we use it only for the purpose given and erase it as soon as its period ends.",
        ));
    }
    if erased.len() > 1 {
        l.tables.push(LetterTable {
            title: lang.pick("Gelöscht", "Erased"),
            rows: erased,
        });
    }
    if kept.len() > 1 {
        l.tables.push(LetterTable {
            title: lang.pick("Aufbewahrt und eingeschränkt", "Kept and restricted"),
            rows: kept,
        });
    }
    if !waiting.is_empty() {
        let deadline = stored_date(f.request.deadline(), lang);
        l.paragraphs.push(lang.pick(
            &format!("Wie lange wir {} aufbewahren müssen, prüfen wir noch. Das Ergebnis teilen wir Ihnen bis zum {deadline} mit.", waiting.join(", ")),
            &format!("We are still determining how long we must keep: {}. We will tell you the result by {deadline}.", waiting.join(", ")),
        ));
    }
    l.paragraphs.push(lang.pick(
        "Ihre Einwilligungen, Nachrichten von uns zu erhalten, haben wir beendet: Sie erhalten über diesen Kanal keine Werbung mehr.",
        "We have ended your consents to receive messages from us: you will no longer receive advertising over this channel.",
    ));
    l.paragraphs.push(if outcome.recipients_informed > 0 {
        lang.pick(
            &format!("Die Stellen, an die wir Ihre Daten weitergegeben haben ({} angebundene Systeme unseres Hauses), haben wir über die Löschung unterrichtet (Art. 19 DSGVO).", outcome.recipients_informed),
            &format!("We have informed the recipients we disclosed your data to ({} connected systems of ours) of the erasure (Art. 19 GDPR).", outcome.recipients_informed),
        )
    } else {
        lang.pick(
            "Wir haben Ihre Daten an keine weiteren Stellen weitergegeben, die zu unterrichten wären (Art. 19 DSGVO).",
            "We have not disclosed your data to other recipients who would have to be informed (Art. 19 GDPR).",
        )
    });
    if let Some(operator) = operator {
        l.paragraphs.push(lang.pick(
            &format!("Nachrichten über {platform} verarbeitet auch der Betreiber der Plattform ({operator}). Was dort gespeichert ist, können Sie in Ihrem {platform}-Konto löschen oder beim Betreiber verlangen."),
            &format!("Messages over {platform} are also processed by the platform's operator ({operator}). What is stored there you can delete in your {platform} account or request from the operator."),
        ));
    }
    Ok(())
}
