//! The error type of the test-database helpers.

use std::path::PathBuf;

use crate::error::EmbeddedError;

/// Why a test database could not be provided. Tests usually just `expect` these.
#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    /// The embedded server could not be started, or a query on it failed.
    ///
    /// Caller action: read the message; [`EmbeddedError::BinariesNotFound`] says how to
    /// install PostgreSQL or point `DATABASE_URL` at a server.
    #[error(transparent)]
    Server(#[from] EmbeddedError),

    /// The server accepting the databases could not be reached.
    ///
    /// Caller action: check that the server runs and `DATABASE_URL` (if set) is right.
    #[error("could not connect to {server}: {err}")]
    Connect {
        /// Which server: the one in `DATABASE_URL`, the shared test cluster, or the fresh
        /// database on either. (The URL is not shown: it may hold a password.)
        server: &'static str,
        /// The connection error.
        #[source]
        err: sqlx::Error,
    },

    /// The fresh database refused a migration.
    ///
    /// Caller action: read the message; the migration's SQL or the migrator passed is wrong.
    #[error("migrating the fresh test database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// `DATABASE_URL` is not of the form `postgres://user@host:port/db`.
    ///
    /// Caller action: use the URL form (key=value connection strings are not supported).
    #[error("DATABASE_URL must be a URL such as postgres://user@host:5432/postgres")]
    UnsupportedUrl,

    /// The file lock that serialises starting the shared cluster failed.
    ///
    /// Caller action: check the target directory is writable.
    #[error("could not lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
