//! The newest events of the log, read and decoded once for all the runners of this process.
//!
//! Every runner steps on its own (its own transaction and checkpoint), yet all of them are woken
//! by the same commit and want the same positions within milliseconds of each other. Without
//! this, each of the four read those events from PostgreSQL and decoded them again. Now the
//! first runner to ask reads them and keeps them here, and the others take them from memory.
//! That is sound because a position, once readable, never changes: positions are gapless in
//! commit order and the log is append-only, so whoever read an event and whenever, it is the
//! same event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::PgPool;

use crate::error::Result;
use crate::projection::{Applied, decode};

/// Events kept by default: a few gather windows of the gateway's load, a few MiB at most.
pub const DEFAULT_RECENT_EVENTS: usize = 4_096;

/// A window of consecutive decoded events, the newest any runner of this process has read.
pub struct RecentEvents {
    capacity: usize,
    window: Mutex<VecDeque<Arc<Applied>>>,
    /// One read of the log at a time: runners woken together wait for the first one's read
    /// instead of making their own.
    reading: tokio::sync::Mutex<()>,
}

impl RecentEvents {
    /// An empty window of at most `capacity` events (0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        RecentEvents {
            capacity,
            window: Mutex::new(VecDeque::new()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    fn window(&self) -> MutexGuard<'_, VecDeque<Arc<Applied>>> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Up to `max` events after position `after`, in position order: from the window where it
    /// has them, the rest read from the log through `log` (and kept for the other runners).
    pub async fn after(&self, log: &PgPool, after: i64, max: i64) -> Result<Vec<Arc<Applied>>> {
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        if behind(&self.window(), after) {
            return read(log, after, max).await;
        }
        let _turn = self.reading.lock().await;
        // Another runner may have read what we want while we waited for our turn.
        let Some(mut events) = self.held_after(after, max) else {
            return read(log, after, max).await;
        };
        if events.len() < max {
            let last = events.last().map_or(after, |e| e.position);
            let fresh = read(log, last, max - events.len()).await?;
            self.keep(last, &fresh);
            events.extend(fresh);
        }
        Ok(events)
    }

    /// What the window holds after `after` (at most `max`); `None` when `after` is behind it.
    fn held_after(&self, after: i64, max: usize) -> Option<Vec<Arc<Applied>>> {
        let window = self.window();
        if behind(&window, after) {
            return None;
        }
        let skip = window.front().map_or(0, |first| {
            usize::try_from(after + 1 - first.position).unwrap_or(usize::MAX)
        });
        Some(window.iter().skip(skip).take(max).cloned().collect())
    }

    /// Adds `fresh`, read after position `last`, to the window: appended when it continues
    /// the window, in place of it otherwise.
    fn keep(&self, last: i64, fresh: &[Arc<Applied>]) {
        if fresh.is_empty() || self.capacity == 0 {
            return;
        }
        let mut window = self.window();
        // `fresh` is consecutive from `last + 1`: kept alone, it never leaves a gap either.
        if window.back().is_some_and(|newest| newest.position != last) {
            window.clear();
        }
        window.extend(fresh.iter().cloned());
        let excess = window.len().saturating_sub(self.capacity);
        window.drain(..excess);
    }
}

/// Whether `after` is before the window's first event (a runner catching up).
fn behind(window: &VecDeque<Arc<Applied>>, after: i64) -> bool {
    window
        .front()
        .is_some_and(|first| after + 1 < first.position)
}

/// Reads and decodes up to `max` events after `after`.
async fn read(log: &PgPool, after: i64, max: usize) -> Result<Vec<Arc<Applied>>> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let recorded = ledger_eventstore::read_all(log, after, max).await?;
    decode(&recorded)
}
