//! Snapshots of aggregate state, so a long stream loads in bounded time.
//!
//! A snapshot is a cache, never a source of truth: deleting every snapshot changes nothing but
//! load time, and a snapshot whose schema version is not the current one is ignored.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Row};

use crate::error::StoreError;

/// A stream's folded state at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The stream.
    pub stream_id: String,
    /// The version the state includes.
    pub stream_version: i64,
    /// The shape of `state`, owned by whoever folds the stream.
    pub schema_version: i32,
    /// The folded state.
    pub state: serde_json::Value,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// Keeps a snapshot unless a newer one is already stored.
pub async fn save_snapshot<'e>(
    executor: impl PgExecutor<'e>,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (stream_id, stream_version, schema_version, state, taken_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (stream_id) DO UPDATE \
           SET stream_version = EXCLUDED.stream_version, schema_version = EXCLUDED.schema_version, \
               state = EXCLUDED.state, taken_at = EXCLUDED.taken_at \
         WHERE snapshots.stream_version <= EXCLUDED.stream_version",
    )
    .bind(&snapshot.stream_id)
    .bind(snapshot.stream_version)
    .bind(snapshot.schema_version)
    .bind(&snapshot.state)
    .bind(snapshot.taken_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The stored snapshot of a stream, if it has the wanted schema version.
pub async fn load_snapshot<'e>(
    executor: impl PgExecutor<'e>,
    stream_id: &str,
    schema_version: i32,
) -> Result<Option<Snapshot>, StoreError> {
    let row = sqlx::query(
        "SELECT stream_version, state, taken_at FROM snapshots \
         WHERE stream_id = $1 AND schema_version = $2",
    )
    .bind(stream_id)
    .bind(schema_version)
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(Snapshot {
            stream_id: stream_id.to_owned(),
            stream_version: row.try_get("stream_version")?,
            schema_version,
            state: row.try_get("state")?,
            taken_at: row.try_get("taken_at")?,
        })
    })
    .transpose()
}
