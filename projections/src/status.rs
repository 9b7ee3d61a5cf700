//! Where each projection is: position, head, lag in events and milliseconds; and the bounded
//! read-your-writes wait.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::checkpoint::checkpoint;
use crate::error::{ProjectionError, Result};
use crate::pools::ReadModelPool;
use crate::projection::Projection;

/// A projection's progress against the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The projection.
    pub projection: Projection,
    /// Its checkpoint: every event up to here is applied.
    pub position: i64,
    /// The log's head.
    pub head: i64,
    /// Events not yet applied.
    pub lag_events: i64,
    /// How long the oldest unapplied event has been in the log (0 when caught up).
    pub lag_ms: i64,
    /// When the checkpoint last moved.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The status of one projection: its checkpoint in `read_models`, against the log's head and
/// times read through `log`.
pub async fn status(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
) -> Result<ProjectionStatus> {
    let row: Option<(i64, DateTime<Utc>)> =
        sqlx::query_as("SELECT position, updated_at FROM projection_checkpoints WHERE name = $1")
            .bind(projection.name())
            .fetch_optional(read_models.pool())
            .await?;
    let (position, updated_at) = match row {
        Some((position, at)) => (position, Some(at)),
        None => (0, None),
    };
    let head = ledger_eventstore::head(log).await?.position;
    let oldest: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT recorded_at FROM events WHERE position = $1")
            .bind(position + 1)
            .fetch_optional(log)
            .await?;
    let lag_ms = oldest.map_or(0, |at| (Utc::now() - at).num_milliseconds().max(0));
    Ok(ProjectionStatus {
        projection,
        position,
        head,
        lag_events: (head - position).max(0),
        lag_ms,
        updated_at,
    })
}

/// The status of every projection.
pub async fn statuses(log: &PgPool, read_models: &ReadModelPool) -> Result<Vec<ProjectionStatus>> {
    let mut all = Vec::with_capacity(Projection::ALL.len());
    for projection in Projection::ALL {
        all.push(status(log, read_models, projection).await?);
    }
    Ok(all)
}

/// Longest wait a caller may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Waits until `projection` has applied `min_position` (e.g. the `last_position` an append
/// returned), at most `timeout` (≤ [`MAX_WAIT`]); returns the checkpoint reached, or
/// [`ProjectionError::NotYetAtPosition`] (API: `UNAVAILABLE` / `DEADLINE_EXCEEDED`).
pub async fn wait_for_position(
    read_models: &ReadModelPool,
    projection: Projection,
    min_position: i64,
    timeout: Duration,
) -> Result<i64> {
    let started = Instant::now();
    let deadline = started + timeout.min(MAX_WAIT);
    let mut pause = Duration::from_millis(2);
    loop {
        let reached = checkpoint(read_models.pool(), projection).await?;
        if reached >= min_position {
            return Ok(reached);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ProjectionError::NotYetAtPosition {
                projection: projection.name(),
                reached,
                wanted: min_position,
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
