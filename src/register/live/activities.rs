//! The processing activities Hafen itself carries out for a controller, pre-filled for the
//! record of processing from the channels in use and completed by what the DPO entered.

use super::*;

pub(super) const MESSAGE_CATEGORIES: [Category; 5] = [
    Category::Contacts,
    Category::MessageContent,
    Category::Attachments,
    Category::MessageMetadata,
    Category::DeliveryStatuses,
];

/// A processing activity with everything the Art. 30(1) record lists.
#[derive(Debug, Clone)]
pub struct ActivityRecord {
    pub key: String,
    pub name: String,
    pub purposes: Vec<String>,
    pub legal_basis: String,
    pub data_subject_categories: Vec<String>,
    pub data_categories: Vec<String>,
    pub recipients: Vec<String>,
    pub erasure: Vec<String>,
    /// Joint controllers (Art. 26 GDPR) and what they are jointly responsible for.
    pub joint_controllers: Vec<String>,
    /// Generated from the live configuration (true) or entered by hand (false).
    pub generated: bool,
    /// A generated activity whose fields a person completed.
    pub completed_by_hand: bool,
    /// What is done with the data, in this activity's own terms (Art. 30(2)(b)).
    pub nature: String,
    /// The rest of the DSK template, as entered in the register (None: not entered).
    pub details: ActivityDetails,
}

/// What only a person can say about an activity (Art. 9 data, DPIA, who is responsible, …);
/// Hafen states what it knows (no profiling by Hafen) and leaves the rest visibly open.
#[derive(Debug, Clone, Default)]
pub struct ActivityDetails {
    pub special_categories: Option<bool>,
    pub profiling: Option<bool>,
    pub dpia: Option<String>,
    pub legitimate_interest_assessment: Option<String>,
    pub department: Option<String>,
    pub contact_person: Option<String>,
    pub storage_location: Option<String>,
    pub processor_contract: Option<String>,
    pub review_status: Option<crate::register::ReviewStatus>,
    pub reviewed_on: Option<chrono::NaiveDate>,
}

impl ActivityDetails {
    pub(super) fn from_register(m: &Activity) -> Self {
        Self {
            special_categories: m.special_categories,
            profiling: m.profiling,
            dpia: m.dpia.clone(),
            legitimate_interest_assessment: m.legitimate_interest_assessment.clone(),
            department: m.department.clone(),
            contact_person: m.contact_person.clone(),
            storage_location: m.storage_location.clone(),
            processor_contract: m.processor_contract.clone(),
            review_status: m.review_status,
            reviewed_on: m.reviewed_on,
        }
    }

    /// The register's entries over what Hafen filled in.
    pub(super) fn complete(&mut self, m: &Activity) {
        let given = Self::from_register(m);
        macro_rules! take {
            ($($f:ident),*) => { $( if given.$f.is_some() { self.$f = given.$f.clone(); } )* };
        }
        take!(
            special_categories,
            profiling,
            dpia,
            legitimate_interest_assessment,
            department,
            contact_person,
            storage_location,
            processor_contract,
            review_status,
            reviewed_on
        );
    }
}

/// Hafen builds no profiles and takes no automated decisions; a chatbot the controller
/// connects may, which the register says.
pub(super) fn hafen_details() -> ActivityDetails {
    ActivityDetails {
        profiling: Some(false),
        ..ActivityDetails::default()
    }
}

/// What Hafen does with a channel's messages, in the platform's terms.
pub(super) fn channel_nature(p: Platform, lang: Lang) -> String {
    match p {
        Platform::Whatsapp => lang.pick(
            "Empfang von WhatsApp-Nachrichten über die WhatsApp Cloud API (Webhook, Signatur geprüft), verschlüsselte Speicherung, Versand von Antworten und Vorlagen-Nachrichten über die Graph API, Abruf von Mediendateien, Auskunft und Löschung nach den Löschregeln",
            "Receiving WhatsApp messages through the WhatsApp Cloud API (webhook, signature checked), encrypted storage, sending replies and template messages through the Graph API, fetching media files, access and erasure by the deletion rules",
        ),
        Platform::Messenger => lang.pick(
            "Empfang von Nachrichten an die Facebook-Seite über die Messenger-Plattform (Webhook, Signatur geprüft), verschlüsselte Speicherung, Versand von Antworten über die Send API, Auskunft und Löschung nach den Löschregeln",
            "Receiving messages to the Facebook page through the Messenger Platform (webhook, signature checked), encrypted storage, sending replies through the Send API, access and erasure by the deletion rules",
        ),
        Platform::Telegram => lang.pick(
            "Empfang von Nachrichten an den Telegram-Bot (Webhook mit geheimem Token), verschlüsselte Speicherung, Versand von Antworten über die Bot API, Abruf von Dateien, Auskunft und Löschung nach den Löschregeln",
            "Receiving messages to the Telegram bot (webhook with a secret token), encrypted storage, sending replies through the Bot API, fetching files, access and erasure by the deletion rules",
        ),
    }
}

