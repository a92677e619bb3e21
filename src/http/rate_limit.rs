//! Token-bucket rate limits for public endpoints (the cloud's sign-up form): one bucket, or one
//! per key (a client IP, a phone number). Pure arithmetic over an `Instant` the caller passes
//! in, so tests need no clock; the keyed limiter holds its buckets behind a mutex.
//!
//! A bucket allows `burst` requests at once and one more every `every`; past that it answers
//! how long until the next one is allowed (the `Retry-After` of a 429).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests, and how fast they come back.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: u32,
    /// The time in which one more request is allowed.
    pub every: Duration,
}

impl Rate {
    /// `count` requests per `period`, all of them at once if need be.
    pub fn per(count: u32, period: Duration) -> Rate {
        let count = count.max(1);
        Rate { burst: count, every: period / count }
    }
}

/// A bucket as GCRA keeps it: the "theoretical arrival time" of the next request. An idle
/// bucket has it in the past; each request pushes it `every` further; a request is refused
/// while it lies more than `burst − 1` periods ahead. (No token counts, no fractions.)
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tat: Instant,
}

impl Bucket {
    /// Takes a token, or answers how long until one is there.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let tat = self.tat.max(now);
        let allowance = rate.every.saturating_mul(rate.burst.max(1) - 1);
        let ahead = tat.saturating_duration_since(now);
        if ahead > allowance {
            return Err(ahead - allowance);
        }
        self.tat = tat + rate.every;
        Ok(())
    }

    fn is_full(&self, now: Instant) -> bool {
        self.tat <= now
    }
}

/// One bucket for everyone (a global cap).
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    bucket: Mutex<Option<Bucket>>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter { rate, bucket: Mutex::new(None) }
    }

    /// `Ok` to go ahead, or `Err(wait)`.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        let mut slot = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(Bucket { tat: now }).take(self.rate, now)
    }
}

/// A bucket per key, at most `max_keys` of them: when full, idle (full) buckets are dropped;
/// if every bucket is busy, the oldest half go (a flood of keys then meets the global cap).
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> KeyedLimiter<K> {
    pub fn new(rate: Rate, max_keys: usize) -> KeyedLimiter<K> {
        KeyedLimiter { rate, max_keys: max_keys.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// `Ok` to go ahead, or `Err(wait)`.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            buckets.retain(|_, bucket| !bucket.is_full(now));
            if buckets.len() >= self.max_keys {
                let mut ages: Vec<Instant> = buckets.values().map(|b| b.tat).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                buckets.retain(|_, bucket| bucket.tat > cut);
            }
        }
        buckets.entry(key.clone()).or_insert(Bucket { tat: now }).take(self.rate, now)
    }
}

impl<K: Eq + Hash + Clone> KeyedLimiter<K> {
    /// How long `key` must wait before [`check`](Self::check) would let it through, without
    /// taking anything: for limits that count only failures (wrong codes), which are looked
    /// at before the attempt and charged after it.
    pub fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut bucket = *buckets.get(key)?;
        bucket.take(self.rate, now).err()
    }
}

/// The `Retry-After` value for a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.as_secs() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_one_per_period() {
        let start = Instant::now();
        let limiter = Limiter::new(Rate::per(5, Duration::from_secs(60)));
        for _ in 0..5 {
            assert!(limiter.check(start).is_ok());
        }
        let wait = limiter.check(start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(12));
        assert!(limiter.check(start + Duration::from_secs(11)).is_err());
        assert!(limiter.check(start + Duration::from_secs(12)).is_ok());
        assert!(limiter.check(start + Duration::from_secs(13)).is_err());
        // After a long pause it is full again, not more than full.
        let later = start + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(limiter.check(later).is_ok());
        }
        assert!(limiter.check(later).is_err());
    }

    #[test]
    fn keys_have_their_own_buckets_and_the_map_stays_bounded() {
        let start = Instant::now();
        let limiter = KeyedLimiter::new(Rate::per(1, Duration::from_secs(60)), 100);
        assert!(limiter.check(&"a", start).is_ok());
        assert!(limiter.check(&"a", start).is_err());
        assert!(limiter.check(&"b", start).is_ok());
        let limiter = KeyedLimiter::new(Rate::per(1, Duration::from_secs(60)), 100);
        for n in 0..1000u64 {
            let _ = limiter.check(&n, start + Duration::from_millis(n));
        }
        assert!(limiter.buckets.lock().unwrap().len() <= 100);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(12)), 12);
        assert_eq!(retry_after_seconds(Duration::from_millis(12_001)), 13);
    }
}
