//! One step of a projection: in ONE transaction of the read models' database, lock the
//! checkpoint row, read the next events after it from the log, apply them, and move the
//! checkpoint. A crash anywhere before `COMMIT` leaves both the read model and the checkpoint
//! as they were, so every event is applied exactly once. The row lock also serialises steps
//! of the same projection, so even two runners that both believe they hold the advisory lock
//! never apply an event twice.
//!
//! The events are read through the log's pool, outside that transaction: the log may be
//! another database (`--read-models-database-url`). That is sound because a position, once
//! readable, never changes (positions are gapless in commit order and the log is
//! append-only), so only the checkpoint has to move with the rows, and it does.

use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, Transaction};

use crate::error::Result;
use crate::pools::ReadModelPool;
use crate::projection::{Projection, Schema, decode};
use crate::recent::RecentEvents;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepOutcome {
    /// Checkpoint before the step.
    pub from: i64,
    /// Checkpoint after the step.
    pub to: i64,
    /// Events applied (`to - from`: positions are gapless).
    pub events: usize,
}

/// The checkpoint of a projection (0 before its first event).
pub async fn checkpoint<'e>(executor: impl PgExecutor<'e>, projection: Projection) -> Result<i64> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
            .bind(projection.name())
            .fetch_optional(executor)
            .await?;
    Ok(position.unwrap_or(0))
}

/// The furthest checkpoint of any projection in `read_models` (0 before any event).
pub async fn furthest_checkpoint(read_models: &ReadModelPool) -> Result<i64> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT max(position) FROM projection_checkpoints")
            .fetch_one(read_models.pool())
            .await?;
    Ok(position.unwrap_or(0))
}

/// Locks the checkpoint row for the rest of the transaction and returns its position (one
/// round trip once the row exists, which is every step but a projection's first).
pub(crate) async fn lock_checkpoint(
    conn: &mut PgConnection,
    projection: Projection,
) -> Result<i64> {
    if let Some(position) = select_checkpoint_for_update(conn, projection).await? {
        return Ok(position);
    }
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
    )
    .bind(projection.name())
    .execute(&mut *conn)
    .await?;
    select_checkpoint_for_update(conn, projection)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound.into())
}

async fn select_checkpoint_for_update(
    conn: &mut PgConnection,
    projection: Projection,
) -> Result<Option<i64>> {
    let position = sqlx::query_scalar(
        "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
    )
    .bind(projection.name())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(position)
}

pub(crate) async fn write_checkpoint(
    conn: &mut PgConnection,
    projection: Projection,
    position: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1",
    )
    .bind(projection.name())
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reads up to `max_events` after `after` (from `recent` where it has them, else from the log
/// through `log`) and applies them to `schema` inside `tx`; returns the last position applied
/// (`after` when there was nothing).
pub(crate) async fn apply_after(
    tx: &mut Transaction<'_, Postgres>,
    log: &PgPool,
    projection: Projection,
    schema: &Schema,
    after: i64,
    max_events: i64,
    recent: Option<&RecentEvents>,
) -> Result<i64> {
    let events = match recent {
        Some(recent) => recent.after(log, after, max_events).await?,
        None => decode(&ledger_eventstore::read_all(log, after, max_events).await?)?,
    };
    let Some(last) = events.last().map(|e| e.position) else {
        return Ok(after);
    };
    projection.apply(tx, schema, &events).await?;
    Ok(last)
}

/// Applies the next batch (≤ `max_events`, ≤ 10,000) of the log read through `log` inside
/// `tx` (a transaction of the read models' database) and moves the checkpoint, without
/// committing: the caller commits (or drops the transaction, which undoes both).
pub async fn apply_next_batch_in(
    tx: &mut Transaction<'_, Postgres>,
    log: &PgPool,
    projection: Projection,
    max_events: i64,
) -> Result<StepOutcome> {
    apply_next_batch_with(tx, log, projection, max_events, None).await
}

async fn apply_next_batch_with(
    tx: &mut Transaction<'_, Postgres>,
    log: &PgPool,
    projection: Projection,
    max_events: i64,
    recent: Option<&RecentEvents>,
) -> Result<StepOutcome> {
    let from = lock_checkpoint(tx, projection).await?;
    let to = apply_after(
        tx,
        log,
        projection,
        &Schema::live(),
        from,
        max_events,
        recent,
    )
    .await?;
    if to > from {
        write_checkpoint(tx, projection, to).await?;
    }
    Ok(StepOutcome {
        from,
        to,
        events: usize::try_from(to - from).unwrap_or(0),
    })
}

/// Begins a projection batch's transaction, whose commit does not wait for its WAL flush.
///
/// A read model is derived from the log, and its checkpoint commits in the same transaction: a
/// crash of PostgreSQL that loses a batch's commit loses the checkpoint with it, and the batch
/// is applied again from the log, whose own commits (the appender's) are flushed before they
/// are answered. So the projections leave the flushes to the appender instead of queueing for
/// them beside it. `SET LOCAL` ends with the transaction: the pooled connection, which the
/// appender may use next, stays durable.
pub async fn begin_batch(read_models: &ReadModelPool) -> Result<Transaction<'static, Postgres>> {
    Ok(read_models
        .pool()
        .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
        .await?)
}

/// One step: the next batch of the log read through `log`, applied and checkpointed in one
/// committed transaction of `read_models`.
pub async fn step(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
    max_events: i64,
) -> Result<StepOutcome> {
    step_with(log, read_models, projection, max_events, None).await
}

/// [`step`], taking events from `recent` where it has them.
#[tracing::instrument(skip_all, fields(projection = %projection), err)]
pub(crate) async fn step_with(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
    max_events: i64,
    recent: Option<&RecentEvents>,
) -> Result<StepOutcome> {
    let mut tx = begin_batch(read_models).await?;
    let outcome = apply_next_batch_with(&mut tx, log, projection, max_events, recent).await?;
    if outcome.events == 0 {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(outcome)
}
