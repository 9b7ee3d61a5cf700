//! The follower of a read-only `ledgerd` (`--read-only`, on a hot standby): it tails the log
//! the standby replays, as the writer's watch and the key-index updates do on the primary.
//!
//! On the primary this process's writer vouches for its cached states (no other writer
//! appended since they were read) and every append that creates or rotates a key updates the
//! key index. A replica has no writer and every append is another process's, so every
//! [`FOLLOW_EVERY`] this task reads the events the standby has replayed since its previous
//! read (the primary's `NOTIFY` does not reach a standby, hence polling):
//! - the secrets of keys created or rotated go into the key index (and out of its
//!   remembered-unknown hashes), so a key is known here within one interval of its replay;
//! - the watch records the check: "moved" when the log grew. A cached account or organization
//!   state is trusted by `AuthenticateKey` only while no check after it was read saw the log
//!   grow, and for at most `AUTH_STATE_MAX_AGE`; otherwise it is read again from the standby.
//!
//! So what `AuthenticateKey` answers on a replica is at most the standby's replay lag plus one
//! [`FOLLOW_EVERY`] behind the primary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_domain::Event;
use ledger_eventstore::{RecordedEvent, read_all};
use tokio::sync::watch;

use super::App;

/// How often the follower reads the standby's log.
pub const FOLLOW_EVERY: Duration = ledger_eventstore::IDLE_CHECK_EVERY;

/// Most events read at once; a full batch is followed at once by the next.
const BATCH: i64 = 1_000;

/// The event types that give a key a secret (the only ones decoded).
const KEY_EVENTS: [&str; 2] = ["account.key_created", "account.key_rotated"];

/// Follows the log from `after` (the head read before the key index was built) until `stop`
/// turns true.
pub async fn run(app: Arc<App>, mut after: i64, mut stop: watch::Receiver<bool>) {
    loop {
        let before = Instant::now();
        let read = tokio::time::timeout(5 * FOLLOW_EVERY, read_all(&app.log, after, BATCH));
        let full = match read.await {
            Ok(Ok(events)) => {
                if let Some(last) = events.last() {
                    after = last.position;
                }
                app.keys.record(events.iter().filter_map(key_event));
                app.appender.watch().observe_at(!events.is_empty(), before);
                events.len() >= BATCH as usize
            }
            // A failed or slow read tells nothing: the watch ages and cached states with it.
            Ok(Err(error)) => {
                tracing::debug!(%error, "following the replica's log failed");
                false
            }
            Err(_elapsed) => {
                tracing::debug!("following the replica's log timed out");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}

/// The decoded event when it gives a key a secret.
fn key_event(recorded: &RecordedEvent) -> Option<Event> {
    if !KEY_EVENTS.contains(&recorded.event_type.as_str()) {
        return None;
    }
    let version = u16::try_from(recorded.schema_version).ok()?;
    Event::from_stored_json(&recorded.event_type, version, &recorded.payload).ok()
}
