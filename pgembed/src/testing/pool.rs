//! [`MigratedPool`]: a fresh database with the schema applied and a pool on it.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use super::{TestDatabase, TestDbError, fresh_database};

/// A fresh database migrated by [`migrated_pool`], and a pool on it.
///
/// Dropping it drops the database (see [`TestDatabase`]) before the pool: `DROP DATABASE …
/// WITH (FORCE)` ends the pool's sessions.
#[derive(Debug)]
pub struct MigratedPool {
    /// The database, dropped with this value.
    pub database: TestDatabase,
    /// A pool of connections to it.
    pub pool: PgPool,
}

/// Creates a fresh database (as [`fresh_database`] does), connects a pool of at most
/// `max_connections` to it and applies `migrator`: where most database tests start.
///
/// The migrator is an argument because the schema belongs to the crates above this one
/// (`ledger_eventstore::MIGRATOR`).
///
/// # Errors
/// [`TestDbError`]: the database could not be created or reached, or a migration failed.
pub async fn migrated_pool(
    migrator: &Migrator,
    max_connections: u32,
) -> Result<MigratedPool, TestDbError> {
    let database = fresh_database().await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .connect(database.url())
        .await
        .map_err(|err| TestDbError::Connect {
            server: "the fresh test database",
            err,
        })?;
    migrator.run(&pool).await?;
    Ok(MigratedPool { database, pool })
}
