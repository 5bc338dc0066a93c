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

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rejected(inner) => inner,
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
