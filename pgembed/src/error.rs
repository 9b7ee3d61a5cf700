//! The error type of the embedded server layer.

use std::path::PathBuf;

/// Why an embedded PostgreSQL could not be found, prepared, started, queried or stopped.
///
/// None of these are retried inside this crate: each variant says how a caller should react.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No usable `initdb`, `pg_ctl` and `postgres` were found.
    ///
    /// Operator action: install the server package or point at a server (see the message).
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found ({searched}). \
         Install the PostgreSQL server package (on Debian or Ubuntu: `apt-get install postgresql`), \
         or put its bin directory (for example /usr/lib/postgresql/15/bin) on PATH, \
         or set DATABASE_URL to an existing PostgreSQL server (for example \
         postgres://postgres@127.0.0.1:5432/postgres) so that no private server is needed."
    )]
    BinariesNotFound {
        /// Where we looked, for the message.
        searched: String,
    },

    /// Running as root, but there is no `postgres` system user to run the server as.
    ///
    /// Operator action: create the user (the Debian package does) or run as an ordinary user.
    #[error(
        "running as root, and PostgreSQL refuses to run as root, but no `{user}` system user \
         exists to run it as; create that user or run as an ordinary user"
    )]
    NoServerUser {
        /// The user name we looked for.
        user: String,
    },

    /// The server user cannot reach the data directory because a parent is not traversable.
    ///
    /// Operator action: choose a data directory under a reachable path (e.g. /tmp) or `chmod o+x`.
    #[error(
        "the `{user}` user that runs PostgreSQL cannot reach {dir}: its parent {blocked} is not \
         searchable (x permission) for that user; use a data directory under a reachable path \
         such as /tmp, or grant search permission on {blocked}"
    )]
    DirectoryNotReachable {
        /// The data directory.
        dir: PathBuf,
        /// The first ancestor the user cannot traverse.
        blocked: PathBuf,
        /// The user the server runs as.
        user: String,
    },

    /// A directory meant to hold relocated clusters is not a directory owned by root and
    /// writable by root only (for example one another user planted in `/tmp`).
    ///
    /// Operator action: remove it, or set a data directory the `postgres` user can reach.
    #[error(
        "{0} is not a directory owned by root and writable by root only; refusing to keep a \
         PostgreSQL cluster there"
    )]
    UnsafeDirectory(PathBuf),

    /// The data directory exists, is not empty, and is not a PostgreSQL cluster.
    ///
    /// Operator action: choose another directory; we never delete data we did not create.
    #[error("{0} is not empty and is not a PostgreSQL data directory (no PG_VERSION)")]
    NotADataDirectory(PathBuf),

    /// A file system operation failed.
    ///
    /// Caller action: report; usually permissions or a full disk.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing, e.g. "creating".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A PostgreSQL tool could not be run or exited unsuccessfully.
    ///
    /// Caller action: report; the message carries the tool's output.
    #[error("{program} failed ({status}): {output}")]
    CommandFailed {
        /// The program that was run.
        program: String,
        /// Its exit status, or why it could not be spawned.
        status: String,
        /// Its standard error and output, trimmed.
        output: String,
    },

    /// The server did not accept connections in time.
    ///
    /// Caller action: report; the log tail usually says why (port in use, bad settings).
    #[error(
        "PostgreSQL did not accept connections within {timeout_s} s; end of {log}:\n{log_tail}"
    )]
    NotReady {
        /// How long we waited.
        timeout_s: u64,
        /// The server log file.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },

    /// No free loopback port could be reserved.
    ///
    /// Caller action: report; retrying later may help.
    #[error("could not reserve a free port on 127.0.0.1: {0}")]
    NoFreePort(#[source] std::io::Error),

    /// A database name that we refuse to put in a URL or SQL identifier.
    ///
    /// Caller action: use ASCII letters, digits and `_` only.
    #[error("invalid database name {0:?}: use ASCII letters, digits and `_`, at most 63 bytes")]
    InvalidDatabaseName(String),

    /// A query against the server failed.
    ///
    /// Caller action: report.
    #[error("PostgreSQL query failed: {0}")]
    Sql(#[from] sqlx::Error),
}

impl EmbeddedError {
    /// Builds an [`EmbeddedError::Io`] from an action, a path and the error.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
