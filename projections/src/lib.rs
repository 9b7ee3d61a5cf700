//! Projector runtime and read models of ARouter Ledger.
//!
//! Every projection tails the event log from its checkpoint, applies events in bounded
//! batches (a few multi-row statements per batch), and writes its checkpoint in the same
//! transaction as its read-model changes, so each event is applied exactly once whatever
//! crashes. One runner per projection is active across all `ledgerd` processes (a session
//! advisory lock on a dedicated connection); LISTEN/NOTIFY wakes it, polling is the safety net.
//! Projections can be rebuilt beside the live tables and swapped in atomically, and checked
//! against a fresh fold of the log. Query functions for every read model return plain
//! structs. See `docs/projections.md`.

mod check;
mod checkpoint;
mod cursor;
mod error;
mod metrics;
pub mod models;
mod pools;
mod projection;
mod rebuild;
mod recent;
mod runner;
mod runtime;
mod status;

pub use check::{CheckLimits, CheckReport, Difference, check, check_all, check_within};
pub use checkpoint::{
    StepOutcome, apply_next_batch_in, begin_batch, checkpoint, furthest_checkpoint, step,
};
pub use error::{ProjectionError, Result};
pub use metrics::MetricsSnapshot;
pub use models::MAX_PAGE_SIZE;
pub use pools::ReadModelPool;
pub use projection::{Applied, Projection};
pub use rebuild::{RebuildReport, rebuild, rebuild_with_progress};
pub use recent::{DEFAULT_RECENT_EVENTS, RecentEvents};
pub use runner::try_advisory_lock;
pub use runtime::{ProjectionRuntime, RuntimeConfig, RuntimeMetrics};
pub use status::{MAX_WAIT, ProjectionStatus, status, statuses, wait_for_position};
