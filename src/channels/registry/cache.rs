//! The channels webhooks name, kept opened for a moment.
//!
//! Every delivery names its channel, and reading the row and opening its secrets was a third
//! of the statements PostgreSQL ran per delivery (docs/benchmarks.md). A channel read here is
//! used for at most [`fresh_for`] (two seconds): this instance's own changes take effect at once
//! ([`ChannelCache::forget`]), another instance's (PostgreSQL) within that time
//! (docs/decisions.md, "Webhook channels cached for two seconds").

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use lru::LruCache;

use super::Channel;

/// How long a channel read from the database is used without reading it again.
pub(crate) fn fresh_for() -> Duration {
    Duration::seconds(2)
}

/// Channels are few (a handful per tenant); the bound only keeps a flood of valid but unused
/// ids from growing memory.
const CAPACITY: usize = 1024;

/// Opened channels by id, each with the time it was read.
pub(crate) struct ChannelCache {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Counts the changes forgotten; a read that began before one is not kept.
    generation: u64,
    entries: LruCache<String, (DateTime<Utc>, Channel)>,
}

/// Where a read of the database began, for [`ChannelCache::keep`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadBegan(u64);

impl std::fmt::Debug for ChannelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the entries: they hold opened secrets.
        f.debug_struct("ChannelCache").finish_non_exhaustive()
    }
}

impl Default for ChannelCache {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                generation: 0,
                entries: LruCache::new(NonZeroUsize::MIN.saturating_add(CAPACITY - 1)),
            }),
        }
    }
}

impl ChannelCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves whole entries behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The channel, when it was read less than [`fresh_for`] before `now`.
    pub(crate) fn fresh(&self, id: &str, now: DateTime<Utc>) -> Option<Channel> {
        let mut inner = self.lock();
        match inner.entries.get(id) {
            Some((read_at, channel)) if now >= *read_at && now - *read_at < fresh_for() => {
                Some(channel.clone())
            }
            Some(_) => {
                inner.entries.pop(id);
                None
            }
            None => None,
        }
    }

    /// Taken before the database is read: a change forgotten in the meantime keeps the read's
    /// result out of the cache (it may predate the change).
    pub(crate) fn read_begins(&self) -> ReadBegan {
        ReadBegan(self.lock().generation)
    }

    /// Keeps `channel`, read at `now`, unless a change was forgotten since `began`.
    pub(crate) fn keep(&self, began: ReadBegan, channel: &Channel, now: DateTime<Utc>) {
        let mut inner = self.lock();
        if inner.generation == began.0 {
            inner
                .entries
                .put(channel.id.clone(), (now, channel.clone()));
        }
    }

    /// A channel changed or was removed: the next delivery reads it again.
    pub(crate) fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.pop(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::registry::ChannelSecrets;
    use crate::channels::Platform;
    use crate::tenants::TenantId;

    fn channel(id: &str, enabled: bool) -> Channel {
        Channel {
            id: id.into(),
            tenant: TenantId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
            platform: Platform::Whatsapp,
            account_id: None,
            enabled,
            secrets: ChannelSecrets::default(),
            business_letters: false,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_channel_is_used_for_two_seconds_after_its_read_then_read_again() {
        let cache = ChannelCache::default();
        let began = cache.read_begins();
        cache.keep(began, &channel("a", true), at(0));
        assert!(cache.fresh("a", at(0)).is_some());
        assert!(cache.fresh("a", at(1)).is_some());
        assert!(cache.fresh("a", at(2)).is_none(), "two seconds old");
        assert!(cache.fresh("a", at(1)).is_none(), "dropped once stale");
        assert!(cache.fresh("b", at(0)).is_none());
    }

    #[test]
    fn a_clock_set_back_does_not_keep_an_entry_fresh() {
        let cache = ChannelCache::default();
        cache.keep(cache.read_begins(), &channel("a", true), at(10));
        assert!(cache.fresh("a", at(5)).is_none());
    }

    #[test]
    fn a_forgotten_channel_is_read_again_and_a_read_from_before_the_change_is_not_kept() {
        let cache = ChannelCache::default();
        cache.keep(cache.read_begins(), &channel("a", true), at(0));
        // A delivery starts reading the row; meanwhile an admin disables the channel.
        let began = cache.read_begins();
        cache.forget("a");
        assert!(cache.fresh("a", at(0)).is_none());
        // The delivery's read may predate the change: it must not be kept.
        cache.keep(began, &channel("a", true), at(0));
        assert!(cache.fresh("a", at(0)).is_none());
        // A read that began after the change is kept.
        cache.keep(cache.read_begins(), &channel("a", false), at(0));
        assert!(!cache.fresh("a", at(0)).unwrap().enabled);
    }
}
