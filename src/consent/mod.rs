//! Double opt-in: consent purposes with versioned texts, the consent state per contact and
//! purpose (`requested` → `confirmed` → `withdrawn`, or `expired`), and the ledger that proves
//! every transition ([`ledger`]). Keyword handling ([`keywords`]) turns START / JA / STOP in a
//! chat into these transitions; the send path asks [`state_of`] before any push. `purposes`
//! (purposes and their texts), `settings` (keywords, time to live, widget style) and `state`
//! (the transitions and expiry) hold the rest.

pub mod broadcast;
pub mod flow;
pub mod keywords;
pub mod ledger;
pub mod proof;
pub mod widget;

mod purposes;
mod settings;
mod state;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::channels::Channels;
use crate::clock::{from_micros, to_micros};
use crate::contacts::Contacts;
use crate::crypto::keyring::OwnerKeys;
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::messages::Messages;
use crate::store::id;
use crate::store::schema::{consent_purposes, consent_settings, consent_texts, consents};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

pub use keywords::{Intent, Keywords};

pub use purposes::*;
pub use settings::*;

/// Unconfirmed requests expire after this long unless the tenant sets another time.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::hours(48);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Requested,
    Confirmed,
    Withdrawn,
    Expired,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Confirmed => "confirmed",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "confirmed" => Self::Confirmed,
            "withdrawn" => Self::Withdrawn,
            "expired" => Self::Expired,
            _ => Self::Requested,
        }
    }
}

/// How a transition came about (kept in the ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Widget,
    Keyword,
    Api,
    System,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Widget => "widget",
            Self::Keyword => "keyword",
            Self::Api => "api",
            Self::System => "system",
        }
    }
}

/// A consent event or state ("requested", …) as a person reads it in a document.
pub fn event_label(event: &str, lang: crate::i18n::Lang) -> String {
    match event {
        "requested" => lang.pick("Einwilligung angefragt", "consent requested"),
        "confirmed" => lang.pick(
            "Einwilligung bestätigt (Double-Opt-in)",
            "consent confirmed (double opt-in)",
        ),
        "withdrawn" => lang.pick("Einwilligung widerrufen", "consent withdrawn"),
        "expired" => lang.pick(
            "Anfrage abgelaufen (nicht bestätigt)",
            "request expired (not confirmed)",
        ),
        other => other.to_string(),
    }
}

/// How a consent event came about, as a person reads it.
pub fn source_label(source: &str, lang: crate::i18n::Lang) -> String {
    match source {
        "widget" => lang.pick("Anmeldeformular (Widget)", "sign-up form (widget)"),
        "keyword" => lang.pick("Stichwort im Chat", "keyword in the chat"),
        "api" => lang.pick("Schnittstelle (API)", "interface (API)"),
        "system" => lang.pick("automatisch (Hafen)", "automatic (Hafen)"),
        other => other.to_string(),
    }
}

/// Evidence of how consent was asked for or given; sealed under the contact's key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The page or widget the request came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The keyword the person wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerEntryView {
    pub seq: i64,
    pub event: String,
    pub at: DateTime<Utc>,
    pub source: String,
    pub text_id: String,
    pub text_sha256: String,
    pub message_id: Option<String>,
    pub evidence: Option<Evidence>,
    pub hash: String,
    pub prev_hash: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub purpose_id: String,
    pub state: ConsentState,
    pub text_id: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Every transition, oldest first (in the per-contact listing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<LedgerEntryView>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = consents)]
#[diesel(treat_none_as_null = true)]
pub struct ConsentRow {
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub contact_id: String,
    pub purpose_id: String,
    pub state: String,
    pub text_id: String,
    pub requested_at: i64,
    pub expires_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub updated_at: i64,
}

impl ConsentRow {
    pub fn view(&self) -> ConsentView {
        ConsentView {
            id: self.id.clone(),
            purpose_id: self.purpose_id.clone(),
            state: ConsentState::parse(&self.state),
            text_id: self.text_id.clone(),
            requested_at: from_micros(self.requested_at),
            expires_at: self.expires_at.map(from_micros),
            confirmed_at: self.confirmed_at.map(from_micros),
            withdrawn_at: self.withdrawn_at.map(from_micros),
            last_used_at: self.last_used_at.map(from_micros),
            history: None,
        }
    }
}

fn evidence_binding<'a>(tenant: &'a str, row: &'a str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: "consent_ledger",
        column: "evidence",
        row,
    }
}

