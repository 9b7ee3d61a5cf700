//! Rebuilding a projection from the log while the service keeps serving.
//!
//! 1. Take the projection's rebuild lock (one rebuild at a time, across processes).
//! 2. Create a side schema `rebuild_<name>` with empty copies of the projection's tables
//!    (`LIKE ... INCLUDING ALL`), and fold the whole log into them in bounded batches, one
//!    transaction each, while the live runner keeps applying to the live tables.
//! 3. In ONE transaction: lock the live checkpoint row (the live runner's next batch waits),
//!    apply to the copies whatever the live tables have and the copies do not yet, move the
//!    live tables out to `retired_<name>` and the copies into `public`, set the checkpoint,
//!    commit. Queries see the old tables until the commit and the new ones after it, never
//!    an empty or half-built table.
//! 4. Drop the retired tables.
//!
//! Everything but the reading of the log happens in the read models' database.

use sqlx::{Connection, PgConnection, PgPool};

use crate::checkpoint::{apply_after, lock_checkpoint, write_checkpoint};
use crate::error::{ProjectionError, Result};
use crate::models::sql;
use crate::pools::ReadModelPool;
use crate::projection::{Projection, Schema};
use crate::runner::try_advisory_lock;

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The projection rebuilt.
    pub projection: Projection,
    /// The checkpoint of the swapped-in tables.
    pub position: i64,
    /// The live checkpoint at the moment of the swap.
    pub live_position_at_swap: i64,
    /// Events folded into the copies.
    pub events: i64,
}

fn side_schema(prefix: &str, projection: Projection) -> Schema {
    Schema::named(format!("{prefix}_{}", projection.name()))
}

/// Creates `schema` empty, dropping whatever a failed rebuild left under its name.
async fn create_empty(conn: &mut PgConnection, schema: &Schema) -> Result<()> {
    sqlx::query(sql(format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        schema.name()
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query(sql(format!("CREATE SCHEMA {}", schema.name())))
        .execute(conn)
        .await?;
    Ok(())
}

async fn create_copies(
    conn: &mut PgConnection,
    projection: Projection,
    side: &Schema,
) -> Result<()> {
    let mut tx = conn.begin().await?;
    create_empty(&mut tx, side).await?;
    let live = Schema::live();
    for table in projection.tables() {
        sqlx::query(sql(format!(
            "CREATE TABLE {} (LIKE {} INCLUDING ALL)",
            side.table(table),
            live.table(table)
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rebuilds `projection` in `read_models` from position 0 of the log read through `log`, and
/// swaps it in; see the module documentation. Batches are `batch_size` events (≤ 10,000).
/// Fails with [`ProjectionError::RebuildInProgress`] if another rebuild of it is running.
pub async fn rebuild(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
    batch_size: i64,
) -> Result<RebuildReport> {
    rebuild_with_progress(log, read_models, projection, batch_size, |_| {}).await
}

/// [`rebuild`], calling `progress` with the position folded into the copies after each batch
/// committed (before the swap), for a progress bar.
#[tracing::instrument(skip(log, read_models, progress), err)]
pub async fn rebuild_with_progress(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
    batch_size: i64,
    mut progress: impl FnMut(i64) + Send,
) -> Result<RebuildReport> {
    let pool = read_models.pool();
    let Some(mut lock) = try_advisory_lock(pool, projection.rebuild_lock_key()).await? else {
        return Err(ProjectionError::RebuildInProgress(projection.name()));
    };
    let side = side_schema("rebuild", projection);
    let retired = side_schema("retired", projection);
    create_copies(&mut lock, projection, &side).await?;
    let batch = batch_size.clamp(1, 10_000);
    let mut position = 0;
    loop {
        let mut tx = pool.begin().await?;
        let to = apply_after(&mut tx, log, projection, &side, position, batch, None).await?;
        tx.commit().await?;
        let applied = to - position;
        position = to;
        if applied > 0 {
            progress(position);
        }
        if applied < batch {
            break;
        }
    }
    let folded_before_swap = position;
    let mut tx = pool.begin().await?;
    let live = lock_checkpoint(&mut tx, projection).await?;
    while position < live {
        position = apply_after(&mut tx, log, projection, &side, position, batch, None).await?;
    }
    write_checkpoint(&mut tx, projection, position).await?;
    create_empty(&mut tx, &retired).await?;
    for table in projection.tables() {
        sqlx::query(sql(format!(
            "ALTER TABLE {} SET SCHEMA {}",
            Schema::live().table(table),
            retired.name()
        )))
        .execute(&mut *tx)
        .await?;
        sqlx::query(sql(format!(
            "ALTER TABLE {} SET SCHEMA public",
            side.table(table)
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    for schema in [&retired, &side] {
        sqlx::query(sql(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            schema.name()
        )))
        .execute(&mut lock)
        .await?;
    }
    lock.close().await?;
    tracing::info!(%projection, position, live, "projection rebuilt and swapped in");
    Ok(RebuildReport {
        projection,
        position,
        live_position_at_swap: live,
        events: folded_before_swap.max(position),
    })
}
