//! Data keys and the purpose-bound keys derived from them.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::CryptoError;

pub const KEY_LEN: usize = 32;

/// A random 32-byte key; stored only age-wrapped. Destroying its wrapped copy erases every
/// field sealed under it (cryptographic erase).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| CryptoError::Unwrap("data key has the wrong length".into()))?;
        Ok(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let hk = Hkdf::<Sha256>::new(None, &self.0);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
        if hk.expand(info, out.as_mut()).is_err() {
            unreachable_expand();
        }
        out
    }

    /// The key that seals this owner's fields.
    pub fn sealing_key(&self) -> SealingKey {
        SealingKey(self.derive(b"hafen/v1/seal"))
    }

    /// The key for keyed lookups (blind indexes) within a tenant.
    pub fn blind_index_key(&self) -> BlindIndexKey {
        BlindIndexKey(self.derive(b"hafen/v1/blind-index"))
    }
}

impl SealingKey {
    /// A key that depends on this key and on `period`: destroying either makes what it sealed
    /// unreadable. Messages are sealed under their contact's key bound to a period key, so
    /// erasure (contact key) and retention (period key) each shred on their own.
    pub fn bound_to(&self, period: &SealingKey) -> SealingKey {
        let hk = Hkdf::<Sha256>::new(Some(period.0.as_ref()), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        if hk.expand(b"hafen/v1/seal+period", out.as_mut()).is_err() {
            unreachable_expand();
        }
        SealingKey(out)
    }
}

#[cold]
fn unreachable_expand() {
    tracing::error!("HKDF expand rejected a 32-byte output; this cannot happen");
}

/// Seals and opens fields; see [`super::seal`].
#[derive(Clone)]
pub struct SealingKey(pub(super) Zeroizing<[u8; KEY_LEN]>);

/// Computes keyed hashes of lookup values (addresses, external ids) so they can be found
/// without being stored in plaintext.
#[derive(Clone)]
pub struct BlindIndexKey(Zeroizing<[u8; KEY_LEN]>);

impl BlindIndexKey {
    /// HMAC-SHA256 over length-prefixed parts, so ("ab","c") and ("a","bc") differ.
    pub fn index(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()) {
            Ok(mac) => mac,
            // HMAC accepts keys of any length.
            Err(_) => return Vec::new(),
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}
impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}
impl std::fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose_and_owner() {
        let a = DataKey::generate();
        let b = DataKey::generate();
        assert_ne!(a.sealing_key().0[..], b.sealing_key().0[..]);
        assert_ne!(a.sealing_key().0[..], a.blind_index_key().0[..]);
    }

    #[test]
    fn bound_key_depends_on_both_keys() {
        let contact = DataKey::generate().sealing_key();
        let period = DataKey::generate().sealing_key();
        let other = DataKey::generate().sealing_key();
        let bound = contact.bound_to(&period);
        assert_eq!(bound.0[..], contact.bound_to(&period).0[..]);
        assert_ne!(bound.0[..], contact.0[..]);
        assert_ne!(bound.0[..], contact.bound_to(&other).0[..]);
        assert_ne!(bound.0[..], other.bound_to(&period).0[..]);
    }

    #[test]
    fn blind_index_is_deterministic_and_keyed() {
        let a = DataKey::generate().blind_index_key();
        let b = DataKey::generate().blind_index_key();
        assert_eq!(
            a.index(&[b"whatsapp", b"4915"]),
            a.index(&[b"whatsapp", b"4915"])
        );
        assert_ne!(
            a.index(&[b"whatsapp", b"4915"]),
            b.index(&[b"whatsapp", b"4915"])
        );
        assert_ne!(a.index(&[b"ab", b"c"]), a.index(&[b"a", b"bc"]));
    }
}