/// Seals evidence for a ledger entry; bound to the consent and the instant of the event.
pub fn seal_evidence(
    keys: &OwnerKeys,
    tenant: &str,
    consent_id: &str,
    event: &str,
    at: DateTime<Utc>,
    evidence: &Evidence,
) -> Result<Vec<u8>> {
    let row = format!("{consent_id}:{event}:{}", to_micros(at));
    let json = serde_json::to_vec(evidence).map_err(Error::internal)?;
    Ok(keys.seal.seal(&evidence_binding(tenant, &row), &json)?)
}

/// The consent service: purposes and their texts, the double opt-in flow and its ledger,
/// keywords, the sign-up widget, broadcasts to those who consented, proofs.
#[derive(Debug, Clone)]
pub struct Consent {
    pub(crate) infra: Infra,
    /// Confirmation requests and replies are sent through a channel.
    pub(crate) channels: Channels,
    pub(crate) contacts: Contacts,
    pub(crate) messages: Messages,
    /// Broadcast messages per second (0: unpaced).
    pub(crate) broadcast_rate: u32,
    pub(crate) widget_rate: std::sync::Arc<widget::RateLimiter>,
    pub(crate) widget_limits: widget::WidgetLimits,
}

/// Whether `contact`'s consent for `purpose` is confirmed right now: the send path asks this
/// (as its [`crate::channels::send::SendGate`]) when a push is queued and again when it goes out.
pub fn confirmed(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
    purpose: &str,
) -> Result<bool, StoreError> {
    let state: Option<String> = consents::table
        .filter(consents::tenant_id.eq(id::bind(tenant)))
        .filter(consents::contact_id.eq(id::bind(contact)))
        .filter(consents::purpose_id.eq(purpose))
        .select(consents::state)
        .first(conn)
        .optional()?;
    Ok(state.as_deref().map(ConsentState::parse) == Some(ConsentState::Confirmed))
}

impl Consent {
    pub fn new(
        infra: Infra,
        channels: Channels,
        contacts: Contacts,
        messages: Messages,
        broadcast_rate: u32,
    ) -> Self {
        Self {
            infra,
            channels,
            contacts,
            messages,
            broadcast_rate,
            widget_rate: Default::default(),
            widget_limits: Default::default(),
        }
    }

    /// A contact's consents with their full history (the proof).
    pub async fn of_contact(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
    ) -> Result<Vec<ConsentView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let (t, c) = (tenant.clone(), contact_id.to_string());
        let rows = self
            .infra
            .store
            .read(move |conn| {
                if crate::contacts::find(conn, &t, &c)?.is_none() {
                    return Ok(None);
                }
                let rows: Vec<ConsentRow> = consents::table
                    .filter(consents::tenant_id.eq(id::bind(t.as_str())))
                    .filter(consents::contact_id.eq(id::bind(&c)))
                    .order(consents::purpose_id.asc())
                    .select(ConsentRow::as_select())
                    .load(conn)?;
                let mut out = Vec::new();
                for row in rows {
                    let history = ledger::history(conn, &row.id)?;
                    out.push((row, history));
                }
                Ok(Some(out))
            })
            .await?
            .ok_or(Error::NotFound)?;
        let keys = self.contacts.keys_for(tenant, contact_id).await.ok();
        self.infra
            .record(
                AuditEvent::new(actor, "consent.read")
                    .tenant(tenant)
                    .object("contact", contact_id),
            )
            .await?;
        rows.into_iter()
            .map(|(row, history)| {
                let mut view = row.view();
                view.history = Some(
                    history
                        .into_iter()
                        .map(|e| {
                            let evidence = match (&keys, &e.evidence_sealed) {
                                (Some(k), Some(sealed)) => {
                                    let at = from_micros(e.at);
                                    let binding_row =
                                        format!("{}:{}:{}", e.consent_id, e.event, to_micros(at));
                                    let bytes = k.seal.open(
                                        &evidence_binding(&e.tenant_id, &binding_row),
                                        sealed,
                                    )?;
                                    Some(serde_json::from_slice(&bytes).map_err(Error::internal)?)
                                }
                                _ => None,
                            };
                            Ok(LedgerEntryView {
                                seq: e.seq,
                                event: e.event,
                                at: from_micros(e.at),
                                source: e.source,
                                text_id: e.text_id,
                                text_sha256: hex::encode(&e.text_hash),
                                message_id: e.message_id,
                                evidence,
                                hash: hex::encode(&e.hash),
                                prev_hash: hex::encode(&e.prev_hash),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?,
                );
                Ok(view)
            })
            .collect()
    }

    /// Checks the consent ledger from the first entry to the last.
    pub async fn verify_ledger(&self) -> Result<crate::audit::ChainReport> {
        Ok(self.infra.store.read(ledger::verify).await?)
    }
}
