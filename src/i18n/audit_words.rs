//! The audit log's actions and objects in words, German and English. The log itself keeps
//! the stable codes (`dsr.letter`); people read "Brief an die Person erstellt". A code without
//! words here is shown as it is, so a new action is never hidden — and a unit test lists every
//! action the code records, so a new one without words fails the build's tests.

use super::Lang;

/// (code, German, English) for every audited action.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("attachment.read", "Datei gelesen", "File read"),
    (
        "audit.prune",
        "Alte Protokolleinträge gelöscht",
        "Old audit entries deleted",
    ),
    ("bot.create", "Chatbot eingerichtet", "Chatbot registered"),
    ("bot.remove", "Chatbot entfernt", "Chatbot removed"),
    (
        "broadcast.create",
        "Rundsendung angelegt",
        "Broadcast created",
    ),
    ("channel.create", "Kanal verbunden", "Channel connected"),
    ("channel.delete", "Kanal entfernt", "Channel removed"),
    ("channel.update", "Kanal geändert", "Channel changed"),
    (
        "channel.webhook_register",
        "Webhook bei der Plattform eingetragen",
        "Webhook registered with the platform",
    ),
    ("consent.read", "Einwilligung gelesen", "Consent read"),
    (
        "consent.request",
        "Einwilligung angefragt",
        "Consent requested",
    ),
    (
        "consent_purpose.create",
        "Einwilligungszweck angelegt",
        "Consent purpose created",
    ),
    (
        "consent_purpose.new_text",
        "Neuer Einwilligungstext",
        "New consent text",
    ),
    (
        "consent_settings.update",
        "Einwilligungseinstellungen geändert",
        "Consent settings changed",
    ),
    (
        "contact.erase",
        "Kontakt gelöscht (Schlüssel vernichtet)",
        "Contact erased (key destroyed)",
    ),
    ("contact.lookup", "Person gesucht", "Person looked up"),
    (
        "contact.messages.read",
        "Verlauf gelesen",
        "Conversation read",
    ),
    (
        "contact.number_changed",
        "Neue Rufnummer der Person übernommen",
        "Person's new number taken over",
    ),
    ("contact.read", "Kontakt gelesen", "Contact read"),
    (
        "contact.restrict",
        "Verarbeitung eingeschränkt",
        "Processing restricted",
    ),
    (
        "contact.restricted.read",
        "Eingeschränkte Daten gelesen",
        "Restricted data read",
    ),
    (
        "contact.restriction.lift",
        "Einschränkung aufgehoben",
        "Restriction lifted",
    ),
    ("contacts.list", "Kontaktliste gelesen", "Contact list read"),
    (
        "conversation.hand_back",
        "Gespräch an den Chatbot zurückgegeben",
        "Conversation handed back to the chatbot",
    ),
    (
        "conversation.take_over",
        "Gespräch vom Chatbot an eine Person übergeben",
        "Conversation taken over from the chatbot by a person",
    ),
    (
        "dsr.create",
        "Betroffenenanfrage erfasst",
        "Data-subject request registered",
    ),
    ("dsr.erase", "Löschung ausgeführt", "Erasure carried out"),
    (
        "dsr.erasure_decision",
        "Über Aufbewahrung entschieden",
        "Decision on keeping",
    ),
    (
        "dsr.export",
        "Auskunft exportiert",
        "Access export produced",
    ),
    ("dsr.extend", "Frist verlängert", "Deadline extended"),
    ("dsr.identity", "Identität geprüft", "Identity checked"),
    (
        "dsr.letter",
        "Brief an die Person erstellt",
        "Letter to the person produced",
    ),
    (
        "dsr.no_data_letter",
        "Brief „keine Daten“ erstellt",
        "No-data letter produced",
    ),
    ("event.deliver", "Ereignisse zugestellt", "Events delivered"),
    (
        "event_hook.create",
        "Event-Webhook angelegt",
        "Event hook created",
    ),
    (
        "event_hook.delete",
        "Event-Webhook entfernt",
        "Event hook removed",
    ),
    ("message.read", "Nachricht gelesen", "Message read"),
    ("message.send", "Nachricht gesendet", "Message sent"),
    (
        "messages.classify",
        "Nachrichten als Geschäftsbriefe markiert",
        "Messages marked as business letters",
    ),
    (
        "messages.ingest",
        "Nachrichten empfangen",
        "Messages received",
    ),
    (
        "register.update",
        "Verzeichnis geändert",
        "Register changed",
    ),
    (
        "report.export",
        "Bericht heruntergeladen",
        "Report downloaded",
    ),
    (
        "retention.certificates.export",
        "Löschnachweise exportiert",
        "Deletion certificates exported",
    ),
    (
        "retention.hold.place",
        "Aufbewahrungssperre gesetzt",
        "Legal hold placed",
    ),
    (
        "retention.hold.release",
        "Aufbewahrungssperre aufgehoben",
        "Legal hold released",
    ),
    (
        "retention.preview",
        "Löschregeln probeweise berechnet",
        "Retention rules previewed",
    ),
    (
        "retention.rules.activate",
        "Löschregeln aktiviert",
        "Retention rules activated",
    ),
    (
        "retention.rules.approve",
        "Löschregeln freigegeben",
        "Retention rules approved",
    ),
    (
        "retention.rules.propose",
        "Löschregeln vorgeschlagen",
        "Retention rules proposed",
    ),
    (
        "retention.rules.reject",
        "Löschregeln abgelehnt",
        "Retention rules rejected",
    ),
    ("retention.run", "Löschlauf", "Retention run"),
    ("tenant.create", "Mandant angelegt", "Tenant created"),
    ("token.create", "API-Token ausgestellt", "API token issued"),
    ("token.revoke", "API-Token widerrufen", "API token revoked"),
    ("ui.locked", "Anmeldung gesperrt", "Sign-in locked"),
    (
        "ui.password_change",
        "Passwort geändert",
        "Password changed",
    ),
    (
        "ui.password_change_refused",
        "Passwortänderung abgewiesen",
        "Password change refused",
    ),
    ("ui.sign_in", "Angemeldet", "Signed in"),
    (
        "ui.sign_in_failed",
        "Anmeldung fehlgeschlagen",
        "Sign-in failed",
    ),
    (
        "ui.sign_in_refused",
        "Anmeldung abgewiesen",
        "Sign-in refused",
    ),
    ("ui.sign_out", "Abgemeldet", "Signed out"),
    (
        "ui.totp_enable",
        "Zwei-Faktor eingerichtet",
        "Two-factor set up",
    ),
    (
        "ui.totp_enable_refused",
        "Zwei-Faktor-Einrichtung abgewiesen",
        "Two-factor set-up refused",
    ),
    ("ui.user_create", "Benutzer angelegt", "User created"),
    ("ui.user_disable", "Benutzer deaktiviert", "User disabled"),
    ("ui.user_reset", "Zugang zurückgesetzt", "Access reset"),
    (
        "webhook.rejected",
        "Plattform-Webhook abgewiesen",
        "Platform webhook refused",
    ),
];

