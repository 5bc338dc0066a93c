//! Whether a message may be sent. Every send asks [`may_send`]; the consent work (double opt-in
//! for broadcasts) extends it. Until then it enforces what the platforms require for replies:
//! WhatsApp and Messenger allow free-form messages only within 24 hours of the contact's last
//! inbound message (WhatsApp: templates at any time); a Telegram bot may only write to people
//! who wrote to it first.

use chrono::{DateTime, Duration, Utc};

use super::platform::Outbound;
use super::Platform;

/// The customer-service window of WhatsApp and Messenger.
pub const SERVICE_WINDOW: Duration = Duration::hours(24);

/// What the decision is based on.
#[derive(Debug, Clone)]
pub struct SendContext<'a> {
    pub platform: Platform,
    pub message: &'a Outbound,
    /// When the contact last wrote to the company on this platform, if ever.
    pub last_inbound: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// For a push under a consent purpose: whether the contact's consent is confirmed now.
    /// None for a reply within the conversation.
    pub consent: Option<bool>,
}

/// Allowed, or refused with a reason for the caller.
pub fn may_send(ctx: &SendContext<'_>) -> Result<(), String> {
    // Advertising by electronic message needs prior express consent (§ 7(2) Nr. 2 UWG),
    // proven by double opt-in: no confirmed consent, no push — whoever asks.
    if ctx.consent == Some(false) {
        return Err("the contact has no confirmed consent for this purpose".into());
    }
    let in_window = ctx
        .last_inbound
        .is_some_and(|t| ctx.now - t <= SERVICE_WINDOW);
    match (ctx.platform, ctx.message) {
        (Platform::Whatsapp, Outbound::Template { .. }) => Ok(()),
        (Platform::Whatsapp, _) if in_window => Ok(()),
        (Platform::Whatsapp, _) => Err(
            "outside WhatsApp's 24-hour customer service window (the contact last wrote more than 24 hours ago, or never): only an approved template may be sent"
                .into(),
        ),
        (Platform::Messenger, _) if in_window => Ok(()),
        (Platform::Messenger, _) => Err("outside Messenger's 24-hour standard messaging window".into()),
        (Platform::Telegram, _) if ctx.last_inbound.is_some() => Ok(()),
        (Platform::Telegram, _) => Err("a Telegram bot can only write to people who wrote to it first".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let text = Outbound::Text { text: "hi".into() };
        let template = Outbound::Template {
            name: "order_update".into(),
            language: "de".into(),
            components: None,
        };
        let ctx = |platform, message, last: Option<DateTime<Utc>>| SendContext {
            platform,
            message,
            last_inbound: last,
            now,
            consent: None,
        };
        let recent = Some(now - Duration::hours(23));
        let old = Some(now - Duration::hours(25));
        assert!(may_send(&ctx(Platform::Whatsapp, &text, recent)).is_ok());
        assert!(may_send(&ctx(Platform::Whatsapp, &text, old)).is_err());
        assert!(may_send(&ctx(Platform::Whatsapp, &text, None)).is_err());
        assert!(may_send(&ctx(Platform::Whatsapp, &template, None)).is_ok());
        assert!(may_send(&ctx(Platform::Messenger, &text, old)).is_err());
        assert!(may_send(&ctx(Platform::Telegram, &text, old)).is_ok());
        assert!(may_send(&ctx(Platform::Telegram, &text, None)).is_err());
        let push = |consent| SendContext {
            consent: Some(consent),
            ..ctx(Platform::Whatsapp, &template, recent)
        };
        assert!(may_send(&push(true)).is_ok());
        assert!(
            may_send(&push(false)).is_err(),
            "no consent, no push, even with a template"
        );
    }
}
