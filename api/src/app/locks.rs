//! Per-stream locks: commands on the same stream in this process are decided and appended one
//! after another, so a hot stream never collapses into a storm of version conflicts (commands
//! from other `ledgerd` processes are still caught by expected versions and retried).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// Idle entries are swept once the map holds this many streams.
const SWEEP_AT: usize = 10_000;

/// Stream id → its lock.
#[derive(Default)]
pub struct StreamLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl StreamLocks {
    /// Locks every stream of `streams` (sorted and deduplicated: no deadlock between two
    /// commands locking overlapping sets).
    pub async fn lock(&self, streams: &[String]) -> Vec<OwnedMutexGuard<()>> {
        let mut names: Vec<&String> = streams.iter().collect();
        names.sort();
        names.dedup();
        let locks: Vec<_> = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= SWEEP_AT {
                map.retain(|_, lock| Arc::strong_count(lock) > 1);
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
