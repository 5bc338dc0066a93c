//! Contacts recently written to, by address: which contact id a (tenant, channel, address
//! index) belonged to when this instance last stored a message for it.
//!
//! Every delivery looked its sender up by address before sealing (the contact's key seals the
//! message), one read per delivery. An entry here spares that read, and is trusted only as far
//! as the writer confirms it: the write checks, in its own transaction, that each contact taken
//! from here still exists with that address index (`contacts::address_indexes_of`), and a
//! mismatch (erased, moved to a new number, deleted — here or on another instance) fails the
//! write with `StoreError::Retry`; the batch then forgets these entries and is prepared again
//! from the database. So an entry can cost a retry, never a message stored for the wrong
//! contact (docs/decisions.md, "Contacts known by address").

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};

use lru::LruCache;
use sha2::{Digest, Sha256};

/// Entries kept (~100 bytes each): the contacts that write most often. A miss costs one read,
/// as before.
const CAPACITY: usize = 20_000;

/// Where to look a contact up: a digest of tenant, channel and blind address index, so that an
/// entry has a fixed size and holds nothing about the address itself beyond what the blind
/// index already is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AddressKey([u8; 32]);

impl AddressKey {
    pub(crate) fn new(tenant: &str, channel: &str, address_index: &[u8]) -> Self {
        let mut digest = Sha256::new();
        for part in [tenant.as_bytes(), channel.as_bytes(), address_index] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        Self(digest.finalize().into())
    }
}

pub(crate) struct KnownContacts {
    entries: Mutex<LruCache<AddressKey, String>>,
}

impl std::fmt::Debug for KnownContacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownContacts").finish_non_exhaustive()
    }
}

impl Default for KnownContacts {
    fn default() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::MIN.saturating_add(CAPACITY - 1),
            )),
        }
    }
}

impl KnownContacts {
    fn lock(&self) -> MutexGuard<'_, LruCache<AddressKey, String>> {
        // A panic elsewhere while holding the lock leaves whole entries behind: still usable,
        // and every use is confirmed by the writer anyway.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The contact id last stored for `key`, unconfirmed.
    pub(crate) fn get(&self, key: &AddressKey) -> Option<String> {
        self.lock().get(key).cloned()
    }

    /// Contacts a committed write stored messages for, at these addresses.
    pub(crate) fn remember(&self, found: impl IntoIterator<Item = (AddressKey, String)>) {
        let mut entries = self.lock();
        for (key, id) in found {
            entries.put(key, id);
        }
    }

    /// Entries the writer found out of date.
    pub(crate) fn forget(&self, keys: &[AddressKey]) {
        let mut entries = self.lock();
        for key in keys {
            entries.pop(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_told_apart_by_tenant_channel_and_index_and_can_be_forgotten() {
        let known = KnownContacts::default();
        let a = AddressKey::new("t1", "whatsapp", b"ix");
        known.remember([(a, "c1".to_string())]);
        assert_eq!(known.get(&a).as_deref(), Some("c1"));
        for other in [
            AddressKey::new("t2", "whatsapp", b"ix"),
            AddressKey::new("t1", "telegram", b"ix"),
            AddressKey::new("t1", "whatsapp", b"iy"),
            // The parts' lengths are part of the digest: no two splits of one string meet.
            AddressKey::new("t1w", "hatsapp", b"ix"),
        ] {
            assert_eq!(known.get(&other), None);
        }
        known.forget(&[a]);
        assert_eq!(known.get(&a), None);
    }
}
