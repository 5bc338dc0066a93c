//! Flood protection for the unauthenticated entry points: per-address token buckets. The
//! webhook endpoints verify a signature over every body, which costs CPU and a database read
//! before a forgery is refused; a single address flooding them gets 429s while everyone else
//! is served. In memory (a restart forgives) and bounded in size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Addresses tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 100_000;

/// Requests per second per client address, with a burst of one second's worth.
#[derive(Debug)]
pub struct IpRateLimit {
    per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

impl IpRateLimit {
    /// `per_sec == 0` turns the limit off.
    pub fn new(per_sec: u32) -> Self {
        Self {
            per_sec: f64::from(per_sec),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `ip`'s bucket; false when it is empty.
    pub fn allow(&self, ip: IpAddr, now: DateTime<Utc>) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            // A full bucket is the same as no entry: drop those.
            buckets.retain(|_, b| self.refilled(b, now) < self.per_sec);
            if buckets.len() >= MAX_TRACKED {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: self.per_sec,
            at: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The bucket's tokens at `now`: refilled at `per_sec`, up to the burst (also `per_sec`).
    fn refilled(&self, bucket: &Bucket, now: DateTime<Utc>) -> f64 {
        let elapsed = (now - bucket.at)
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as f64
            / 1e6;
        (bucket.tokens + elapsed * self.per_sec).min(self.per_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let limit = IpRateLimit::new(10);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!((0..20).filter(|_| limit.allow(a, at(0))).count(), 10);
        assert!(limit.allow(b, at(0)), "another address is not affected");
        assert!(!limit.allow(a, at(50)), "half a token is not enough");
        assert!(limit.allow(a, at(100)), "one token back after 1/10 s");
        assert!(!limit.allow(a, at(100)));
        assert_eq!(
            (0..20).filter(|_| limit.allow(a, at(60_000))).count(),
            10,
            "refills up to the burst, not beyond"
        );
    }

    #[test]
    fn zero_is_off_and_the_table_stays_bounded() {
        let off = IpRateLimit::new(0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| off.allow(a, at(0))));
        let limit = IpRateLimit::new(1);
        for i in 0..(MAX_TRACKED as u32 + 10) {
            limit.allow(IpAddr::from(i.to_be_bytes()), at(0));
        }
        assert!(limit.buckets.lock().unwrap().len() <= MAX_TRACKED);
    }
}
