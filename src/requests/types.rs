//! A data-subject request as the API and the register see it: its kind, the identity check,
//! the grounds of a rejection, its stored row and its view.

use super::*;

/// What the data subject asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Art. 15: a copy of the data and the information about its processing.
    Access,
    /// Art. 20: what the subject provided, machine-readable.
    Portability,
    /// Art. 17.
    Erasure,
    /// Art. 18.
    Restriction,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Portability => "portability",
            Kind::Erasure => "erasure",
            Kind::Restriction => "restriction",
        }
    }

    pub(crate) fn from_stored(s: &str) -> Self {
        match s {
            "portability" => Kind::Portability,
            "erasure" => Kind::Erasure,
            "restriction" => Kind::Restriction,
            _ => Kind::Access,
        }
    }
}

/// Why a request is closed without acting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectGround {
    /// The requester's identity could not be confirmed (Art. 12(6)).
    IdentityNotVerified,
    /// Manifestly unfounded (Art. 12(5)).
    ManifestlyUnfounded,
    /// Excessive, in particular repetitive (Art. 12(5)).
    Excessive,
    /// Withdrawn by the data subject.
    WithdrawnBySubject,
}

/// How the requester's identity was confirmed (Art. 12(6)): recorded in the audit log, named
/// in the request log; never the evidence itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// The request came over the messenger account the data belongs to.
    SameChannel,
    /// A call back to a number or address the controller already had.
    Callback,
    /// An identity document was shown (and not kept beyond the check).
    IdDocument,
    /// Signed in to a customer account.
    CustomerAccount,
    /// Another way, described in the controller's files.
    Other,
}

impl IdentityCheck {
    pub const ALL: [IdentityCheck; 5] = [
        IdentityCheck::SameChannel,
        IdentityCheck::Callback,
        IdentityCheck::IdDocument,
        IdentityCheck::CustomerAccount,
        IdentityCheck::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityCheck::SameChannel => "same_channel",
            IdentityCheck::Callback => "callback",
            IdentityCheck::IdDocument => "id_document",
            IdentityCheck::CustomerAccount => "customer_account",
            IdentityCheck::Other => "other",
        }
    }

    pub fn label(self, lang: crate::i18n::Lang) -> String {
        match self {
            IdentityCheck::SameChannel => lang.pick(
                "Anfrage über das betroffene Messenger-Konto",
                "request over the messenger account concerned",
            ),
            IdentityCheck::Callback => lang.pick(
                "Rückruf unter bekannter Nummer oder Adresse",
                "call back to a known number or address",
            ),
            IdentityCheck::IdDocument => lang.pick("Ausweisdokument", "identity document"),
            IdentityCheck::CustomerAccount => lang.pick(
                "Anmeldung im Kundenkonto",
                "signed in to the customer account",
            ),
            IdentityCheck::Other => lang.pick(
                "anderer Weg (in den Unterlagen beschrieben)",
                "another way (described in the files)",
            ),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A request to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub kind: Kind,
    pub contact_id: String,
    /// When the request reached the controller (default: today, UTC).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub received_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subject_requests)]
pub struct RequestRow {
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub contact_id: String,
    pub kind: String,
    pub received_on: String,
    pub due_on: String,
    pub extended_due_on: Option<String>,
    pub extension_sealed: Option<Vec<u8>>,
    pub status: String,
    pub outcome: Option<String>,
    pub certificate_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub handled_by: Option<String>,
    pub completed_at: Option<i64>,
}

impl RequestRow {
    /// The deadline in force (extended or not).
    pub fn deadline(&self) -> &str {
        self.extended_due_on.as_deref().unwrap_or(&self.due_on)
    }

    /// Open past the end of its deadline's day (dates compare as ISO text).
    pub fn overdue_on(&self, today: NaiveDate) -> bool {
        self.is_pending() && today.to_string().as_str() > self.deadline()
    }

    /// Not yet fully answered: open, or waiting for the DPO's decision.
    pub fn is_pending(&self) -> bool {
        self.status == OPEN || self.status == DECISION_NEEDED
    }

    pub(super) fn view(&self, today: NaiveDate, extension_reason: Option<String>) -> RequestView {
        RequestView {
            id: self.id.clone(),
            kind: Kind::from_stored(&self.kind),
            contact_id: self.contact_id.clone(),
            received_on: self.received_on.clone(),
            due_on: self.due_on.clone(),
            extended_due_on: self.extended_due_on.clone(),
            extension_reason,
            status: self.status.clone(),
            overdue: self.overdue_on(today),
            outcome: self
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok()),
            certificate_id: self.certificate_id.clone(),
            created_by: self.created_by.clone(),
            created_at: from_micros(self.created_at),
            handled_by: self.handled_by.clone(),
            completed_at: self.completed_at.map(from_micros),
            history: None,
        }
    }
}

/// A request as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: String,
    pub kind: Kind,
    pub contact_id: String,
    /// Dates are ISO 8601 (YYYY-MM-DD).
    pub received_on: String,
    pub due_on: String,
    pub extended_due_on: Option<String>,
    pub extension_reason: Option<String>,
    /// open, decision_needed (an erasure waiting for the DPO's decision on a category),
    /// completed or rejected.
    pub status: String,
    /// Open past its deadline.
    pub overdue: bool,
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<serde_json::Value>,
    /// The erasure certificate, for erasure requests.
    pub certificate_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub handled_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    /// What happened to the request, oldest first, from the audit log (registered,
    /// extended, answered, decided, letters produced); only when one request is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

/// One step in a request's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// The audit action, e.g. `dsr.create`, `dsr.erase`, `dsr.erasure_decision`, `dsr.letter`.
    pub action: String,
    /// Who: a token id, a user, or `system`.
    pub actor: String,
    /// Counts, kinds and hashes; never personal data.
    pub detail: Option<String>,
}
