//! Per-caller rate limits: a keyed GCRA (generic cell rate algorithm, the token bucket as one
//! timestamp per key), used per credential by the authentication layer and per API key by
//! `AuthenticateKey`. A refusal says how long to wait, for `google.rpc.RetryInfo`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests per second and the burst allowed above it; a rate of 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second (0: no limit).
    pub per_s: u32,
    /// Requests that may arrive at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// Keys tracked at most; past it, keys whose bucket is full again are forgotten first, and a
/// new key is let through untracked if none is (the keys are credentials and API keys that
/// exist, so the bound is a guard against a bug, not a limit met in use).
const MAX_KEYS: usize = 100_000;

/// A rate limit per key.
pub struct RateLimiter<K> {
    /// Time between two requests at the sustained rate (`None`: no limit).
    interval: Option<Duration>,
    /// How far ahead of now a key's theoretical arrival time may run: the burst.
    tolerance: Duration,
    /// Each key's theoretical arrival time: when its bucket is full again.
    tat: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter at `rate`.
    pub fn new(rate: Rate) -> Self {
        let interval = (rate.per_s > 0).then(|| Duration::from_secs(1) / rate.per_s);
        let tolerance = interval.unwrap_or_default() * rate.burst.max(1);
        Self {
            interval,
            tolerance,
            tat: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `key` at `now`: `Ok` if it is within the rate, else how long until
    /// it would be.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let current = tat.get(key).copied().unwrap_or(now).max(now);
        let next = current + interval;
        let earliest = next.checked_sub(self.tolerance).unwrap_or(now);
        if earliest > now {
            return Err(earliest - now);
        }
        if tat.len() >= MAX_KEYS && !tat.contains_key(key) {
            tat.retain(|_, at| *at > now);
            if tat.len() >= MAX_KEYS {
                return Ok(());
            }
        }
        tat.insert(key.clone(), next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_sustained_rate() {
        let limiter = RateLimiter::new(Rate {
            per_s: 10,
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(&"a", start), Ok(()));
        }
        assert_eq!(limiter.check(&"a", start), Err(Duration::from_millis(100)));
        // Another key has its own bucket.
        assert_eq!(limiter.check(&"b", start), Ok(()));
        // One interval later, one more request passes, and only one.
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.check(&"a", later), Ok(()));
        assert_eq!(limiter.check(&"a", later), Err(Duration::from_millis(100)));
        // After a quiet spell the whole burst is back.
        let quiet = start + Duration::from_secs(5);
        for _ in 0..3 {
            assert_eq!(limiter.check(&"a", quiet), Ok(()));
        }
        assert!(limiter.check(&"a", quiet).is_err());
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let limiter = RateLimiter::new(Rate { per_s: 0, burst: 1 });
        let now = Instant::now();
        for _ in 0..1_000 {
            assert_eq!(limiter.check(&1, now), Ok(()));
        }
    }
}