/// The activities Hafen sees (one per channel, one per consent purpose), completed and
/// extended by the hand-entered ones (same key: the given fields win).
pub fn activities(facts: &TenantFacts, manual: &[Activity], lang: Lang) -> Vec<ActivityRecord> {
    let mut out = Vec::new();
    for ch in &facts.channels {
        let platform = ch.platform.label();
        let mut recipients = vec![platform_subprocessor(ch.platform, lang).name];
        if facts.event_hooks > 0 {
            recipients.push(lang.pick(
                "Systeme des Verantwortlichen (Event-Webhooks)",
                "The controller's systems (event webhooks)",
            ));
        }
        let bot = facts.bots.iter().find(|b| b.channel_id == ch.id);
        if let Some(bot) = bot {
            recipients.push(lang.pick(
                &format!(
                    "Chatbot „{}“ des Verantwortlichen (erhält die Nachrichten des Kanals)",
                    bot.name
                ),
                &format!(
                    "The controller's chatbot \u{201c}{}\u{201d} (receives the channel's messages)",
                    bot.name
                ),
            ));
        }
        out.push(ActivityRecord {
            key: format!("channel:{}", ch.id),
            name: lang.pick(
                &format!("{platform}-Kommunikation – {}", ch.name),
                &format!("{platform} communication – {}", ch.name),
            ),
            purposes: std::iter::once(lang.pick(
                &format!("Kommunikation mit Kunden und Beschäftigten über {platform} (Anfragen, Kundenservice, Chatbots)"),
                &format!("Communication with customers and staff over {platform} (requests, customer service, chatbots)"),
            ))
            .chain(bot.map(|b| {
                let decides = match b.automated_decisions() {
                    Some(d) => lang.pick(
                        &format!("; trifft automatisierte Entscheidungen (Art. 22 DSGVO): {} – Auswirkungen: {}", d.logic, d.effects),
                        &format!("; takes automated decisions (Art. 22 GDPR): {} – effects: {}", d.logic, d.effects),
                    ),
                    None => String::new(),
                };
                lang.pick(
                    &format!("Automatische Antworten durch den Chatbot „{}“: {}, mit Übergabe an Beschäftigte{decides}", b.name, b.purpose),
                    &format!("Automated replies by the chatbot \u{201c}{}\u{201d}: {}, with hand-over to staff{decides}", b.name, b.purpose),
                )
            }))
            .collect(),
            legal_basis: lang.pick(
                "Art. 6 Abs. 1 lit. b DSGVO (Vertrag, vorvertragliche Anfrage); Art. 6 Abs. 1 lit. f DSGVO (Beantwortung von Anfragen)",
                "Art. 6(1)(b) GDPR (contract, pre-contractual requests); Art. 6(1)(f) GDPR (answering requests)",
            ),
            data_subject_categories: vec![
                lang.pick(
                    &format!("Kunden und Interessenten, die über {platform} schreiben"),
                    &format!("Customers and prospects writing over {platform}"),
                ),
                lang.pick("Beschäftigte des Verantwortlichen", "The controller's staff"),
            ],
            data_categories: vec![
                lang.pick("Telefonnummer bzw. Plattform-Kennung", "Phone number or platform id"),
                lang.pick("Profilname", "Profile name"),
                lang.pick("Nachrichteninhalte und Dateien", "Message contents and files"),
                lang.pick("Zeitpunkte und Zustellstatus", "Times and delivery statuses"),
            ],
            recipients,
            erasure: erasure_periods(
                &facts.rules,
                &MESSAGE_CATEGORIES,
                Some(ch.platform.as_str()),
                lang,
            ),
            joint_controllers: joint_controllers(ch.platform, lang),
            generated: true,
            completed_by_hand: false,
            nature: channel_nature(ch.platform, lang),
            // The channel's bot says whether it decides about people (Art. 22).
            details: ActivityDetails {
                profiling: Some(bot.is_some_and(|b| b.automated_decisions().is_some())),
                ..hafen_details()
            },
        });
    }
    let platforms = facts.platforms();
    for (id, name) in &facts.purposes {
        out.push(ActivityRecord {
            key: format!("consent:{id}"),
            name: lang.pick(
                &format!("Nachrichten mit Einwilligung (Double-Opt-in) – {name}"),
                &format!("Messages with consent (double opt-in) – {name}"),
            ),
            purposes: vec![lang.pick(
                &format!("Versand von Nachrichten zum Zweck „{name}“ an Personen, die eingewilligt haben"),
                &format!("Sending messages for the purpose \"{name}\" to people who consented"),
            )],
            legal_basis: lang.pick(
                "Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 2 UWG (ausdrückliche Einwilligung, Double-Opt-in)",
                "Art. 6(1)(a) GDPR, § 7(2) no. 2 UWG (express consent, double opt-in)",
            ),
            data_subject_categories: vec![lang.pick(
                "Empfänger, die eingewilligt haben oder um Einwilligung gebeten wurden",
                "Recipients who consented or were asked to",
            )],
            data_categories: vec![
                lang.pick("Telefonnummer bzw. Plattform-Kennung", "Phone number or platform id"),
                lang.pick(
                    "Einwilligungsnachweis: Zeitpunkte, Text und Version, Quelle; IP-Adresse und User-Agent bei Web-Anmeldung",
                    "Consent proof: times, text and version, source; IP address and user agent for web sign-ups",
                ),
            ],
            recipients: platforms
                .iter()
                .map(|p| platform_subprocessor(*p, lang).name)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            erasure: erasure_periods(
                &facts.rules,
                &[Category::ConsentRequests, Category::ConsentProofs],
                None,
                lang,
            ),
            joint_controllers: Vec::new(),
            generated: true,
            completed_by_hand: false,
            nature: lang.pick(
                &format!("Einwilligung zum Zweck „{name}“ anfragen und per Double-Opt-in bestätigen lassen, jeden Schritt im manipulationsgeschützten Einwilligungsprotokoll festhalten, Nachrichten nur an Bestätigte senden, Widerruf (STOP) sofort beachten, Nachweise nach den Löschregeln löschen"),
                &format!("Asking for consent to \"{name}\" and having it confirmed by double opt-in, recording every step in the tamper-evident consent ledger, sending only to those who confirmed, honouring withdrawal (STOP) at once, erasing proofs by the deletion rules"),
            ),
            details: hafen_details(),
        });
    }
    for m in manual {
        match out.iter_mut().find(|a| a.key == m.key) {
            Some(a) => {
                a.completed_by_hand = true;
                if let Some(v) = &m.name {
                    a.name = v.clone();
                }
                if let Some(v) = &m.purposes {
                    a.purposes = v.clone();
                }
                if let Some(v) = &m.legal_basis {
                    a.legal_basis = v.clone();
                }
                if let Some(v) = &m.data_subject_categories {
                    a.data_subject_categories = v.clone();
                }
                if let Some(v) = &m.data_categories {
                    a.data_categories = v.clone();
                }
                if let Some(v) = &m.recipients {
                    a.recipients = v.clone();
                }
                if let Some(v) = &m.erasure {
                    a.erasure = v.clone();
                }
                if let Some(v) = &m.joint_controllers {
                    a.joint_controllers = v.clone();
                }
                a.details.complete(m);
            }
            None => out.push(ActivityRecord {
                key: m.key.clone(),
                name: m.name.clone().unwrap_or_else(|| m.key.clone()),
                purposes: m.purposes.clone().unwrap_or_default(),
                legal_basis: m.legal_basis.clone().unwrap_or_default(),
                data_subject_categories: m.data_subject_categories.clone().unwrap_or_default(),
                data_categories: m.data_categories.clone().unwrap_or_default(),
                recipients: m.recipients.clone().unwrap_or_default(),
                erasure: m.erasure.clone().unwrap_or_default(),
                joint_controllers: m.joint_controllers.clone().unwrap_or_default(),
                generated: false,
                completed_by_hand: true,
                nature: m.purposes.clone().unwrap_or_default().join("; "),
                details: ActivityDetails::from_register(m),
            }),
        }
    }
    out
}
