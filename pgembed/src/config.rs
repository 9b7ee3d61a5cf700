//! How to set up an embedded server: where its data lives, its port, binaries and durability.

use std::path::PathBuf;

/// Settings for [`crate::EmbeddedPostgres::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// The cluster's data directory; created and initialised (`initdb`) on first start and
    /// reused afterwards. Relative paths are taken from the current directory.
    pub data_dir: PathBuf,
    /// The TCP port on 127.0.0.1; `None` picks a free one. A server already running on
    /// `data_dir` keeps its own port.
    pub port: Option<u16>,
    /// The directory holding `initdb`, `pg_ctl` and `postgres`; `None` searches for them
    /// (see [`crate::PgBinaries::locate`]).
    pub bin_dir: Option<PathBuf>,
    /// `true` (the default) keeps `fsync` and `synchronous_commit` on. Only throw-away test
    /// clusters should set `false`: a crash of the machine may then corrupt the cluster.
    /// Applies when this call starts the server, not to a server it reuses.
    pub durable: bool,
}

impl EmbeddedConfig {
    /// A durable cluster in `data_dir` on a free port, with binaries searched for.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            port: None,
            bin_dir: None,
            durable: true,
        }
    }

    /// Sets the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the directory of the server binaries.
    #[must_use]
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Sets durability (see [`EmbeddedConfig::durable`]).
    #[must_use]
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }
}
