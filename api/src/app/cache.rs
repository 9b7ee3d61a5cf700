//! A bounded cache of folded stream states: at most `capacity` streams; when full, the least
//! recently used entry goes (found by a scan: O(n) per eviction, fine for thousands of
//! entries; an intrusive list would be the next step under heavier churn).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Entry<S> {
    used: u64,
    loaded_at: Instant,
    state: Arc<S>,
}

/// Folded states by stream id.
pub struct StateCache<S> {
    capacity: usize,
    inner: Mutex<Inner<S>>,
}

struct Inner<S> {
    tick: u64,
    entries: HashMap<String, Entry<S>>,
}

/// A state with a version (events folded).
pub trait Versioned {
    /// Events folded.
    fn version(&self) -> u64;
}

impl<S: Versioned> StateCache<S> {
    /// An empty cache of at most `capacity` streams.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                tick: 0,
                entries: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached state of a stream, if any.
    pub fn get(&self, stream: &str) -> Option<Arc<S>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.entries.get_mut(stream).map(|entry| {
            entry.used = tick;
            Arc::clone(&entry.state)
        })
    }

    /// The cached state of a stream if it was brought up to date less than `max_age` ago.
    pub fn get_fresh(&self, stream: &str, max_age: Duration) -> Option<Arc<S>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner
            .entries
            .get_mut(stream)
            .filter(|entry| entry.loaded_at.elapsed() < max_age)
            .map(|entry| {
                entry.used = tick;
                Arc::clone(&entry.state)
            })
    }

    /// Keeps `state` (just brought up to date) unless a newer version is cached already.
    pub fn put(&self, stream: &str, state: Arc<S>) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(entry) = inner.entries.get_mut(stream) {
            if entry.state.version() <= state.version() {
                entry.state = state;
                entry.loaded_at = Instant::now();
            }
            entry.used = tick;
            return;
        }
        if inner.entries.len() >= self.capacity {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(
            stream.to_owned(),
            Entry {
                used: tick,
                loaded_at: Instant::now(),
                state,
            },
        );
    }

    /// Folds events this process just committed into the cached state, if it is exactly at the
    /// version they were appended after (else the entry is only marked stale). The cache then
    /// holds the stream's committed state without a read.
    pub fn advance<E>(
        &self,
        stream: &str,
        expected_version: u64,
        events: &[E],
        fold: impl Fn(&mut S, &E) -> bool,
    ) where
        S: Clone,
    {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(stream) else {
            return;
        };
        if entry.state.version() == expected_version {
            let state = Arc::make_mut(&mut entry.state);
            if events.iter().all(|event| fold(state, event)) {
                entry.loaded_at = Instant::now();
                return;
            }
        }
        entry.loaded_at = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or(entry.loaded_at);
    }

    /// Drops a stream's entry if it is ahead of `version`, the stream's version in the log
    /// (a defence: the cache must never hold events the log does not).
    pub fn forget_if_ahead(&self, stream: &str, version: i64) {
        let mut inner = self.lock();
        let ahead = inner
            .entries
            .get(stream)
            .is_some_and(|e| i64::try_from(e.state.version()).unwrap_or(i64::MAX) > version);
        if ahead {
            tracing::warn!(stream, version, "cached state ahead of the log; dropped");
            inner.entries.remove(stream);
        }
    }

    /// A snapshot of every cached state (for background scans).
    pub fn all(&self) -> Vec<Arc<S>> {
        self.lock()
            .entries
            .values()
            .map(|e| Arc::clone(&e.state))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Versioned for u64 {
        fn version(&self) -> u64 {
            *self
        }
    }

    #[test]
    fn the_least_recently_used_stream_is_evicted_and_older_versions_never_replace_newer() {
        let cache = StateCache::new(2);
        cache.put("a", Arc::new(1u64));
        cache.put("b", Arc::new(1u64));
        assert!(cache.get("a").is_some());
        cache.put("c", Arc::new(1u64));
        assert!(cache.get("b").is_none());
        cache.put("a", Arc::new(5u64));
        cache.put("a", Arc::new(3u64));
        assert_eq!(cache.get("a").as_deref(), Some(&5));
    }

    #[test]
    fn committed_events_advance_a_state_at_the_expected_version_and_otherwise_mark_it_stale() {
        let cache = StateCache::new(4);
        let fold = |state: &mut u64, event: &u64| {
            *state += event;
            true
        };
        let fresh = Duration::from_secs(60);
        cache.put("a", Arc::new(3u64));
        cache.advance("a", 3, &[1, 1], fold);
        assert_eq!(cache.get_fresh("a", fresh).as_deref(), Some(&5));
        cache.advance("a", 3, &[1], fold);
        assert_eq!(
            cache.get("a").as_deref(),
            Some(&5),
            "not at version 3: unchanged"
        );
        assert!(cache.get_fresh("a", fresh).is_none(), "but stale");
    }
}
