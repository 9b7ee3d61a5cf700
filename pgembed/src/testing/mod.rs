//! Fresh databases for tests: one per test, dropped when the test's [`TestDatabase`] is;
//! [`migrated_pool`] also applies the schema and connects a pool.
//!
//! With `DATABASE_URL` set, databases are created on that server. Otherwise a shared,
//! non-durable embedded cluster lives in `<target dir>/ledger-test-pg`; the first test
//! process to need it starts it (under a file lock, so parallel processes such as
//! cargo-nextest's do not race) and later ones reuse it. The cluster **keeps running after
//! the tests** so the next run starts fast; stop it with `pg_ctl -D target/ledger-test-pg stop`
//! (as the `postgres` user when the tests ran as root), or delete the directory when stopped.
//!
//! Not `cfg(test)`: other crates' tests use it.

mod database;
mod error;
mod pool;
mod shared;

pub use database::TestDatabase;
pub use error::TestDbError;
pub use pool::{MigratedPool, migrated_pool};

use uuid::Uuid;

use crate::sql;

/// The environment variable naming an existing server to use instead of the shared cluster.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";

/// Creates an empty database `ledger_test_<uuid>` for one test and returns its handle.
///
/// # Errors
/// [`TestDbError`]: the server could not be started or reached, or refused the database.
pub async fn fresh_database() -> Result<TestDatabase, TestDbError> {
    let (admin_url, source) = match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => (url, "the server in DATABASE_URL"),
        _ => (shared::admin_url().await?, "the shared test cluster"),
    };
    let name = format!("ledger_test_{}", Uuid::new_v4().simple());
    let url = sql::with_database(&admin_url, &name).ok_or(TestDbError::UnsupportedUrl)?;
    let mut conn = sql::connect(&admin_url)
        .await
        .map_err(|err| TestDbError::Connect {
            server: source,
            err,
        })?;
    sql::create_database_if_missing(&mut conn, &name).await?;
    // Closing politely is best effort: the database exists either way.
    let _ = sqlx::Connection::close(conn).await;
    tracing::debug!(database = %name, "created a test database");
    Ok(TestDatabase::new(url, name, admin_url))
}
