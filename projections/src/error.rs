//! The crate's error type; each variant says how a caller handles it.

use std::time::Duration;

/// Everything that can go wrong projecting the log or reading a read model.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed (connection lost, server restarting, statement error). The
    /// runtime logs it and retries the batch (nothing was applied: the checkpoint moves in the
    /// same transaction). A query caller maps it to `UNAVAILABLE` / `INTERNAL`.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading the event log failed. Handle as [`ProjectionError::Database`].
    #[error("event store error: {0}")]
    Store(#[from] ledger_eventstore::StoreError),
    /// A stored event could not be decoded (unknown type from a newer binary, unsupported
    /// version, malformed payload). The projection stops at the event before it and retries;
    /// an operator must deploy a binary that knows the event. Never skip it.
    #[error("event at position {position} cannot be decoded: {reason}")]
    Decode {
        /// The event's position.
        position: i64,
        /// Why.
        reason: String,
    },
    /// A row of a read model holds a value this binary cannot read (e.g. an unknown status).
    /// Indicates a schema mismatch: rebuild the projection; callers map it to `INTERNAL`.
    #[error("read model row is malformed: {0}")]
    Malformed(String),
    /// A read-your-writes wait ran out: the projection has not reached the position yet.
    /// The API maps it to `UNAVAILABLE` (retry later) or `DEADLINE_EXCEEDED`.
    #[error("projection {projection} is at {reached}, not yet at {wanted} after {waited:?}")]
    NotYetAtPosition {
        /// The projection waited for.
        projection: &'static str,
        /// The position it had reached.
        reached: i64,
        /// The position asked for.
        wanted: i64,
        /// How long the caller waited.
        waited: Duration,
    },
    /// A consistency check found the log it reads (a standby's) short of the read model's
    /// checkpoint (written by a projector reading the primary): it folds nothing then. The
    /// API maps it to `UNAVAILABLE`; retry once the standby has replayed further.
    #[error("the log has reached {head}, the {projection} checkpoint is at {checkpoint}")]
    LogBehindCheckpoint {
        /// The projection checked.
        projection: &'static str,
        /// The log's head.
        head: i64,
        /// The projection's checkpoint.
        checkpoint: i64,
    },
    /// A pagination cursor was not produced by this service (or is from another query).
    /// The API maps it to `INVALID_ARGUMENT`; the client restarts from the first page.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Another rebuild of the same projection is running (on this or another process).
    /// Wait for it to finish; do not start a second one.
    #[error("a rebuild of {0} is already running")]
    RebuildInProgress(&'static str),
    /// An unknown projection name was given (e.g. on the command line). Fix the name.
    #[error("unknown projection {0:?}")]
    UnknownProjection(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ProjectionError> = std::result::Result<T, E>;
