//! The double opt-in conversation: a request sends the consent text and asks for a keyword
//! reply; the reply confirms; STOP (or the API) withdraws. Replies go through the normal send
//! path, inside the customer-service window the person's own message opened.

use serde::Serialize;

use super::Consent;
use super::{ConsentState, ConsentView, Evidence, Intent, Source};
use crate::auth::{Actor, Permission};
use crate::channels::send::{Dispatch, SendReceipt, SendRequest, TemplateInput};
use crate::error::{Error, Result};
use crate::store::id;
use crate::tenants::TenantId;

/// The answer to a consent request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestOutcome {
    pub consent: ConsentView,
    /// The confirmation message, when one was sent.
    pub confirmation: Option<SendReceipt>,
    /// Why no confirmation message went out (e.g. no template outside the 24-hour window).
    pub confirmation_error: Option<String>,
}

const CONFIRM_HINT_DE: &str =
    "Antworten Sie mit JA, um zu bestätigen. Mit STOP können Sie sich jederzeit abmelden.";
const CONFIRMED_DE: &str =
    "Danke! Ihre Anmeldung ist bestätigt. Mit STOP können Sie sich jederzeit abmelden.";
const WITHDRAWN_DE: &str = "Sie sind abgemeldet und erhalten keine Nachrichten mehr von uns. Mit START melden Sie sich wieder an.";

impl Consent {
    /// Asks a contact to consent to a purpose and sends the confirmation request.
    #[allow(clippy::too_many_arguments)] // each is a distinct fact of the proof
    pub async fn request(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        purpose: &str,
        language: &str,
        source: Source,
        evidence: Evidence,
        dispatch: Dispatch,
    ) -> Result<RequestOutcome> {
        // Requesting sends a message: the same permission as sending.
        actor.authorize(tenant, Permission::SendMessages)?;
        self.infra
            .record(
                crate::audit::AuditEvent::new(actor, "consent.request")
                    .tenant(tenant)
                    .object("contact", contact_id)
                    .detail(format!("purpose={purpose} source={}", source.as_str())),
            )
            .await?;
        let (row, text, template) = self
            .record_request(
                tenant, contact_id, purpose, language, source, evidence, None,
            )
            .await?;
        if row.state == ConsentState::Confirmed.as_str() {
            return Ok(RequestOutcome {
                consent: row.view(),
                confirmation: None,
                confirmation_error: None,
            });
        }
        let (confirmation, confirmation_error) = match self
            .send_confirmation_request(tenant, contact_id, &text, template, language, dispatch)
            .await
        {
            Ok(receipt) => (Some(receipt), None),
            Err(Error::Conflict(reason)) | Err(Error::Invalid { reason, .. }) => {
                (None, Some(reason))
            }
            Err(e) => return Err(e),
        };
        Ok(RequestOutcome {
            consent: row.view(),
            confirmation,
            confirmation_error,
        })
    }

    /// The consent text with the reply hint; a WhatsApp template when the 24-hour window is
    /// closed (e.g. after a web sign-up) and the purpose names one.
    async fn send_confirmation_request(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        text: &str,
        template: Option<String>,
        language: &str,
        dispatch: Dispatch,
    ) -> Result<SendReceipt> {
        let message = format!("{text}\n\n{CONFIRM_HINT_DE}");
        match self
            .send_system_text(tenant, contact_id, &message, dispatch)
            .await
        {
            Err(Error::Conflict(reason)) => match template {
                Some(name) => {
                    let request = SendRequest {
                        channel_id: None,
                        idempotency_key: None,
                        text: None,
                        template: Some(TemplateInput {
                            name,
                            language: language.to_string(),
                            components: None,
                        }),
                        media: None,
                        purpose_id: None,
                    };
                    self.channels
                        .submit(&Actor::System, tenant, contact_id, request, None, dispatch)
                        .await
                }
                None => Err(Error::Conflict(reason)),
            },
            other => other,
        }
    }

    async fn send_system_text(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        text: &str,
        dispatch: Dispatch,
    ) -> Result<SendReceipt> {
        let request = SendRequest {
            channel_id: None,
            idempotency_key: None,
            text: Some(text.to_string()),
            template: None,
            media: None,
            purpose_id: None,
        };
        self.channels
            .submit(&Actor::System, tenant, contact_id, request, None, dispatch)
            .await
    }

