//! A bounded cache of folded stream states: at most `capacity` streams; when full, the least
//! recently used entry goes (found by a scan: O(n) per eviction, fine for thousands of
//! entries; an intrusive list would be the next step under heavier churn).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger_eventstore::WriterWatch;

struct Entry<S> {
    used: u64,
    loaded_at: Instant,
    /// The writer's check count (see [`WriterWatch`]) the state was known current at; `None`
    /// once it is known stale.
    current_at_check: Option<u64>,
    state: Arc<S>,
}

impl<S> Entry<S> {
    fn is_fresh(&self, max_age: Duration, watch: &WriterWatch) -> bool {
        self.loaded_at.elapsed() < max_age
            || self
                .current_at_check
                .and_then(|check| watch.unmoved_since(check))
                .is_some_and(|at| at.elapsed() < max_age)
    }

    fn mark_stale(&mut self) {
        self.current_at_check = None;
        self.loaded_at = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or(self.loaded_at);
    }
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

    /// The cached state of a stream if it was brought up to date less than `max_age` ago, or
    /// if `watch` vouches that it was still current less than `max_age` ago (no other writer
    /// appended since it was brought up to date).
    pub fn get_fresh(
        &self,
        stream: &str,
        max_age: Duration,
        watch: &WriterWatch,
    ) -> Option<Arc<S>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner
            .entries
            .get_mut(stream)
            .filter(|entry| entry.is_fresh(max_age, watch))
            .map(|entry| {
                entry.used = tick;
                Arc::clone(&entry.state)
            })
    }

    /// Keeps `state`, read from the log after the writer's check `check`, unless a newer
    /// version is cached already.
    pub fn put(&self, stream: &str, state: Arc<S>, check: u64) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(entry) = inner.entries.get_mut(stream) {
            if entry.state.version() <= state.version() {
                entry.state = state;
                entry.loaded_at = Instant::now();
                entry.current_at_check = Some(check);
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
                current_at_check: Some(check),
                state,
            },
        );
    }

    /// Folds events this process just committed, in an append queued after the writer's check
    /// `check`, into the cached state if it is exactly at the version they were appended after
    /// (else the entry is only marked stale). The cache then holds the stream's committed state
    /// without a read.
    pub fn advance<E>(
        &self,
        stream: &str,
        expected_version: u64,
        events: &[E],
        check: u64,
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
                entry.current_at_check = Some(check);
                return;
            }
        }
        entry.mark_stale();
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
        cache.put("a", Arc::new(1u64), 0);
        cache.put("b", Arc::new(1u64), 0);
        assert!(cache.get("a").is_some());
        cache.put("c", Arc::new(1u64), 0);
        assert!(cache.get("b").is_none());
        cache.put("a", Arc::new(5u64), 0);
        cache.put("a", Arc::new(3u64), 0);
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
        let watch = WriterWatch::default();
        cache.put("a", Arc::new(3u64), 0);
        cache.advance("a", 3, &[1, 1], 0, fold);
        assert_eq!(cache.get_fresh("a", fresh, &watch).as_deref(), Some(&5));
        cache.advance("a", 3, &[1], 0, fold);
        assert_eq!(
            cache.get("a").as_deref(),
            Some(&5),
            "not at version 3: unchanged"
        );
        assert!(cache.get_fresh("a", fresh, &watch).is_none(), "but stale");
    }
}
