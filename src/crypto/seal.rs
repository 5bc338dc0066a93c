//! Sealing personal fields with XChaCha20-Poly1305.
//!
//! Layout of a sealed field: `0x01 | nonce (24 bytes) | ciphertext | tag (16 bytes)`.
//! The associated data names tenant, table, column and row, so a ciphertext moved to another
//! row, column or tenant fails to open instead of showing someone else's data.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{CryptoError, SealingKey};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Where a sealed value lives; becomes the AEAD's associated data.
#[derive(Debug, Clone, Copy)]
pub struct FieldBinding<'a> {
    pub tenant: &'a str,
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a str,
}

impl FieldBinding<'_> {
    fn associated_data(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(
            16 + self.tenant.len() + self.table.len() + self.column.len() + self.row.len(),
        );
        ad.extend_from_slice(b"hafen/v1");
        for part in [self.tenant, self.table, self.column, self.row] {
            ad.push(0);
            ad.extend_from_slice(part.as_bytes());
        }
        ad
    }
}

impl SealingKey {
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&self.0[..]))
    }

    /// Encrypts `plaintext` for the field `at`; a fresh random nonce each time.
    pub fn seal(&self, at: &FieldBinding<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ad = at.associated_data();
        let ct = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .map_err(|_| CryptoError::Format)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a field sealed by [`SealingKey::seal`] for the same binding.
    pub fn open(
        &self,
        at: &FieldBinding<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return Err(CryptoError::Format);
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let ad = at.associated_data();
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &ad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }

    /// Seals a UTF-8 string.
    pub fn seal_str(&self, at: &FieldBinding<'_>, text: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(at, text.as_bytes())
    }

    /// Opens a field that was sealed from a UTF-8 string.
    pub fn open_string(&self, at: &FieldBinding<'_>, sealed: &[u8]) -> Result<String, CryptoError> {
        let bytes = self.open(at, sealed)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CryptoError::Format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;

    fn at(row: &str) -> FieldBinding<'_> {
        FieldBinding {
            tenant: "t1",
            table: "messages",
            column: "body",
            row,
        }
    }

    #[test]
    fn round_trip() {
        let key = DataKey::generate().sealing_key();
        let sealed = key.seal_str(&at("r1"), "Hallo Welt").unwrap();
        assert_eq!(key.open_string(&at("r1"), &sealed).unwrap(), "Hallo Welt");
        assert!(!sealed.windows(5).any(|w| w == b"Hallo"));
    }

    #[test]
    fn ciphertext_copied_to_another_row_or_column_fails() {
        let key = DataKey::generate().sealing_key();
        let sealed = key.seal_str(&at("r1"), "secret").unwrap();
        assert!(matches!(
            key.open(&at("r2"), &sealed),
            Err(CryptoError::Open)
        ));
        let other_column = FieldBinding {
            column: "raw",
            ..at("r1")
        };
        assert!(key.open(&other_column, &sealed).is_err());
        let other_tenant = FieldBinding {
            tenant: "t2",
            ..at("r1")
        };
        assert!(key.open(&other_tenant, &sealed).is_err());
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        let key = DataKey::generate().sealing_key();
        let other = DataKey::generate().sealing_key();
        let mut sealed = key.seal_str(&at("r1"), "secret").unwrap();
        assert!(other.open(&at("r1"), &sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(&at("r1"), &sealed).is_err());
        assert!(matches!(
            key.open(&at("r1"), &[1, 2, 3]),
            Err(CryptoError::Format)
        ));
    }
}
