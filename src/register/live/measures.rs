//! The technical measures Hafen enforces, read from the running configuration, for the TOM
//! annex.

use super::*;

/// A technical measure Hafen has switched on, described as configured.
#[derive(Debug, Clone)]
pub struct LiveMeasure {
    /// Stable id (e.g. `tls_listener`), so a reader can tell measures apart across versions.
    pub id: &'static str,
    pub control: Control,
    pub text: String,
    /// Switched on. A measure that is off is still listed, saying so: a reader must not take
    /// its absence for an oversight of the template.
    pub active: bool,
}

/// Every technical measure that is active now. A measure that is switched off is absent:
/// the annex never claims what is not running.
pub fn technical_measures(
    posture: &Posture,
    install: &InstallFacts,
    tenant: Option<&TenantFacts>,
    lang: Lang,
) -> Vec<LiveMeasure> {
    let mut m = Vec::new();
    // Measures that are switched off are listed too, named here and marked at the end.
    let mut inactive: Vec<&'static str> = Vec::new();
    let mut push = |id, control, text: String| {
        m.push(LiveMeasure {
            id,
            control,
            text,
            active: true,
        })
    };
    let recovery = if posture.recovery_recipients > 0 {
        lang.pick(
            &format!(
                " und an {} getrennt verwahrte Wiederherstellungsschlüssel",
                posture.recovery_recipients
            ),
            &format!(
                " and to {} separately kept recovery keys",
                posture.recovery_recipients
            ),
        )
    } else {
        String::new()
    };
    push(
        "encryption_at_rest",
        Control::Encryption,
        lang.pick(
            &format!("Nachrichteninhalte, Rohdaten der Plattformen, Dateien sowie Adressen und Namen der Kontakte werden mit XChaCha20-Poly1305 verschlüsselt gespeichert, unter einem eigenen Schlüssel je Kontakt (gebunden an einen Periodenschlüssel je Mandant, Kanal und Monat); jeder Datenschlüssel ist mit age (X25519) an den Hauptschlüssel{recovery} gebunden."),
            &format!("Message contents, raw platform payloads, files and contacts' addresses and names are stored encrypted with XChaCha20-Poly1305 under a key of their own per contact (bound to a period key per tenant, channel and month); every data key is wrapped with age (X25519) to the master key{recovery}."),
        ),
    );
    push(
        "pseudonymised_lookup",
        Control::Encryption,
        lang.pick(
            "Telefonnummern und Plattform-Kennungen sind nur über einen Blindindex (HMAC-SHA-256 mit mandanteneigenem Schlüssel) auffindbar; im Klartext liegen sie nicht vor.",
            "Phone numbers and platform ids can only be looked up through a blind index (HMAC-SHA-256 under a per-tenant key); they are not stored in clear.",
        ),
    );
    if posture.tls {
        push(
            "tls_listener",
            Control::Transfer,
            lang.pick(
                "Die API und die Webhook-Endpunkte sind nur über TLS 1.2 oder 1.3 (rustls, moderne Cipher-Suites) erreichbar.",
                "The API and the webhook endpoints are served over TLS 1.2 or 1.3 only (rustls, modern cipher suites).",
            ),
        );
    } else {
        inactive.push("tls_listener");
        push(
            "tls_listener",
            Control::Transfer,
            lang.pick(
                "Transportverschlüsselung am Server: NICHT AKTIV. Der Server spricht kein TLS; zulässig ist das nur auf Loopback oder hinter einem TLS-Proxy auf demselben Rechner, dessen Konfiguration Hafen nicht kennt und hier nicht bestätigt.",
                "Transport encryption at the server: NOT ACTIVE. The server does not speak TLS; that is allowed only on loopback or behind a TLS proxy on the same host, whose configuration Hafen does not know and does not confirm here.",
            ),
        );
    }
    let platforms = match tenant {
        Some(t) => t.platforms(),
        None => Vec::new(),
    };
    if !platforms.is_empty() {
        let mut checks = Vec::new();
        if platforms.iter().any(|p| p.is_meta()) {
            checks.push(lang.pick(
                "WhatsApp/Messenger: HMAC-SHA-256-Signatur (X-Hub-Signature-256) mit dem App-Secret",
                "WhatsApp/Messenger: HMAC-SHA-256 signature (X-Hub-Signature-256) with the app secret",
            ));
        }
        if platforms.contains(&Platform::Telegram) {
            checks.push(lang.pick(
                "Telegram: geheimes Token (X-Telegram-Bot-Api-Secret-Token)",
                "Telegram: secret token (X-Telegram-Bot-Api-Secret-Token)",
            ));
        }
        push(
            "webhook_signatures",
            Control::Transfer,
            lang.pick(
                &format!("Eingehende Webhooks werden vor jeder Verarbeitung in konstanter Zeit geprüft und andernfalls verworfen und protokolliert — {}.", checks.join("; ")),
                &format!("Incoming webhooks are verified in constant time before any processing, and rejected and logged otherwise — {}.", checks.join("; ")),
            ),
        );
    }
    push(
        "outbound_allow_list",
        Control::Transfer,
        lang.pick(
            "Ausgehende Verbindungen nur zu den konfigurierten Plattform-APIs, deren Datei-Servern und freigegebenen Hosts (Allow-List im HTTP-Client, auch für Weiterleitungen); alles andere wird abgelehnt und protokolliert. Dazu kommen die Event-Webhooks, die ein Mandant selbst einträgt.",
            "Outbound connections only to the configured platform APIs, their file servers and allowed hosts (allow-list in the HTTP client, redirects included); everything else is refused and logged. Plus the event webhooks a tenant registers itself.",
        ),
    );
    let tokens: i64 = install.tokens.values().sum();
    push(
        "api_tokens",
        Control::SystemAccess,
        lang.pick(
            &format!("Zugang zur API nur mit einem persönlichen Token (Bearer); gespeichert ist nur dessen SHA-256-Hash, der Vergleich erfolgt in konstanter Zeit; {tokens} aktive Tokens."),
            &format!("API access only with a personal bearer token; only its SHA-256 hash is stored and compared in constant time; {tokens} active tokens."),
        ),
    );
    push(
        "roles",
        Control::DataAccess,
        lang.pick(
            "Rollenmodell (admin, tenant_admin, dpo, agent, ingest): Inhalte lesen nur berechtigte Rollen; eingeschränkte Daten (Art. 18 DSGVO) liest nur der Datenschutzbeauftragte unter Angabe eines Grundes nach Art. 18 Abs. 2.",
            "Role model (admin, tenant_admin, dpo, agent, ingest): only entitled roles read contents; restricted data (Art. 18 GDPR) is read by the DPO alone, naming an Art. 18(2) ground.",
        ),
    );
    let audit_years = if posture.audit_years == 0 {
        lang.pick("unbefristet", "without limit")
    } else {
        lang.pick(
            &format!("{} Jahre", posture.audit_years),
            &format!("{} years", posture.audit_years),
        )
    };
    push(
        "audit_chain",
        Control::Input,
        lang.pick(
            &format!("Jeder Lesezugriff auf personenbezogene Daten und jede Änderung wird in derselben Transaktion in ein manipulationssicheres Protokoll (SHA-256-Hashkette, prüfbar mit `hafen audit verify`) geschrieben; Aufbewahrung {audit_years}."),
            &format!("Every read of personal data and every change is written, in the same transaction, to a tamper-evident log (SHA-256 hash chain, checked by `hafen audit verify`); kept for {audit_years}."),
        ),
    );
    if let Some(t) = tenant {
        if !t.purposes.is_empty() {
            push(
                "consent_ledger",
                Control::Input,
                lang.pick(
                    &format!("Einwilligungen (Double-Opt-in) für {} Zwecke werden in einem hashverketteten Nachweisregister mit Text und Version geführt; Werbenachrichten ohne bestätigte Einwilligung werden abgelehnt.", t.purposes.len()),
                    &format!("Consents (double opt-in) for {} purposes are kept in a hash-chained ledger with the text and its version; promotional messages without confirmed consent are refused.", t.purposes.len()),
                ),
            );
        }
    }
    if posture.require_approval {
        push(
            "four_eyes_retention",
            Control::Instructions,
            lang.pick(
                "Änderungen der Löschregeln werden erst wirksam, wenn eine zweite berechtigte Person sie nach Ansicht des Probelaufs freigibt (Vier-Augen-Prinzip).",
                "Changes to the deletion rules take effect only once a second authorised person approves them after seeing the dry run (four-eyes principle).",
            ),
        );
    } else {
        inactive.push("four_eyes_retention");
        push(
            "four_eyes_retention",
            Control::Instructions,
            lang.pick(
                "Vier-Augen-Prinzip für Löschregeln: NICHT AKTIV. Eine berechtigte Person kann neue Löschregeln allein aktivieren, nachdem sie den Probelauf angesehen hat.",
                "Four-eyes principle for deletion rules: NOT ACTIVE. One authorised person can activate new deletion rules alone, after seeing the dry run.",
            ),
        );
    }
    push(
        "tenant_separation",
        Control::Separation,
        lang.pick(
            &format!("Mandantentrennung: jeder Mandant hat eigene Daten- und Indexschlüssel, jede Abfrage ist auf einen Mandanten beschränkt, Tokens gelten für genau einen Mandanten; {} Mandanten in dieser Installation.", install.tenants.len()),
            &format!("Tenant separation: every tenant has its own data and index keys, every query is scoped to one tenant, tokens belong to exactly one tenant; {} tenants on this install.", install.tenants.len()),
        ),
    );
    match (posture.backend.as_str(), posture.sqlite_full_sync) {
        ("sqlite", true) => push(
            "durable_commit",
            Control::Availability,
            lang.pick(
                "Eingänge werden erst bestätigt, wenn sie dauerhaft geschrieben sind (SQLite, WAL, synchronous=FULL).",
                "Submissions are acknowledged only once durably written (SQLite, WAL, synchronous=FULL).",
            ),
        ),
        ("postgresql", _) => push(
            "durable_commit",
            Control::Availability,
            lang.pick(
                "Eingänge werden erst nach dem COMMIT in PostgreSQL bestätigt.",
                "Submissions are acknowledged only after their COMMIT in PostgreSQL.",
            ),
        ),
        _ => {
            inactive.push("durable_commit");
            push(
                "durable_commit",
                Control::Availability,
                lang.pick(
                    "Dauerhaftes Schreiben vor der Bestätigung: EINGESCHRÄNKT. SQLite mit synchronous=NORMAL übersteht einen Absturz des Programms, aber nicht jeden Stromausfall.",
                    "Durable write before acknowledging: LIMITED. SQLite with synchronous=NORMAL survives a crash of the program, but not every power loss.",
                ),
            );
        }
    }
    if let Some(at) = install.last_backup {
        let at = at.format("%Y-%m-%d %H:%M UTC");
        push(
            "backups",
            Control::Availability,
            lang.pick(
                &format!("Konsistente Online-Sicherungen (`hafen backup`), Daten und Schlüsselspeicher getrennt, der Schlüsselspeicher mit age verschlüsselt; letzte Sicherung: {at}."),
                &format!("Consistent online backups (`hafen backup`), data and keystore apart, the keystore age-encrypted; last backup: {at}."),
            ),
        );
    } else {
        inactive.push("backups");
        push(
            "backups",
            Control::Availability,
            lang.pick(
                "Datensicherung: NICHT NACHGEWIESEN. Es ist keine abgeschlossene Sicherung aufgezeichnet.",
                "Backups: NOT EVIDENCED. No finished backup is recorded.",
            ),
        );
    }
    if posture.recovery_recipients > 0 {
        push(
            "key_recovery",
            Control::Recovery,
            lang.pick(
                &format!("Alle Schlüssel sind zusätzlich an {} getrennt verwahrte Wiederherstellungsschlüssel (age) gebunden, so dass Daten nach Verlust des Hauptschlüssels wiederhergestellt werden können.", posture.recovery_recipients),
                &format!("Every key is also wrapped to {} separately kept recovery keys (age), so data can be restored after the loss of the master key.", posture.recovery_recipients),
            ),
        );
    } else {
        inactive.push("key_recovery");
        push(
            "key_recovery",
            Control::Recovery,
            lang.pick(
                "Wiederherstellungsschlüssel: NICHT AKTIV. Ohne den Hauptschlüssel sind weder die Daten noch die Sicherungen lesbar.",
                "Recovery keys: NOT ACTIVE. Without the master key neither the data nor the backups can be read.",
            ),
        );
    }
    if let Some(t) = tenant {
        let version = if t.rules_version == 0 {
            lang.pick(
                "die Standardregeln der Installation",
                "the install's default rules",
            )
        } else {
            lang.pick(
                &format!("Version {} der Löschregeln", t.rules_version),
                &format!("version {} of the deletion rules", t.rules_version),
            )
        };
        let schedule = if posture.retention_schedule.is_empty() {
            String::new()
        } else {
            lang.pick(
                &format!(" nach dem Zeitplan „{}“ (cron)", posture.retention_schedule),
                &format!(" on the schedule \"{}\" (cron)", posture.retention_schedule),
            )
        };
        if posture.retention_schedule.is_empty() {
            inactive.push("retention_enforced");
            push(
                "retention_enforced",
                Control::Erasure,
                lang.pick(
                    &format!("Automatische Durchsetzung der Löschfristen: NICHT AKTIV. Es ist kein Zeitplan konfiguriert; gelöscht wird nur, wenn jemand einen Löschlauf startet (`hafen retention run` oder die API). In Kraft ist {version} ({} Regeln); jeder Lauf hinterlässt ein hashverkettetes Löschprotokoll.", t.rules.rules.len()),
                    &format!("Automatic enforcement of the deletion periods: NOT ACTIVE. No schedule is configured; data is deleted only when someone starts a run (`hafen retention run` or the API). {version} is in force ({} rules); every run leaves a hash-chained deletion certificate.", t.rules.rules.len()),
                ),
            );
        } else {
            push(
                "retention_enforced",
                Control::Erasure,
                lang.pick(
                    &format!("Löschfristen werden automatisch durchgesetzt{schedule}: in Kraft ist {version} ({} Regeln); jeder Löschlauf hinterlässt ein hashverkettetes Löschprotokoll.", t.rules.rules.len()),
                    &format!("Deletion periods are enforced automatically{schedule}: {version} is in force ({} rules); every run leaves a hash-chained deletion certificate.", t.rules.rules.len()),
                ),
            );
        }
        push(
            "crypto_shredding",
            Control::Erasure,
            crypto_shredding(posture, lang),
        );
    }
    if posture.backend == "sqlite" {
        push(
            "secure_delete",
            Control::Erasure,
            lang.pick(
                "Gelöschte Datensätze werden in der Datenbankdatei überschrieben (SQLite secure_delete), freier Platz wird zurückgegeben.",
                "Deleted records are overwritten in the database file (SQLite secure_delete) and free space is given back.",
            ),
        );
    }
    if let Some(country) = &posture.storage_country {
        push(
            "storage_location",
            Control::Transfer,
            lang.pick(
                &format!("Speicherort der Daten laut Konfiguration: {country}; Hafen läuft auf eigener Hardware des Auftragsverarbeiters."),
                &format!("Storage location as configured: {country}; Hafen runs on the processor's own hardware."),
            ),
        );
    }
    for measure in &mut m {
        measure.active = !inactive.contains(&measure.id);
    }
    m
}

