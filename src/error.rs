//! The domain's error: what went wrong in terms a user can act on. The HTTP layer maps each
//! kind to a status and a problem+json body; the full cause chain of internal errors goes to
//! the log only.

use crate::crypto::CryptoError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown object, or one the caller may not know exists (another tenant's).
    #[error("not found")]
    NotFound,
    /// No credentials, or credentials that do not verify.
    #[error("missing or invalid API token")]
    Unauthenticated,
    /// A token that was valid once: revoked or expired. The detail says which and when, so
    /// whoever runs the integration knows to ask for a new one rather than debug the request.
    #[error("{0}")]
    TokenEnded(String),
    /// Authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A field failed validation. `reason` never contains the value itself.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    /// The server cannot take the request now (shutting down, overloaded).
    #[error("{0}")]
    Unavailable(String),
    /// Concurrent writes (another instance on the same database) kept conflicting with this
    /// one; nothing was stored, and the same request will very likely succeed in a moment.
    #[error("{0}")]
    Busy(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The canonical text of the id a caller named in `field` (a `what`: "message", "contact"),
    /// or the 422 that says it names none — before any query, as a column holding ids as 16
    /// bytes could not even bind it (`store::id`).
    pub fn named_id(field: impl Into<String>, what: &str, text: &str) -> Result<String> {
        crate::store::id::canonical(text)
            .ok_or_else(|| Self::invalid(field, format!("is not a {what} id (a UUID)")))
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

/// A domain rule refusing a write inside its transaction (`?` on a domain error in a store
/// closure).
impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Rejected(Box::new(e))
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rejected(inner) => match inner.downcast::<Error>() {
                Ok(domain) => *domain,
                Err(other) => Self::Internal(anyhow::anyhow!("{other}")),
            },
            StoreError::Contended { attempts } => {
                tracing::warn!(
                    attempts,
                    "a write kept meeting concurrent transactions; answered 503"
                );
                Self::Busy(format!(
                    "the database was busy with concurrent writes and this request could not be \
                     stored after {attempts} attempts; nothing was stored, send it again"
                ))
            }
            StoreError::WriterGone => {
                Self::Unavailable("the server is shutting down; retry".into())
            }
            full if full.is_disk_full() => {
                tracing::error!(error = %crate::telemetry::chain(&full), "disk full: a write was refused, nothing of it stored");
                Self::Unavailable(
                    "the disk holding Hafen's data is full, so nothing was stored; retry once the operator has freed space".into(),
                )
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Self::Internal(e.into())
    }
}

/// A JSON body that does not fit its type, told so a person can fix it: serde names the
/// offending field and the fields or variants that exist ("unknown field `adress`, expected
/// one of `name`, `address`, …") — names are not personal data and stay; the offending
/// *value* it quotes ("invalid type: integer `4915…`") may be, and is replaced by "…".
pub fn shape_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // serde_json appends " at line 1 column 42": meaningless for a value already parsed.
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => &message,
    };
    for prefix in [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant ",
    ] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some(open) = rest.find('`') else { break };
        let Some(len) = rest[open + 1..].find('`') else {
            break;
        };
        let close = open + 1 + len;
        return format!("{prefix}{}`…`{}", &rest[..open], &rest[close + 1..]);
    }
    message.to_string()
}

#[cfg(test)]
mod shape_tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Party {
        name: String,
        address: Option<String>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Person,
    }

    fn message(json: &str) -> String {
        super::shape_error(&serde_json::from_str::<Party>(json).unwrap_err())
    }

    #[test]
    fn field_names_are_kept_values_masked() {
        assert_eq!(
            message(r#"{"name": "A", "adress": "Musterweg 1"}"#),
            "unknown field `adress`, expected one of `name`, `address`, `kind`"
        );
        assert_eq!(message(r#"{"address": "x"}"#), "missing field `name`");
        assert_eq!(
            message(r#"{"name": 4915112345678}"#),
            "invalid type: integer `…`, expected a string"
        );
        assert_eq!(
            message(r#"{"name": "A", "kind": "Max Mustermann"}"#),
            "unknown variant `…`, expected `person`"
        );
    }
}