    /// Acts on a keyword in a new inbound text message (START, JA, STOP…).
    /// Acts on a keyword in an inbound text (START, JA, STOP…). `redelivered` marks a message
    /// the platform sent again: only the opt-out is repeated then (it is idempotent), so a STOP
    /// whose first handling failed is not lost. Errors recording a transition propagate (the
    /// webhook then fails and the platform redelivers); a reply that cannot be sent is logged.
    pub(crate) async fn handle_keywords(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        message_id: &str,
        text: &str,
        redelivered: bool,
    ) -> Result<()> {
        if !super::keywords::may_be_keyword(text) {
            return Ok(());
        }
        let settings = self.settings(tenant).await?;
        let Some(intent) = settings.keywords.intent(text) else {
            return Ok(());
        };
        if redelivered && intent != Intent::OptOut {
            return Ok(());
        }
        let evidence = Evidence {
            keyword: Some(super::keywords::normalize(text)),
            ..Evidence::default()
        };
        let message = Some(message_id.to_string());
        match intent {
            Intent::OptOut => {
                let withdrawn = self
                    .transition(
                        tenant,
                        contact_id,
                        None,
                        &["requested", "confirmed"],
                        ConsentState::Withdrawn,
                        Source::Keyword,
                        evidence,
                        message,
                    )
                    .await?;
                // Answer the person's request whatever their state was (once per message).
                if !redelivered || !withdrawn.is_empty() {
                    self.reply(tenant, contact_id, WITHDRAWN_DE).await;
                }
            }
            Intent::Confirm => {
                // Only the newest pending request is confirmed: a "Ja" answers the last question.
                let Some(purpose) = self.latest_pending_purpose(tenant, contact_id).await? else {
                    return Ok(());
                };
                let confirmed = self
                    .transition(
                        tenant,
                        contact_id,
                        Some(&purpose),
                        &["requested"],
                        ConsentState::Confirmed,
                        Source::Keyword,
                        evidence,
                        message,
                    )
                    .await?;
                if !confirmed.is_empty() {
                    self.reply(tenant, contact_id, CONFIRMED_DE).await;
                }
            }
            Intent::OptIn => {
                let Some(purpose) = self
                    .default_purpose(tenant, settings.default_purpose)
                    .await?
                else {
                    tracing::info!(tenant = %tenant, "opt-in keyword received but the tenant has no default consent purpose");
                    return Ok(());
                };
                let (row, text, template) = self
                    .record_request(
                        tenant,
                        contact_id,
                        &purpose,
                        "de",
                        Source::Keyword,
                        evidence,
                        message,
                    )
                    .await?;
                if row.state == ConsentState::Confirmed.as_str() {
                    self.reply(tenant, contact_id, CONFIRMED_DE).await;
                } else if let Err(e) = self
                    .send_confirmation_request(
                        tenant,
                        contact_id,
                        &text,
                        template,
                        "de",
                        Dispatch::Now,
                    )
                    .await
                {
                    tracing::warn!(error = %crate::telemetry::chain(&e), "the consent confirmation request could not be sent");
                }
            }
        }
        Ok(())
    }

    /// Sends a text reply; failures are logged (the state change they report stands).
    async fn reply(&self, tenant: &TenantId, contact_id: &str, text: &str) {
        if let Err(e) = self
            .send_system_text(tenant, contact_id, text, Dispatch::Now)
            .await
        {
            tracing::warn!(error = %crate::telemetry::chain(&e), "a consent reply could not be sent");
        }
    }

    /// The purpose of the contact's most recent pending, unexpired request.
    async fn latest_pending_purpose(
        &self,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<Option<String>> {
        use crate::store::schema::consents;
        use diesel::prelude::*;
        let (t, c, now) = (
            tenant.as_str().to_string(),
            contact_id.to_string(),
            crate::clock::to_micros(self.infra.clock.now()),
        );
        Ok(self
            .infra
            .store
            .read(move |conn| {
                Ok(consents::table
                    .filter(consents::tenant_id.eq(id::bind(&t)))
                    .filter(consents::contact_id.eq(id::bind(&c)))
                    .filter(consents::state.eq("requested"))
                    .filter(consents::expires_at.gt(now))
                    .order(consents::requested_at.desc())
                    .select(consents::purpose_id)
                    .first(conn)
                    .optional()?)
            })
            .await?)
    }

    /// The configured default purpose, else the tenant's only purpose.
    async fn default_purpose(
        &self,
        tenant: &TenantId,
        configured: Option<String>,
    ) -> Result<Option<String>> {
        if configured.is_some() {
            return Ok(configured);
        }
        let purposes = self.list_purposes(&Actor::System, tenant).await?;
        Ok(match purposes.as_slice() {
            [only] => Some(only.id.clone()),
            _ => None,
        })
    }
}
