//! Unwrapped keys, cached.
//!
//! Unwrapping a data key is an age operation (~56 µs); sealing a field is ~2 µs. The key ring
//! keeps recently used keys unwrapped in a bounded LRU cache so that hot contacts cost one
//! unwrap, not one per message. Evicted keys are zeroized when their last user drops them.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;

use super::{BlindIndexKey, CryptoError, DataKey, MasterKey, SealingKey};

/// Whose key it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    Tenant(String),
    Contact(String),
    /// A retention period key (tenant × scope × month).
    Period(String),
    /// A register entry's key (GDPR records).
    Record(String),
    /// An install-wide key (e.g. the one sealing web interface login names).
    Install(String),
}

/// How a key's owner is named where it is recorded (a retention certificate's shredded keys):
/// `contact:<id>`, `period:<id>`, … — one spelling, so what is written is read back the same.
impl std::fmt::Display for KeyOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id) = match self {
            KeyOwner::Tenant(id) => ("tenant", id),
            KeyOwner::Contact(id) => ("contact", id),
            KeyOwner::Period(id) => ("period", id),
            KeyOwner::Record(id) => ("record", id),
            KeyOwner::Install(id) => ("install", id),
        };
        write!(f, "{kind}:{id}")
    }
}

impl serde::Serialize for KeyOwner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The keys derived from one data key.
#[derive(Debug)]
pub struct OwnerKeys {
    pub seal: SealingKey,
    pub blind: BlindIndexKey,
}

impl OwnerKeys {
    /// This owner's keys with sealing bound to a period key (see [`SealingKey::bound_to`]).
    pub fn within_period(&self, period: &OwnerKeys) -> OwnerKeys {
        OwnerKeys {
            seal: self.seal.bound_to(&period.seal),
            blind: self.blind.clone(),
        }
    }

    fn derive(key: &DataKey) -> Self {
        Self {
            seal: key.sealing_key(),
            blind: key.blind_index_key(),
        }
    }
}

pub struct KeyRing {
    master: MasterKey,
    cache: Mutex<LruCache<KeyOwner, Arc<OwnerKeys>>>,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").finish_non_exhaustive()
    }
}

/// A freshly generated data key, with its wrapped form ready to store.
pub struct NewKey {
    pub keys: Arc<OwnerKeys>,
    pub wrapped: Vec<u8>,
}

impl KeyRing {
    pub fn new(master: MasterKey, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            master,
            cache: Mutex::new(LruCache::new(capacity)),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// (hits, misses) of [`KeyRing::cached`] since start.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    fn cache(&self) -> MutexGuard<'_, LruCache<KeyOwner, Arc<OwnerKeys>>> {
        // A poisoned lock only means another thread panicked mid-update of a cache; the cache
        // holds no invariants beyond its entries, so keep using it.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Generates a data key for a new owner. It is cached only once the owner is stored
    /// (see [`KeyRing::remember`]), so a rolled-back insert leaves nothing behind.
    pub fn generate(&self) -> Result<NewKey, CryptoError> {
        let key = DataKey::generate();
        let wrapped = self.master.wrap(key.as_bytes())?;
        Ok(NewKey {
            keys: Arc::new(OwnerKeys::derive(&key)),
            wrapped,
        })
    }

    /// Caches a key whose owner has been committed.
    pub fn remember(&self, owner: KeyOwner, keys: Arc<OwnerKeys>) {
        self.cache().put(owner, keys);
    }

    /// The cached keys of `owner`, if any.
    pub fn cached(&self, owner: &KeyOwner) -> Option<Arc<OwnerKeys>> {
        use std::sync::atomic::Ordering::Relaxed;
        let found = self.cache().get(owner).cloned();
        match found {
            Some(_) => self.hits.fetch_add(1, Relaxed),
            None => self.misses.fetch_add(1, Relaxed),
        };
        found
    }

    /// The keys of `owner`, unwrapping `wrapped` on a cache miss.
    pub fn open(&self, owner: KeyOwner, wrapped: &[u8]) -> Result<Arc<OwnerKeys>, CryptoError> {
        if let Some(keys) = self.cached(&owner) {
            return Ok(keys);
        }
        let raw = self.master.unwrap(wrapped)?;
        let key = DataKey::from_slice(&raw)?;
        let keys = Arc::new(OwnerKeys::derive(&key));
        self.cache().put(owner, keys.clone());
        Ok(keys)
    }

    /// Drops a key from the cache, e.g. after its owner was erased.
    pub fn forget(&self, owner: &KeyOwner) {
        self.cache().pop(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Certificates already stored name their keys this way; the spelling must not change.
    #[test]
    fn a_key_owner_is_recorded_as_kind_colon_id() {
        let owners = [
            KeyOwner::Contact("c1".into()),
            KeyOwner::Period("p|whatsapp|2026-01".into()),
        ];
        assert_eq!(
            serde_json::to_string(&owners).unwrap(),
            r#"["contact:c1","period:p|whatsapp|2026-01"]"#
        );
    }

    #[test]
    fn cache_is_bounded_and_reopens_from_wrapped() {
        let ring = KeyRing::new(MasterKey::new(age::x25519::Identity::generate(), &[]), 2);
        let mut wrapped = Vec::new();
        for i in 0..3 {
            let k = ring.generate().unwrap();
            ring.remember(KeyOwner::Contact(i.to_string()), k.keys.clone());
            wrapped.push(k.wrapped);
        }
        assert!(
            ring.cached(&KeyOwner::Contact("0".into())).is_none(),
            "oldest evicted"
        );
        assert!(ring.cached(&KeyOwner::Contact("2".into())).is_some());
        let reopened = ring
            .open(KeyOwner::Contact("0".into()), &wrapped[0])
            .unwrap();
        assert!(ring.cached(&KeyOwner::Contact("0".into())).is_some());
        let _ = reopened;
    }
}