/// (code, German, English) for every kind of object an entry names.
const OBJECTS: &[(&str, &str, &str)] = &[
    ("bot", "Chatbot", "chatbot"),
    ("broadcast", "Rundsendung", "broadcast"),
    ("channel", "Kanal", "channel"),
    ("consent_purpose", "Einwilligungszweck", "consent purpose"),
    ("contact", "Kontakt", "contact"),
    ("contacts", "Kontakt", "contact"),
    ("event_hook", "Event-Webhook", "event hook"),
    ("legal_hold", "Aufbewahrungssperre", "legal hold"),
    ("message", "Nachricht", "message"),
    ("register", "Verzeichnis", "register"),
    ("report", "Bericht", "report"),
    (
        "retention_certificate",
        "Löschnachweis",
        "deletion certificate",
    ),
    ("retention_preview", "Vorschau", "preview"),
    ("retention_rules", "Löschregeln", "retention rules"),
    (
        "subject_request",
        "Betroffenenanfrage",
        "data-subject request",
    ),
    ("tenant", "Mandant", "tenant"),
    ("token", "API-Token", "API token"),
    ("user", "Benutzer", "user"),
];

fn pick(
    table: &[(&str, &'static str, &'static str)],
    code: &str,
    lang: Lang,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, de, en)| if lang == Lang::En { *en } else { *de })
}

/// An audited action in words; None for a code this table does not know yet.
pub fn action(code: &str, lang: Lang) -> Option<&'static str> {
    pick(ACTIONS, code, lang)
}

/// The kind of object an audit entry names, in words.
pub fn object(code: &str, lang: Lang) -> Option<&'static str> {
    pick(OBJECTS, code, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action the source records (`AuditEvent::new(…, "x.y")`) has words.
    #[test]
    fn every_recorded_action_has_words() {
        let mut missing = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.ends_with("i18n/audit_words.rs") {
                    continue;
                }
                let source = std::fs::read_to_string(&path).unwrap_or_default();
                for (i, _) in source.match_indices("AuditEvent::new(") {
                    let rest = &source[i..source.len().min(i + 200)];
                    let Some(open) = rest.find('"') else { continue };
                    let Some(len) = rest[open + 1..].find('"') else {
                        continue;
                    };
                    let code = &rest[open + 1..open + 1 + len];
                    if code.contains('.') && action(code, Lang::De).is_none() {
                        missing.push(format!("{code} ({})", path.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "audit actions without words: {missing:?}"
        );
    }

    #[test]
    fn words_in_both_languages() {
        assert_eq!(
            action("dsr.letter", Lang::De),
            Some("Brief an die Person erstellt")
        );
        assert_eq!(
            action("dsr.letter", Lang::En),
            Some("Letter to the person produced")
        );
        assert_eq!(action("no.such", Lang::De), None);
        assert_eq!(
            object("subject_request", Lang::De),
            Some("Betroffenenanfrage")
        );
    }
}
