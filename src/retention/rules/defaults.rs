//! The install's default rules (docs/retention.md) and the provisions they cite.

use super::*;

/// The class of messages that are business letters (`RuleInput::class`).
pub const BUSINESS_LETTER: &str = "business_letter";

/// The provisions behind the six-year period for commercial letters.
pub const HGB_NORM: &str = "§ 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB; § 147 Abs. 1 Nr. 2, 3, Abs. 3 AO";

/// The install's defaults, documented in docs/retention.md: messages marked as business
/// letters (they prepare, conclude, execute or cancel a deal) are kept six years from the end
/// of the year under § 257 HGB / § 147 AO; every other message — most customer chats — goes a
/// year after the conversation falls silent (Art. 5(1)(e)); contacts go a year after their
/// last message, once nothing refers to them.
pub fn defaults() -> RuleSet {
    let hgb =
        "Handels- und Geschäftsbriefe: 6 Jahre ab Ende des Kalenderjahres (§ 257 HGB, § 147 AO)";
    let chat = "Art. 5 Abs. 1 lit. e DSGVO: Kundenkommunikation ohne Handelsbriefcharakter, 1 Jahr nach der letzten Nachricht";
    // Commercial and tax law (HGB/AO) is a duty to keep (Art. 17(3)(b)); proving consent is
    // the controller's burden (Art. 7(1)), kept for legal claims (Art. 17(3)(e)) through the
    // regular limitation period. Everything else goes on an erasure request.
    let rule = |category, letters: bool, start, end_of_year, period, basis: &str| {
        let (ground, norm) = if letters {
            (Ground::Statutory, Some(HGB_NORM.to_string()))
        } else if category == ConsentProofs {
            (Ground::LegalClaims, Some("§§ 195, 199 BGB".to_string()))
        } else {
            (Ground::None, None)
        };
        Rule {
            category,
            channel: None,
            business_letters: letters,
            start,
            end_of_year,
            retain: Retain::For(period),
            legal_basis: basis.to_string(),
            deletion_class: None,
            ground,
            norm,
        }
    };
    use Category::*;
    use StartPoint::*;
    RuleSet {
        rules: vec![
            rule(MessageContent, true, Collection, true, Period::years(6), hgb),
            rule(Attachments, true, Collection, true, Period::years(6), hgb),
            rule(MessageMetadata, true, Collection, true, Period::years(6), hgb),
            rule(MessageContent, false, ConversationEnd, false, Period::years(1), chat),
            rule(Attachments, false, ConversationEnd, false, Period::years(1), chat),
            rule(MessageMetadata, false, ConversationEnd, false, Period::years(1), chat),
            rule(
                Contacts,
                false,
                ConversationEnd,
                false,
                Period::years(1),
                "Art. 5 Abs. 1 lit. e DSGVO: Kontaktdaten, 1 Jahr nach der letzten Nachricht, sobald keine aufbewahrten Daten mehr auf sie verweisen",
            ),
            rule(
                DeliveryStatuses,
                false,
                Collection,
                false,
                Period::days(90),
                "Art. 5 Abs. 1 lit. e DSGVO: Zustellnachweis, 90 Tage",
            ),
            rule(
                WebhookLogs,
                false,
                Collection,
                false,
                Period::days(30),
                "Art. 5 Abs. 1 lit. e DSGVO: Fehlersuche, 30 Tage",
            ),
            rule(
                ConsentRequests,
                false,
                Collection,
                false,
                Period::days(30),
                "Art. 5 Abs. 1 lit. e DSGVO: unbestätigte Anfragen, 30 Tage",
            ),
            rule(
                ConsentProofs,
                false,
                ConsentWithdrawal,
                true,
                Period::years(3),
                "Art. 7 Abs. 1 DSGVO: Nachweis der Einwilligung, bis zur Verjährung möglicher Ansprüche (3 Jahre ab Ende des Jahres des Widerrufs)",
            ),
        ],
    }
}
