//! Encryption at rest.
//!
//! - [`master`]: the install's age identity, which wraps every data key (plus optional offline
//!   recovery recipients).
//! - [`keys`]: random 32-byte data keys (one per tenant, one per contact) and the keys derived
//!   from them for sealing and blind indexing.
//! - [`seal`]: AEAD (XChaCha20-Poly1305) for every personal field, bound to tenant, table,
//!   column and row so a ciphertext copied elsewhere fails to open.
//! - [`keyring`]: a bounded cache of unwrapped keys, zeroized on eviction.

pub mod keyring;
pub mod keys;
pub mod master;
pub mod seal;
pub mod strength;

pub use keyring::KeyRing;
pub use keys::{BlindIndexKey, DataKey, SealingKey};
pub use master::MasterKey;
pub use seal::FieldBinding;

/// Why a cryptographic operation failed. Carries no key material and no plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("wrapping a data key with age failed: {0}")]
    Wrap(String),
    #[error("unwrapping a data key with age failed: {0}")]
    Unwrap(String),
    #[error("a sealed field failed to open (wrong key, wrong row binding or tampered ciphertext)")]
    Open,
    #[error("a sealed field has an unknown format")]
    Format,
}
