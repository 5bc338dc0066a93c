//! Every word of the web interface, in German and English. One `Text` variant per string, so
//! a page cannot use a string that lacks a translation: the compiler refuses.

pub use crate::records::Lang;

macro_rules! texts {
    ($($name:ident => $de:literal, $en:literal;)*) => {
        /// A string of the interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text { $($name),* }

        impl Text {
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Text::$name, Lang::De) => $de, (Text::$name, Lang::En) => $en,)*
                }
            }
        }
    };
}

texts! {
    Product => "Hafen", "Hafen";
    SkipToContent => "Zum Inhalt springen", "Skip to content";
    SignIn => "Anmelden", "Sign in";
    SignOut => "Abmelden", "Sign out";
    Login => "Benutzername oder E-Mail", "User name or e-mail";
    Password => "Passwort", "Password";
    TotpCode => "Einmalcode (falls Zwei-Faktor aktiv)", "One-time code (if two-factor is on)";
    SignInFailed => "Anmeldung fehlgeschlagen. Nach 5 Fehlversuchen wird die Anmeldung für 15 Minuten gesperrt.", "Sign-in failed. After 5 failed attempts, sign-in is locked for 15 minutes.";
    SignInExpired => "Das Formular ist abgelaufen. Bitte erneut versuchen.", "The form expired. Please try again.";
    Language => "Sprache", "Language";
    Dashboard => "Übersicht", "Dashboard";
    Tenants => "Mandanten", "Tenants";
    Tenant => "Mandant", "Tenant";
    Channels => "Kanäle", "Channels";
    Retention => "Löschregeln", "Retention";
    Holds => "Aufbewahrungssperren", "Legal holds";
    Consent => "Einwilligungen", "Consent";
    Contacts => "Kontakte", "Contacts";
    Requests => "Betroffenenanfragen", "Data-subject requests";
    Reports => "Berichte", "Reports";
    Audit => "Prüfprotokoll", "Audit log";
    Certificates => "Löschnachweise", "Deletion certificates";
    Users => "Benutzer", "Users";
    Tokens => "API-Tokens", "API tokens";
    ApiToken => "API-Token", "API token";
    Unknown => "unbekannt", "unknown";
    Incoming => "Eingehend", "Incoming";
    AllTenants => "alle Mandanten", "all tenants";
    AuditArea => "Bereich", "Area";
    AllEntries => "alle Einträge", "all entries";
    Filter => "Filtern", "Filter";
    GroupSignIns => "Anmeldungen und Benutzer", "Sign-ins and users";
    GroupContacts => "Kontakte: Lesen, Sperren, Dateien", "Contacts: reads, restriction, files";
    GroupChannels => "Mandanten, Kanäle, Event-Webhooks", "Tenants, channels, event hooks";
    GroupMessages => "Nachrichten: Eingang, Versand, Zustellung", "Messages: received, sent, delivered";
    GroupWebhooks => "Abgewiesene Plattform-Webhooks", "Refused platform webhooks";
    Outgoing => "Ausgehend", "Outgoing";
    ConfirmErasure => "Löschung bestätigen", "Confirm the erasure";
    ConfirmErasureHint => "Löschen lässt sich nicht rückgängig machen. Das geschieht mit den Daten dieser Person nach den Löschregeln, die jetzt gelten; was aufbewahrt wird, wird gesperrt und nur noch für diesen Zweck verwendet.", "Erasing cannot be undone. This is what happens to this person's data under the retention rules in force now; what is kept is restricted and used for that purpose only.";
    Data => "Daten", "Data";
    Count => "Anzahl", "Count";
    WhatHappens => "Was geschieht", "What happens";
    WillBeErased => "wird gelöscht", "erased";
    MayBeKept => "bleibt gesperrt aufbewahrt, bis die Frist endet", "kept, restricted, until its period ends";
    NothingStored => "Zu dieser Person sind keine Daten mehr gespeichert.", "No data on this person is stored any more.";
    HoldsKeep => "Für diesen Mandanten gilt eine Aufbewahrungssperre: Was sie erfasst, bleibt, solange sie gilt.", "A legal hold applies to this tenant: what it covers stays while it lasts.";
    EraseNow => "Jetzt endgültig löschen", "Erase now, for good";
    Cancel => "Abbrechen", "Cancel";
    PageNotFound => "Seite nicht gefunden", "Page not found";
    PageNotFoundHint => "Diese Adresse gibt es in Hafen nicht. Vielleicht war der Link alt oder unvollständig.", "Hafen has no page at this address. The link may be old or incomplete.";
    ToTheInterface => "Zur Übersicht", "To the dashboard";
    CommandLine => "Kommandozeile (hafen)", "command line (hafen)";
    SystemActor => "Hafen (automatisch)", "Hafen (automatic)";
    WebhookActor => "Plattform-Webhook", "platform webhook";
    TokensHint => "Jedes System, das Hafen aufruft, bekommt ein eigenes Token mit Namen und, wo es sich erneuern lässt, einem Ablaufdatum. Ein widerrufenes Token wird sofort abgewiesen, auf jeder Instanz.", "Every system that calls Hafen gets its own token, with a name and, where it can be renewed, an end. A revoked token is refused at once, on every instance.";
    TokenShownOnce => "Das neue Token – jetzt kopieren, es wird nie wieder angezeigt:", "The new token — copy it now, it is never shown again:";
    TokenRevoked => "widerrufen", "revoked";
    TokenActive => "gültig", "active";
    TokenExpired => "abgelaufen", "expired";
    Revoke => "Widerrufen", "Revoke";
    CreateToken => "Token ausstellen", "Issue a token";
    CreatedBy => "Ausgestellt von", "Issued by";
    LastUsed => "Zuletzt benutzt", "Last used";
    Expires => "Läuft ab", "Expires";
    ExpiresInDays => "Gültig für Tage (leer: ohne Ablauf oder die Höchstdauer der Installation)", "Valid for days (empty: no end, or the install's maximum)";
    SignedInAs => "Angemeldet als", "Signed in as";
    IngestRate => "Eingang", "Ingest";
    LastHour => "letzte Stunde", "last hour";
    LastDay => "letzte 24 Stunden", "last 24 hours";
    Messages => "Nachrichten", "messages";
    ChannelHealth => "Kanalstatus", "Channel health";
    LastMessage => "Letzte Nachricht", "Last message";
    Never => "nie", "never";
    Enabled => "aktiv", "enabled";
    Disabled => "deaktiviert", "disabled";
    RetentionOverdue => "Überfällige Löschungen", "Retention overdue";
    LastRun => "Letzter erfolgreicher Lauf", "Last successful run";
    OpenRequests => "Offene Anfragen", "Open requests";
    Deadline => "Frist", "Deadline";
    Overdue => "überfällig", "overdue";
    LastBackup => "Letzte Sicherung", "Last backup";
    NoBackup => "Noch keine Sicherung", "No backup yet";
    None_ => "Keine", "None";
    Name => "Name", "Name";
    Created => "Angelegt", "Created";
    CreateTenant => "Mandant anlegen", "Create tenant";
    TenantName => "Name des Verantwortlichen (z. B. Muster GmbH)", "Controller's name (e.g. Muster GmbH)";
    Open => "Öffnen", "Open";
    Platform => "Plattform", "Platform";
    AccountId => "Konto-ID (WhatsApp phone_number_id, Facebook-Seiten-ID, Telegram-Bot-ID)", "Account id (WhatsApp phone_number_id, Facebook page id, Telegram bot id)";
    AppSecret => "App-Secret (WhatsApp, Messenger)", "App secret (WhatsApp, Messenger)";
    VerifyToken => "Verify-Token (WhatsApp, Messenger)", "Verify token (WhatsApp, Messenger)";
    AccessToken => "Access-Token (WhatsApp, Messenger)", "Access token (WhatsApp, Messenger)";
    BotToken => "Bot-Token (Telegram)", "Bot token (Telegram)";
    WebhookSecret => "Webhook-Secret (Telegram)", "Webhook secret (Telegram)";
    ConnectChannel => "Kanal verbinden", "Connect channel";
    WebhookUrl => "Webhook-URL (bei der Plattform eintragen)", "Webhook URL (enter it at the platform)";
    TestConnection => "Verbindung testen", "Test connection";
    ConnectionOk => "Verbindung in Ordnung", "Connection works";
    ConnectionFailed => "Verbindung fehlgeschlagen", "Connection failed";
    SecretsHint => "Secrets werden verschlüsselt gespeichert und nie wieder angezeigt.", "Secrets are stored encrypted and never shown again.";
    RulesInForce => "Geltende Regeln", "Rules in force";
    Category => "Kategorie", "Category";
    Start => "Fristbeginn", "Period starts at";
    Period => "Frist (z. B. P6Y, P90D, keep)", "Period (e.g. P6Y, P90D, keep)";
    EndOfYear => "ab Jahresende", "from year end";
    LegalBasis => "Rechtsgrundlage", "Legal basis";
    Ground => "Grund der Aufbewahrung bei Löschverlangen", "Ground for keeping on an erasure request";
    GroundStatutory => "gesetzliche Aufbewahrungspflicht (Art. 17 Abs. 3 lit. b DSGVO)", "statutory duty to retain (Art. 17(3)(b) GDPR)";
    GroundContractual => "vertragliche oder satzungsgemäße Frist (§ 35 Abs. 3 BDSG)", "contractual or by-law period (s. 35(3) BDSG)";
    GroundLegalClaims => "Rechtsansprüche (Art. 17 Abs. 3 lit. e DSGVO)", "legal claims (Art. 17(3)(e) GDPR)";
    GroundNone => "keiner: wird auf Verlangen gelöscht", "none: erased on request";
    Norm => "Vorschrift, die die Frist festlegt (z. B. § 257 HGB)", "Provision that sets the period (e.g. s. 257 HGB)";
    MessageClass => "Nachrichtenart", "Kind of message";
    DecisionNeeded => "Entscheidung nötig: das Ende der Aufbewahrung lässt sich nicht berechnen", "Decision needed: the end of keeping cannot be computed";
    Decide => "Entscheiden", "Decide";
    KeepUntilDay => "Aufbewahren bis einschließlich", "Keep until and including";
    EraseNowDecision => "Jetzt löschen", "Erase now";
    LetterPdf => "Brief an die Person (PDF)", "Letter to the person (PDF)";
    ClassOther => "übrige Nachrichten", "other messages";
    ClassLetters => "Handels- und Geschäftsbriefe", "business letters";
    ChannelOptional => "Kanal (leer: alle)", "Channel (empty: all)";
    EditRules => "Regeln bearbeiten", "Edit rules";
    EditRulesHint => "Leere Zeilen werden ignoriert. Vor dem Aktivieren zeigt eine Vorschau, was gelöscht würde.", "Empty rows are ignored. Before activation, a preview shows what would be deleted.";
    ShowPreview => "Vorschau anzeigen", "Show preview";
    Preview => "Vorschau (Probelauf)", "Preview (dry run)";
    DueNow => "Sofort fällig", "Due now";
    Next30Days => "In den nächsten 30 Tagen fällig", "Due within 30 days";
    Activate => "Aktivieren", "Activate";
    ShareOfMessages => "Anteil der Nachrichten, deren Inhalt sofort gelöscht wird", "Share of the messages whose content is deleted at once";
    NeedsApproval => "Diese Regeln löschen mehr, als eine Person allein entscheiden darf: Nach dem Aktivieren wartet die Version auf die Freigabe durch eine zweite Person.", "These rules delete more than one person may decide alone: once activated, the version waits for a second person's approval.";
    ApprovalAlways => "Jede neue Fassung der Löschregeln braucht die Freigabe einer zweiten Person.", "Every new version of the retention rules needs a second person's approval.";
    ApprovalAbove => "Eine zweite Person muss Löschregeln freigeben, die mehr als diesen Anteil der Nachrichten eines Mandanten auf einmal löschen:", "A second person must approve retention rules that delete at once more than this share of a tenant's messages:";
    ActivateHint => "Aktiviert genau diese Regeln. Verlangt die Installation eine zweite Person, wartet die Version auf Freigabe.", "Activates exactly these rules. If the install requires a second person, the version waits for approval.";
    Pending => "Wartet auf Freigabe", "Pending approval";
    Approve => "Freigeben", "Approve";
    Reject => "Ablehnen", "Reject";
    Versions => "Versionen", "Versions";
    Version => "Version", "Version";
    State => "Status", "State";
    ProposedBy => "Vorgeschlagen von", "Proposed by";
    Defaults => "Voreinstellung der Installation", "Install defaults";
    Reason => "Grund", "Reason";
    Until => "Bis (optional, JJJJ-MM-TT)", "Until (optional, YYYY-MM-DD)";
    ContactIdOptional => "Kontakt-ID (leer: ganzer Mandant)", "Contact id (empty: whole tenant)";
    PlaceHold => "Sperre setzen", "Place hold";
    Release => "Aufheben", "Release";
    Purposes => "Zwecke", "Purposes";
    CreatePurpose => "Zweck anlegen", "Create purpose";
    ConsentText => "Einwilligungstext (Deutsch)", "Consent text (German)";
    ConsentTextEn => "Einwilligungstext (Englisch, optional)", "Consent text (English, optional)";
    ConfirmTemplate => "WhatsApp-Vorlage für die Bestätigung", "WhatsApp template for the confirmation";
    WidgetTitle => "Widget-Titel", "Widget title";
    WidgetIntro => "Widget-Einleitung", "Widget intro";
    WidgetColor => "Farbe", "Colour";
    PrivacyUrl => "Link zur Datenschutzerklärung", "Privacy notice link";
    LivePreview => "Live-Vorschau", "Live preview";
    WidgetLink => "Widget", "Widget";
    Lookup => "Kontakt suchen", "Look up contact";
    Address => "Telefonnummer, Seiten- oder Chat-ID", "Phone number, page or chat id";
    LookupHint => "Jede Suche wird im Prüfprotokoll vermerkt.", "Every lookup is recorded in the audit log.";
    Conversation => "Verlauf", "Conversation";
    ContactId => "Kontakt-ID", "Contact id";
    Kind => "Art", "Kind";
    ReceivedOn => "Eingegangen am (JJJJ-MM-TT, leer: heute)", "Received on (YYYY-MM-DD, empty: today)";
    CreateRequest => "Anfrage erfassen", "Register request";
    Export => "Auskunft exportieren", "Export data";
    Erase => "Löschen", "Erase";
    Restrict => "Einschränken", "Restrict";
    Status => "Status", "Status";
    Report => "Bericht", "Report";
    Format => "Format", "Format";
    Download => "Herunterladen", "Download";
    InstallWide => "Installation (Auftragsverarbeiter)", "Install (processor)";
    Time => "Zeit", "Time";
    Actor => "Handelnde", "Actor";
    Action => "Aktion", "Action";
    Object => "Objekt", "Object";
    VerifyChain => "Kette prüfen", "Verify chain";
    ChainIntact => "Kette vollständig und unverändert", "Chain complete and unchanged";
    ChainBroken => "Kette beschädigt", "Chain broken";
    Entries => "Einträge", "entries";
    Deleted => "Gelöscht", "Deleted";
    Role => "Rolle", "Role";
    CreateUser => "Benutzer anlegen", "Create user";
    TwoFactor => "Zwei-Faktor", "Two-factor";
    Locked => "gesperrt", "locked";
    Yes => "ja", "yes";
    No => "nein", "no";
    Back => "Zurück", "Back";
    Error => "Fehler", "Error";
    NotFound => "Nicht gefunden", "Not found";
    Forbidden => "Keine Berechtigung", "Not allowed";
    Saved => "Gespeichert.", "Saved.";
    ChooseTenant => "Mandant wählen", "Choose tenant";
    NoTenant => "Noch kein Mandant angelegt.", "No tenant yet.";
    Save => "Speichern", "Save";
    RunNow => "Löschlauf jetzt starten", "Run retention now";
    Certificate => "Nachweis", "Certificate";
    Items => "Einträge", "Items";
    Account => "Mein Konto", "My account";
    ChangePassword => "Passwort ändern", "Change password";
    CurrentPassword => "Aktuelles Passwort", "Current password";
    NewPasswordLabel => "Neues Passwort (mindestens 12 Zeichen)", "New password (at least 12 characters)";
    PasswordChanged => "Passwort geändert. Ihre anderen Sitzungen wurden beendet.", "Password changed. Your other sessions have ended.";
    TotpOn => "Zwei-Faktor-Anmeldung ist aktiv.", "Two-factor sign-in is on.";
    TotpOff => "Zwei-Faktor-Anmeldung ist aus.", "Two-factor sign-in is off.";
    EnrolTotp => "Zwei-Faktor einrichten", "Set up two-factor";
    EnrolHint => "Tragen Sie den Schlüssel (oder die otpauth-Adresse) in Ihre Authenticator-App ein und bestätigen Sie mit dem aktuellen Code.", "Add the key (or the otpauth address) to your authenticator app and confirm with the current code.";
    TotpKey => "Schlüssel", "Key";
    Confirm => "Bestätigen", "Confirm";
    Disable => "Deaktivieren", "Disable";
    MustChangePassword => "Ihr Passwort wurde von einer Administratorin oder einem Administrator gesetzt. Bitte wählen Sie jetzt ein eigenes: erst dann öffnen sich die anderen Seiten.", "Your password was set by an administrator. Please choose your own now: the other pages open after that.";
    RunFailed => "Fehlgeschlagen oder abgebrochen (siehe Löschnachweise)", "Failed or interrupted (see deletion certificates)";
    OverdueUnknown => "bekannt nach dem nächsten Löschlauf dieser Instanz", "known after this instance's next retention run";
    ResetAccess => "Zugang zurücksetzen", "Reset access";
    ResetHint => "Setzt ein vorläufiges Passwort, entfernt die Zwei-Faktor-Anmeldung, hebt eine Sperre auf und beendet alle Sitzungen. Bei der nächsten Anmeldung wählt die Person ein eigenes Passwort.", "Sets a temporary password, removes two-factor sign-in, lifts a lockout and ends every session. At the next sign-in the person chooses their own password.";
    TemporaryPassword => "Vorläufiges Passwort (mindestens 12 Zeichen)", "Temporary password (at least 12 characters)";
    UserReset => "Zugang zurückgesetzt. Geben Sie das vorläufige Passwort auf einem sicheren Weg weiter.", "Access reset. Pass the temporary password on by a safe route.";
}

impl Text {
    /// The language's own name, for the switch.
    pub fn lang_name(lang: Lang) -> &'static str {
        match lang {
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }
}
