//! Errors of the event log, each with how a caller should handle it.

use uuid::Uuid;

use crate::model::{ExpectedVersion, UniqueClaim};

/// What can go wrong appending to or reading the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stream was not at the expected version: another command changed it first. Nothing was
    /// appended. Reload the stream, decide again and retry with the same command id.
    #[error("stream {stream_id} is at version {actual}, expected {expected:?}")]
    Conflict {
        /// The stream that moved.
        stream_id: String,
        /// What the command expected.
        expected: ExpectedVersion,
        /// Where the stream is.
        actual: i64,
    },
    /// The command id was used before for a different request. Nothing was appended. The
    /// caller must use a new command id for a new command; never retry as is.
    #[error("command id {command_id} was already used for a different request")]
    CommandIdReused {
        /// The reused id.
        command_id: Uuid,
    },
    /// A command of a group append was recorded before (alone or in another group) with the
    /// same request, while others of the group were not. Nothing was appended. Answer that
    /// command from its stored outcome, then decide the others again on the log.
    #[error("command {command_id} of the group is already recorded")]
    CommandRecorded {
        /// The recorded id.
        command_id: Uuid,
    },
    /// A unique claim was already made by an earlier event (e.g. a generation billed twice).
    /// Nothing was appended. Do not retry: the fact is already recorded.
    #[error("{} {} is already recorded", .0.scope, .0.value)]
    ClaimTaken(UniqueClaim),
    /// The append was chained after another append of this process (decided on the state it
    /// leaves) and that append did not commit. Nothing was appended. Reload the stream, decide
    /// again and retry with the same command id.
    #[error("the append this one was decided after did not commit")]
    PredecessorFailed,
    /// The request breaks a limit of the log (sizes, counts, empty names). Nothing was
    /// appended. A programming error of the caller: fix the request.
    #[error("invalid append request: {0}")]
    InvalidRequest(String),
    /// The appender has stopped (the service is shutting down). The outcome is unknown only if
    /// the request was already handed over; retry with the same command id elsewhere or later.
    #[error("the appender is not running")]
    AppenderStopped,
    /// PostgreSQL failed or could not be reached. The append may or may not have committed:
    /// retry with the same command id, which is safe.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The transaction carrying this append failed as a whole (the cause is logged once by the
    /// appender). It may have committed if the connection was lost while it committed: retry
    /// with the same command id, which is safe.
    #[error("the event log is unavailable")]
    Unavailable,
    /// A migration failed at start-up. Fix the database or the migration; do not serve.
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be decoded (a corrupt row or a programming error). Report it.
    #[error("stored data is malformed: {0}")]
    Malformed(String),
}

impl StoreError {
    /// Whether retrying the same command with the same command id may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict { .. }
                | StoreError::Database(_)
                | StoreError::Unavailable
                | StoreError::AppenderStopped
        )
    }
}
