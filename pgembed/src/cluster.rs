//! [`EmbeddedPostgres`]: a private PostgreSQL cluster on loopback, kept on disk.

use std::path::Path;

use crate::binaries::PgBinaries;
use crate::config::EmbeddedConfig;
use crate::error::EmbeddedError;
use crate::location;
use crate::pidfile::PidFile;
use crate::server::{self, SUPERUSER, Server};
use crate::sql;
use crate::user;

/// How many free ports to try when another process grabs the one we picked.
const PORT_ATTEMPTS: usize = 3;

/// A running private PostgreSQL cluster, listening on 127.0.0.1 only.
///
/// Connections authenticate with SCRAM-SHA-256 as superuser `ledger`, whose random password
/// is kept in `<data dir>/ledger.password` (mode 0600); [`EmbeddedPostgres::database_url`]
/// carries it. A cluster made with `trust` by an earlier version is moved to SCRAM when it
/// is started.
///
/// Dropping the value does not stop the server (there is no child process to reap: `pg_ctl`
/// detaches it); call [`EmbeddedPostgres::stop`] to stop it, or
/// `pg_ctl -D <data_dir> stop` by hand.
pub struct EmbeddedPostgres {
    server: Server,
    port: u16,
    reused: bool,
    password: String,
}

impl std::fmt::Debug for EmbeddedPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("EmbeddedPostgres")
            .field("data_dir", &self.server.data_dir)
            .field("port", &self.port)
            .field("reused", &self.reused)
            .finish_non_exhaustive()
    }
}

impl EmbeddedPostgres {
    /// Starts the cluster in `config.data_dir` (running `initdb` first if it is new), or
    /// reuses the server already running on that directory, and waits until it accepts
    /// connections.
    ///
    /// When the effective uid is 0 the tools run as the `postgres` system user, which gets
    /// the data directory. When that user cannot traverse the parents of `data_dir`, the
    /// cluster lives in a reachable directory named after `data_dir` instead
    /// (`/var/lib/arouter-ledger/<name>-<hash>`, see [`EmbeddedPostgres::data_dir`]); the
    /// same `data_dir` finds the same cluster again.
    ///
    /// # Errors
    /// Any [`EmbeddedError`]; [`EmbeddedError::BinariesNotFound`] explains how to install
    /// the server or use `DATABASE_URL` instead.
    pub async fn start(config: EmbeddedConfig) -> Result<Self, EmbeddedError> {
        let requested = std::path::absolute(&config.data_dir)
            .map_err(|err| EmbeddedError::io("resolving", &config.data_dir, err))?;
        let user = user::server_user().await?;
        let server = Server {
            binaries: PgBinaries::locate(config.bin_dir.as_deref()).await?,
            data_dir: location::resolve(&requested, user.as_ref())?,
            user,
        };
        server.prepare().await?;
        let password = server.password()?;
        if let Some(running) = Self::running(&server, &password).await {
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
                        password,
                    };
                    return started.ready().await;
                }
                Err(err) => {
                    // Another process may have started this very cluster meanwhile.
                    if let Some(running) = Self::running(&server, &password).await {
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
    async fn running(server: &Server, password: &str) -> Option<Self> {
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
            password: password.to_owned(),
        })
    }

    /// Waits until the server accepts connections, moves a `trust` cluster to SCRAM, and
    /// returns it.
    async fn ready(self) -> Result<Self, EmbeddedError> {
        let admin_url = self.database_url("postgres");
        self.server.wait_ready(&admin_url).await?;
        self.server.secure(&admin_url, &self.password).await?;
        Ok(self)
    }

    /// Starts a hot standby of this cluster in `config.data_dir`: the first time, a base
    /// backup of this cluster (`pg_basebackup -R -X stream` over loopback, as superuser
    /// `ledger`) that keeps streaming this cluster's WAL and replaying it; later, the standby
    /// already there (stopped and started again, it resumes streaming). It listens on its own
    /// port and accepts read-only sessions with this cluster's password.
    ///
    /// The data directory follows the rules of [`EmbeddedPostgres::start`] (owned by the
    /// `postgres` user when we are root).
    ///
    /// # Errors
    /// Any [`EmbeddedError`]; [`EmbeddedError::CommandFailed`] when `pg_basebackup` fails.
    pub async fn start_standby(&self, config: EmbeddedConfig) -> Result<Self, EmbeddedError> {
        let requested = std::path::absolute(&config.data_dir)
            .map_err(|err| EmbeddedError::io("resolving", &config.data_dir, err))?;
        let data_dir = location::resolve(&requested, self.server.user.as_ref())?;
        if !data_dir.join("PG_VERSION").is_file() {
            self.server
                .base_backup(&data_dir, self.port, &self.password)
                .await?;
        }
        Self::start(EmbeddedConfig {
            data_dir: requested,
            ..config
        })
        .await
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory in use (absolute): the configured one, or the reachable directory
    /// that stands in for it (see [`EmbeddedPostgres::start`]).
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

    /// A connection URL for database `db` as the superuser, password included, e.g.
    /// `postgres://ledger:<password>@127.0.0.1:54321/ledger`: treat it as a secret. `db` is
    /// used as is: see [`EmbeddedPostgres::ensure_database`] for the names it accepts.
    pub fn database_url(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
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
