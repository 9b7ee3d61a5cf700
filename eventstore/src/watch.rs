//! What this process's writer has seen of other writers, shared with readers of cached state.
//!
//! Every batch locks the head row and compares it with where this writer left it: equal means
//! no other writer (another `ledgerd`) appended since this writer's previous batch. A state
//! known current when check `n` had been made (read after it, or written by an append queued
//! after it) is therefore still current as of the latest check, as long as no check after `n`
//! saw the head moved by someone else. On a single writer that lets a process trust its own
//! cache without asking the database; with several, every check sees the others and the
//! watch vouches for nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The writer's checks of the head, readable from any task.
#[derive(Debug)]
pub struct WriterWatch {
    started: Instant,
    /// Checks made so far (the number of the latest).
    checks: AtomicU64,
    /// Number of the latest check that found the head moved by another writer (or could not
    /// tell: the writer had no memory of where it left the head).
    last_moved: AtomicU64,
    /// When the latest check was made, in microseconds after `started`.
    latest_at_micros: AtomicU64,
}

impl Default for WriterWatch {
    fn default() -> Self {
        WriterWatch {
            started: Instant::now(),
            checks: AtomicU64::new(0),
            last_moved: AtomicU64::new(0),
            latest_at_micros: AtomicU64::new(0),
        }
    }
}

impl WriterWatch {
    /// The number of checks made so far. Read it *before* reading a state from the log (or
    /// before queueing the append that produces it) and keep it with the state.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::SeqCst)
    }

    /// When the latest check was made, if no check after check `since` found another writer's
    /// appends: a state current at `since` is still current at that instant.
    pub fn unmoved_since(&self, since: u64) -> Option<Instant> {
        let at = self.latest_at_micros.load(Ordering::SeqCst);
        if self.last_moved.load(Ordering::SeqCst) > since {
            return None;
        }
        Some(self.started + Duration::from_micros(at))
    }

    /// Records a check made now, with the head lock held. Only the writer task calls it.
    pub(crate) fn observe(&self, moved: bool) {
        self.observe_at(moved, Instant::now());
    }

    /// Records a check that saw the head as committed at `at` or later (an idle writer's read
    /// of the head, without the lock, started after `at`). Only the writer task calls it, or,
    /// in a process that has no writer ([`crate::Appender::read_only`]), the one task that
    /// follows the log a replica replays: there every append is another writer's, so `moved`
    /// is whether the log grew since that task's previous check.
    pub fn observe_at(&self, moved: bool, at: Instant) {
        let number = self.checks.load(Ordering::SeqCst) + 1;
        if moved {
            self.last_moved.store(number, Ordering::SeqCst);
        }
        let since_start = at.saturating_duration_since(self.started);
        let micros = u64::try_from(since_start.as_micros()).unwrap_or(u64::MAX);
        self.latest_at_micros.store(micros, Ordering::SeqCst);
        self.checks.store(number, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_vouched_for_until_a_later_check_sees_another_writer() {
        let watch = WriterWatch::default();
        assert_eq!(watch.checks(), 0);
        watch.observe(true);
        let known = watch.checks();
        assert!(
            watch.unmoved_since(0).is_none(),
            "check 1 saw the head moved"
        );
        let first = watch
            .unmoved_since(known)
            .expect("nothing moved after check 1");
        watch.observe(false);
        let second = watch
            .unmoved_since(known)
            .expect("check 2 saw nothing either");
        assert!(second >= first);
        watch.observe(true);
        assert!(
            watch.unmoved_since(known).is_none(),
            "check 3 saw another writer"
        );
        assert!(watch.unmoved_since(watch.checks()).is_some());
    }
}