/// What destroying a key achieves, honestly: the data is unreadable at once in the database,
/// and in backups once the backups that still carry the key are gone.
pub(super) fn crypto_shredding(posture: &Posture, lang: Lang) -> String {
    let lifetime = match (posture.backup_schedule.as_str(), daily(&posture.backup_schedule)) {
        ("", _) => lang.pick(
            "Sicherungen werden nicht nach Zeitplan erstellt: eine von Hand erstellte Sicherung hält vernichtete Schlüssel lesbar, bis sie gelöscht wird.",
            "Backups are not scheduled: a backup made by hand keeps destroyed keys readable until it is deleted.",
        ),
        (_, true) => lang.pick(
            &format!("Jede Sicherung enthält den Schlüsselspeicher ihrer Zeit; bei täglichen Sicherungen und {} aufbewahrten Generationen ist ein vernichteter Schlüssel nach spätestens {} Tagen auch in allen Sicherungen fort.", posture.backup_keep, posture.backup_keep + 1),
            &format!("Every backup holds the keystore of its time; with daily backups and {} generations kept, a destroyed key is gone from every backup after {} days at the latest.", posture.backup_keep, posture.backup_keep + 1),
        ),
        (schedule, false) => lang.pick(
            &format!("Jede Sicherung enthält den Schlüsselspeicher ihrer Zeit; ein vernichteter Schlüssel ist fort, wenn die {} aufbewahrten Sicherungen (Zeitplan „{schedule}“) durch neuere ersetzt sind.", posture.backup_keep),
            &format!("Every backup holds the keystore of its time; a destroyed key is gone once the {} backups kept (schedule \"{schedule}\") have been replaced by newer ones.", posture.backup_keep),
        ),
    };
    lang.pick(
        &format!("Crypto-Shredding: Schlüssel abgelaufener Monate und gelöschter Kontakte werden vernichtet; die Daten sind damit in der Datenbank sofort unlesbar. {lifetime}"),
        &format!("Crypto-shredding: keys of expired months and of erased contacts are destroyed, which makes the data unreadable in the database at once. {lifetime}"),
    )
}

/// Whether a six-field cron expression fires once a day (fixed second, minute and hour).
pub(super) fn daily(cron: &str) -> bool {
    let f: Vec<&str> = cron.split_whitespace().collect();
    f.len() == 6
        && f[..3].iter().all(|x| x.chars().all(|c| c.is_ascii_digit()))
        && f[3..].iter().all(|x| *x == "*" || *x == "?")
}
