//! Chained appends: a command decided on the state an earlier, still uncommitted append of the
//! same process leaves, queued without waiting for that append to commit.
//!
//! The writer accepts a chained append only if its predecessor committed, in an earlier batch
//! or earlier in the same one. The expected version alone cannot tell: if the predecessor
//! failed, another process may have appended at exactly the version the predecessor would
//! have left, and the chained command, decided on events that never made it into the log,
//! would pass the version check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use tokio::sync::Notify;

const QUEUED: u8 = 0;
const COMMITTED: u8 = 1;
const FAILED: u8 = 2;

/// Where one queued append stands; cheap to clone, shared by the writer and the commands
/// chained after the append.
#[derive(Debug, Clone)]
pub struct Ticket(Arc<Link>);

#[derive(Debug)]
struct Link {
    id: u64,
    state: AtomicU8,
    settled: Notify,
}

/// What became of an append once the writer is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Its events are in the log, appended by this request.
    Committed,
    /// Not known to have appended anything: refused, answered from a stored outcome, its
    /// transaction failed (or lost the answer to its `COMMIT`), or it was dropped unjudged.
    Failed,
}

impl Ticket {
    pub(crate) fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Ticket(Arc::new(Link {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            state: AtomicU8::new(QUEUED),
            settled: Notify::new(),
        }))
    }

    /// Unique among the tickets of this process.
    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }

    /// What became of the append, or `None` while the writer has not finished with it.
    pub fn settled(&self) -> Option<Settled> {
        match self.0.state.load(Ordering::Acquire) {
            COMMITTED => Some(Settled::Committed),
            FAILED => Some(Settled::Failed),
            _ => None,
        }
    }

    /// Waits until the writer has finished with the append.
    pub async fn wait_settled(&self) -> Settled {
        loop {
            let notified = self.0.settled.notified();
            tokio::pin!(notified);
            // Registered before the state is read, so a settlement in between still wakes us.
            notified.as_mut().enable();
            if let Some(settled) = self.settled() {
                return settled;
            }
            notified.await;
        }
    }

    /// Whether both are the ticket of the same append.
    pub fn is(&self, other: &Ticket) -> bool {
        self.id() == other.id()
    }

    /// Records the verdict, unless one was recorded already, and wakes whoever waits.
    pub(crate) fn settle(&self, settled: Settled) {
        let state = match settled {
            Settled::Committed => COMMITTED,
            Settled::Failed => FAILED,
        };
        let first =
            self.0
                .state
                .compare_exchange(QUEUED, state, Ordering::AcqRel, Ordering::Acquire);
        if first.is_ok() {
            self.0.settled.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_the_writer_settles_the_ticket() {
        let ticket = Ticket::new();
        assert_eq!(ticket.settled(), None);
        let waiter = tokio::spawn({
            let ticket = ticket.clone();
            async move { ticket.wait_settled().await }
        });
        tokio::task::yield_now().await;
        ticket.settle(Settled::Failed);
        assert_eq!(waiter.await.unwrap(), Settled::Failed);
        ticket.settle(Settled::Committed);
        assert_eq!(
            ticket.wait_settled().await,
            Settled::Failed,
            "the first verdict stays"
        );
        assert_ne!(Ticket::new().id(), ticket.id());
        assert!(ticket.is(&ticket.clone()) && !ticket.is(&Ticket::new()));
    }
}
