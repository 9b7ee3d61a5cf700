//! The PostgreSQL event log of ARouter Ledger.
//!
//! Append-only (a trigger forbids UPDATE, DELETE and TRUNCATE), one gapless global position per
//! event in commit order (appenders serialize on the head row), per-stream optimistic
//! concurrency, atomic appends across streams, idempotency by command id, unique claims,
//! a SHA-256 hash chain that auditors can verify, and group commit.

mod appender;
mod batch;
mod batch_sql;
mod chain;
mod error;
mod hash;
mod judge;
mod model;
mod outbox;
mod prepare;
mod privileges;
mod read;
mod snapshot;
mod verify;
mod watch;

pub use appender::{Appender, AppenderConfig, AppenderStats, IDLE_CHECK_EVERY, Queued};
pub use batch_sql::NOTIFY_CHANNEL;
pub use chain::{Settled, Ticket};
pub use error::StoreError;
pub use hash::{GENESIS_HASH, canonical_bytes, chain_hash};
pub use model::{
    AppendOutcome, AppendRequest, EventMetadata, ExpectedVersion, Head, NewEvent, OutboxCursor,
    OutboxMessage, OutboxRecord, RecordedEvent, StreamAppend, StreamVersion, UniqueClaim, limits,
};
pub use outbox::read_outbox;
pub use privileges::{LOG_GRANTS, SERVICE_GRANTS, grant_log_privileges, grant_service_privileges};
pub use read::{
    claim_position, find_command, find_commands, head, read_all, read_stream, read_stream_tails,
    stream_version,
};
pub use snapshot::{Snapshot, load_snapshot, save_snapshot};
pub use verify::{
    Break, BreakReason, CheckpointStatus, Verification, verify_checkpoint, verify_range,
};
pub use watch::WriterWatch;

/// The schema migrations of the whole service (event log and read models), embedded in the
/// binary so that `ledgerd` and the tests apply exactly the same SQL.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Applies every pending migration.
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), StoreError> {
    // A migration may rebuild an index of a large table: it is not held to the statement
    // timeout the server sets for requests.
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let migrated = MIGRATOR.run(&mut *conn).await;
    sqlx::query("RESET statement_timeout")
        .execute(&mut *conn)
        .await?;
    migrated?;
    Ok(())
}

/// The versions of the embedded migrations the database has not applied successfully (all of
/// them on a database that was never migrated), in order.
pub async fn pending_migrations(pool: &sqlx::PgPool) -> Result<Vec<i64>, StoreError> {
    let history: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(pool)
            .await?;
    let applied: Vec<i64> = match history {
        Some(_) => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await?
        }
        None => Vec::new(),
    };
    Ok(MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .filter(|version| !applied.contains(version))
        .collect())
}
