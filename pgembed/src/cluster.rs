//! [`EmbeddedPostgres`]: a private PostgreSQL cluster on loopback, kept on disk.

use std::path::Path;

use crate::binaries::PgBinaries;
use crate::config::EmbeddedConfig;
use crate::error::EmbeddedError;
use crate::pidfile::PidFile;
use crate::server::{self, SUPERUSER, Server};
use crate::sql;
use crate::user;

/// How many free ports to try when another process grabs the one we picked.
const PORT_ATTEMPTS: usize = 3;

/// A running private PostgreSQL cluster, listening on 127.0.0.1 only.
///
/// Authentication is `trust` for loopback connections, as superuser `ledger`: any local
/// user of the machine can connect. Fine for development and tests, not for production.
///
/// Dropping the value does not stop the server (there is no child process to reap: `pg_ctl`
/// detaches it); call [`EmbeddedPostgres::stop`] to stop it, or
/// `pg_ctl -D <data_dir> stop` by hand.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    server: Server,
    port: u16,
    reused: bool,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `config.data_dir` (running `initdb` first if it is new), or
    /// reuses the server already running on that directory, and waits until it accepts
    /// connections.
    ///
    /// When the effective uid is 0 the tools run as the `postgres` system user, which gets
    /// the data directory and must be able to traverse its parents.
    ///
    /// # Errors
    /// Any [`EmbeddedError`]; [`EmbeddedError::BinariesNotFound`] explains how to install
    /// the server or use `DATABASE_URL` instead.
    pub async fn start(config: EmbeddedConfig) -> Result<Self, EmbeddedError> {
        let data_dir = std::path::absolute(&config.data_dir)
            .map_err(|err| EmbeddedError::io("resolving", &config.data_dir, err))?;
        let server = Server {
            binaries: PgBinaries::locate(config.bin_dir.as_deref()).await?,
            user: user::server_user().await?,
            data_dir,
        };
        server.prepare().await?;
        if let Some(running) = Self::running(&server).await {
            if config.port.is_some_and(|port| port != running.port) {
                tracing::warn!(
                    port = running.port,
                    "reusing a running server on another port"
                );
            }
            return running.ready().await;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = match config.port {
                Some(port) => port,
                None => server::free_port()?,
            };
            match server.start(port, config.durable).await {
                Ok(()) => {
                    let started = Self {
                        server,
                        port,
                        reused: false,
                    };
                    return started.ready().await;
                }
                Err(err) => {
                    // Another process may have started this very cluster meanwhile.
                    if let Some(running) = Self::running(&server).await {
                        return running.ready().await;
                    }
                    let retry = config.port.is_none()
                        && attempt < PORT_ATTEMPTS
                        && server::is_port_conflict(&err);
                    if !retry {
                        return Err(err);
                    }
                    tracing::warn!(port, "port taken meanwhile; trying another");
                }
            }
        }
    }

    /// The server already running on this data directory, if any.
    async fn running(server: &Server) -> Option<Self> {
        let pid_file = PidFile::read(&server.data_dir)?;
        if !server.is_running().await {
            return None;
        }
        tracing::info!(
            pid = pid_file.pid,
            port = pid_file.port,
            "reusing running PostgreSQL"
        );
        Some(Self {
            server: server.clone(),
            port: pid_file.port,
            reused: true,
        })
    }

    /// Waits until the server accepts connections and returns it.
    async fn ready(self) -> Result<Self, EmbeddedError> {
        self.server
            .wait_ready(&self.database_url("postgres"))
            .await?;
        Ok(self)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (absolute).
    pub fn data_dir(&self) -> &Path {
        &self.server.data_dir
    }

    /// The binaries in use.
    pub fn binaries(&self) -> &PgBinaries {
        &self.server.binaries
    }

    /// Whether [`EmbeddedPostgres::start`] found the server already running.
    pub fn was_running(&self) -> bool {
        self.reused
    }

    /// A connection URL for database `db` as the superuser, e.g.
    /// `postgres://ledger@127.0.0.1:54321/ledger`. `db` is used as is: see
    /// [`EmbeddedPostgres::ensure_database`] for the names it accepts.
    pub fn database_url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` unless it exists; returns whether it was created.
    /// Safe to call from several processes at once.
    ///
    /// # Errors
    /// [`EmbeddedError::InvalidDatabaseName`] unless `name` is 1 to 63 ASCII letters, digits
    /// and `_`; [`EmbeddedError::Sql`] when the server refuses.
    pub async fn ensure_database(&self, name: &str) -> Result<bool, EmbeddedError> {
        sql::validate_name(name)?;
        let mut conn = sql::connect(&self.database_url("postgres")).await?;
        let created = sql::create_database_if_missing(&mut conn, name).await?;
        // Closing politely is best effort: the work is done.
        let _ = sqlx::Connection::close(conn).await;
        Ok(created)
    }

    /// Restarts the server (`pg_ctl restart -m fast`, same port and settings) and waits until
    /// it accepts connections again. Every open session is cut: the fault-injection tests use
    /// it to show that clients of the database recover by themselves.
    ///
    /// # Errors
    /// [`EmbeddedError::CommandFailed`] when `pg_ctl` fails or times out;
    /// [`EmbeddedError::NotReady`] when the server does not accept connections in time.
    pub async fn restart(&self) -> Result<(), EmbeddedError> {
        self.server.restart().await?;
        self.server.wait_ready(&self.database_url("postgres")).await
    }

    /// Stops the server (`pg_ctl stop -m fast`) and waits until it has exited. This also
    /// stops a server that [`EmbeddedPostgres::start`] reused.
    ///
    /// # Errors
    /// [`EmbeddedError::CommandFailed`] when `pg_ctl` fails or times out.
    pub async fn stop(self) -> Result<(), EmbeddedError> {
        self.server.stop().await
    }
}
