//! Reading the transactional outbox, which `append_batch` writes with the events (see
//! `migrations/0009_outbox.sql`).
//!
//! Messages commit in cursor order (they are written while the batch holds the head's lock),
//! so a reader that pages on `(position, index) > cursor` never skips one: the cursor a consumer
//! last handled is a complete checkpoint.

use sqlx::{PgExecutor, Row};

use crate::error::StoreError;
use crate::model::{OutboxCursor, OutboxRecord, limits};

/// Up to `limit` (at most [`limits::MAX_READ_LIMIT`]) messages after `after`, in cursor order.
#[tracing::instrument(skip_all, fields(position = after.position, index = after.index), err)]
pub async fn read_outbox<'e>(
    executor: impl PgExecutor<'e>,
    after: OutboxCursor,
    limit: i64,
) -> Result<Vec<OutboxRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT position, index, kind, payload, recorded_at FROM outbox \
          WHERE (position, index) > ($1, $2) \
          ORDER BY position, index \
          LIMIT $3",
    )
    .bind(after.position)
    .bind(after.index)
    .bind(limit.clamp(1, limits::MAX_READ_LIMIT))
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OutboxRecord {
                cursor: OutboxCursor {
                    position: row.try_get("position")?,
                    index: row.try_get("index")?,
                },
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                recorded_at: row.try_get("recorded_at")?,
            })
        })
        .collect()
}
