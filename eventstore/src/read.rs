//! Reading the log: the whole log by position, one stream by version, the head, a command.

use std::collections::HashMap;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgExecutor, Postgres, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::stored_hash;
use crate::model::{AppendOutcome, Head, RecordedEvent, UniqueClaim, limits};

const EVENT_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
                             schema_version, payload, metadata, recorded_at, prev_hash, hash";

/// Events after `after_position`, in position order, at most `limit` (bounded by
/// [`limits::MAX_READ_LIMIT`]). Positions are gapless in commit order, so a reader that pages
/// with the last position it saw never misses an event.
#[tracing::instrument(skip_all, fields(after_position, limit), err)]
pub async fn read_all<'e>(
    executor: impl PgExecutor<'e>,
    after_position: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
    )))
    .bind(after_position);
    events(executor, query, limit).await
}

/// Events of one stream from `from_version` on, in version order, at most `limit`.
#[tracing::instrument(skip_all, fields(stream = stream_id, from_version, limit), err)]
pub async fn read_stream<'e>(
    executor: impl PgExecutor<'e>,
    stream_id: &str,
    from_version: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
    )))
    .bind(stream_id)
    .bind(from_version);
    events(executor, query, limit).await
}

/// The tails of several streams in one round trip: for each `(stream, from_version)`, that
/// stream's events from `from_version` on, at most `limit` of each, in position order. A
/// stream that returns `limit` events may have more; read it on with [`read_stream`].
#[tracing::instrument(skip_all, fields(streams = tails.len(), limit), err)]
pub async fn read_stream_tails<'e>(
    executor: impl PgExecutor<'e>,
    tails: &[(&str, i64)],
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let (streams, from_versions): (Vec<&str>, Vec<i64>) = tails.iter().copied().unzip();
    let query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT tail.* FROM unnest($1::text[], $2::bigint[]) AS wanted(stream_id, from_version) \
         CROSS JOIN LATERAL ( \
             SELECT {EVENT_COLUMNS} FROM events \
             WHERE events.stream_id = wanted.stream_id \
               AND events.stream_version >= wanted.from_version \
             ORDER BY events.stream_version LIMIT $3 \
         ) AS tail \
         ORDER BY tail.position"
    )))
    .bind(streams)
    .bind(from_versions);
    events(executor, query, limit).await
}

/// Runs `query`, a `SELECT` of [`EVENT_COLUMNS`] whose last parameter is its `LIMIT`, with
/// `limit` bound there (bounded by [`limits::MAX_READ_LIMIT`]).
async fn events<'e>(
    executor: impl PgExecutor<'e>,
    query: Query<'static, Postgres, PgArguments>,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = query
        .bind(limit.clamp(1, limits::MAX_READ_LIMIT))
        .fetch_all(executor)
        .await?;
    rows.iter().map(decode_event).collect()
}

/// The current version of a stream (0 when it has no events).
pub async fn stream_version<'e>(
    executor: impl PgExecutor<'e>,
    stream_id: &str,
) -> Result<i64, StoreError> {
    let version = sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = $1")
        .bind(stream_id)
        .fetch_optional(executor)
        .await?;
    Ok(version.unwrap_or(0))
}

/// The last position and its hash.
pub async fn head<'e>(executor: impl PgExecutor<'e>) -> Result<Head, StoreError> {
    let row = sqlx::query("SELECT position, hash FROM log_head")
        .fetch_one(executor)
        .await?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(Head {
        position: row.try_get("position")?,
        hash: stored_hash(&hash)?,
    })
}

/// The position of the event that made a unique claim, if it was made.
pub async fn claim_position<'e>(
    executor: impl PgExecutor<'e>,
    claim: &UniqueClaim,
) -> Result<Option<i64>, StoreError> {
    let position =
        sqlx::query_scalar("SELECT position FROM unique_claims WHERE scope = $1 AND value = $2")
            .bind(&claim.scope)
            .bind(&claim.value)
            .fetch_optional(executor)
            .await?;
    Ok(position)
}

/// What a command id already produced, with the request hash it was recorded under, so a
/// retry can be answered before deciding anything again.
pub async fn find_command<'e>(
    executor: impl PgExecutor<'e>,
    command_id: Uuid,
) -> Result<Option<([u8; 32], AppendOutcome)>, StoreError> {
    let row = sqlx::query("SELECT request_hash, result FROM commands WHERE command_id = $1")
        .bind(command_id)
        .fetch_optional(executor)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hash: Vec<u8> = row.try_get("request_hash")?;
    let result: serde_json::Value = row.try_get("result")?;
    let outcome = serde_json::from_value(result)
        .map_err(|error| StoreError::Malformed(format!("a command result: {error}")))?;
    Ok(Some((stored_hash(&hash)?, outcome)))
}

/// What each of `command_ids` already produced, as [`find_command`] reads one, in one query;
/// ids never recorded are absent.
pub async fn find_commands<'e>(
    executor: impl PgExecutor<'e>,
    command_ids: &[Uuid],
) -> Result<HashMap<Uuid, ([u8; 32], AppendOutcome)>, StoreError> {
    let rows = sqlx::query(
        "SELECT command_id, request_hash, result FROM commands WHERE command_id = ANY($1)",
    )
    .bind(command_ids)
    .fetch_all(executor)
    .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let hash: Vec<u8> = row.try_get("request_hash")?;
        let result: serde_json::Value = row.try_get("result")?;
        let outcome = serde_json::from_value(result)
            .map_err(|error| StoreError::Malformed(format!("a command result: {error}")))?;
        found.insert(row.try_get("command_id")?, (stored_hash(&hash)?, outcome));
    }
    Ok(found)
}

pub(crate) fn decode_event(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let prev_hash: Vec<u8> = row.try_get("prev_hash")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(RecordedEvent {
        position: row.try_get("position")?,
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        prev_hash: stored_hash(&prev_hash)?,
        hash: stored_hash(&hash)?,
    })
}
