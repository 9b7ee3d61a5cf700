//! Per-stream locks: commands on the same stream in this process are decided and queued one
//! after another, so a hot stream never collapses into a storm of version conflicts (commands
//! from other `ledgerd` processes are still caught by expected versions and retried). Each lock
//! guards the stream's [`Tail`]: the last append queued on it and the state it leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use super::pipeline::Tail;

/// A held stream lock, with the stream's tail.
pub type StreamGuard = OwnedMutexGuard<Option<Tail>>;

/// Idle entries are swept once the map holds this many streams.
const SWEEP_AT: usize = 10_000;

/// Stream id → its lock.
#[derive(Default)]
pub struct StreamLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Tail>>>>>,
}

impl StreamLocks {
    /// Locks every stream of `streams` (sorted and deduplicated: no deadlock between two
    /// commands locking overlapping sets).
    pub async fn lock(&self, streams: &[String]) -> Vec<StreamGuard> {
        let mut names: Vec<&String> = streams.iter().collect();
        names.sort();
        names.dedup();
        let locks: Vec<_> = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= SWEEP_AT {
                map.retain(|_, lock| !is_idle(lock));
            }
            names
                .into_iter()
                .map(|name| Arc::clone(map.entry(name.clone()).or_default()))
                .collect()
        };
        let mut guards = Vec::with_capacity(locks.len());
        for lock in locks {
            guards.push(lock.lock_owned().await);
        }
        guards
    }
}

/// Whether nobody holds or waits for a stream's lock and its last append is settled: dropping
/// it then loses nothing (a tail still queued must stay, or the next command would decide on
/// the state before it and run into a version conflict).
fn is_idle(lock: &Arc<tokio::sync::Mutex<Option<Tail>>>) -> bool {
    Arc::strong_count(lock) == 1
        && lock.try_lock().is_ok_and(|tail| {
            tail.as_ref()
                .is_none_or(|tail| tail.ticket.settled().is_some())
        })
}
