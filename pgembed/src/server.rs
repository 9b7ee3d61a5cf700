//! The `initdb` / `pg_ctl` steps behind [`crate::EmbeddedPostgres`].

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::binaries::PgBinaries;
use crate::command;
use crate::error::EmbeddedError;
use crate::password;
use crate::sql;
use crate::user::{self, ServerUser};

/// The superuser that `initdb` creates.
pub(crate) const SUPERUSER: &str = "ledger";
/// How long the server may take to start or stop.
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait between connection attempts while the server starts.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Server log file inside the data directory.
const LOG_FILE: &str = "postgresql.log";
/// How many log lines an error shows.
const LOG_TAIL_LINES: usize = 20;
/// Settings for every start. No unix socket: TCP on loopback only.
const BASE_SETTINGS: &str = "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
                             -c max_connections=200";
/// Extra settings when durability is off (throw-away test clusters).
const NON_DURABLE_SETTINGS: &str = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off";

/// One cluster directory and the tools and user to manage it with.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub(crate) binaries: PgBinaries,
    pub(crate) user: Option<ServerUser>,
    pub(crate) data_dir: PathBuf,
}

impl Server {
    /// The server log file.
    pub(crate) fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_FILE)
    }

    /// Creates the data directory if needed and runs `initdb` unless it holds a cluster.
    pub(crate) async fn prepare(&self) -> Result<(), EmbeddedError> {
        let dir = &self.data_dir;
        std::fs::create_dir_all(dir).map_err(|err| EmbeddedError::io("creating", dir, err))?;
        if let Some(user) = &self.user {
            user::check_reachable(dir, user)?;
        }
        if dir.join("PG_VERSION").is_file() {
            return Ok(());
        }
        let mut entries =
            std::fs::read_dir(dir).map_err(|err| EmbeddedError::io("reading", dir, err))?;
        if entries.next().is_some() {
            return Err(EmbeddedError::NotADataDirectory(dir.clone()));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|err| EmbeddedError::io("setting permissions of", dir, err))?;
        if let Some(user) = &self.user {
            user::chown(dir, user)?;
        }
        tracing::info!(dir = %dir.display(), "initialising a PostgreSQL cluster");
        // initdb wants an empty directory, so the password goes through a file beside it,
        // kept until the password is in the data directory (see `password`).
        let pw_file = self.initdb_password_file();
        password::write_private(&pw_file, &password::generate()?, self.user.as_ref())?;
        let pw_arg = {
            let mut arg = std::ffi::OsString::from("--pwfile=");
            arg.push(&pw_file);
            arg
        };
        let args = [
            "-D".as_ref(),
            dir.as_os_str(),
            "-U".as_ref(),
            SUPERUSER.as_ref(),
            pw_arg.as_os_str(),
            "--auth-local=scram-sha-256".as_ref(),
            "--auth-host=scram-sha-256".as_ref(),
            "--encoding=UTF8".as_ref(),
            "--no-locale".as_ref(),
            "--no-instructions".as_ref(),
        ];
        command::run(&self.binaries.initdb(), self.user.as_ref(), args).await?;
        password::write_hba(dir, self.user.as_ref())?;
        Ok(())
    }

    /// The file `initdb` reads the new superuser password from, beside the data directory.
    fn initdb_password_file(&self) -> PathBuf {
        password::with_suffix(&self.data_dir, ".initdb-password")
    }

    /// The superuser's password, kept in the data directory. A cluster that has none (one
    /// `initdb` just made, or one made with `trust` before passwords) gets one: the file
    /// `initdb` read, else a new one that [`Server::secure`] sets.
    pub(crate) fn password(&self) -> Result<String, EmbeddedError> {
        if let Some(password) = password::read(&self.data_dir)? {
            return Ok(password);
        }
        let pw_file = self.initdb_password_file();
        let password = match std::fs::read_to_string(&pw_file) {
            Ok(text) => text.trim().to_owned(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => password::generate()?,
            Err(err) => return Err(EmbeddedError::io("reading", pw_file, err)),
        };
        password::write_private(
            &self.data_dir.join(password::PASSWORD_FILE),
            &password,
            self.user.as_ref(),
        )?;
        if let Err(err) = std::fs::remove_file(&pw_file)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            return Err(EmbeddedError::io("removing", pw_file, err));
        }
        Ok(password)
    }

    /// Makes sure the running server asks for `password`: when `pg_hba.conf` is not the
    /// managed one (a cluster made with `trust`), sets the password over `admin_url` (which
    /// the old rules let in), writes the managed `pg_hba.conf` and reloads the server.
    pub(crate) async fn secure(
        &self,
        admin_url: &str,
        password: &str,
    ) -> Result<(), EmbeddedError> {
        if password::hba_is_managed(&self.data_dir) {
            return Ok(());
        }
        tracing::warn!(dir = %self.data_dir.display(), "moving the cluster's authentication to SCRAM-SHA-256");
        let mut conn = sql::connect(admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(password::set_password_sql(
            SUPERUSER, password,
        )))
        .execute(&mut conn)
        .await?;
        // Closing politely is best effort: the password is set either way.
        let _ = sqlx::Connection::close(conn).await;
        password::write_hba(&self.data_dir, self.user.as_ref())?;
        let args = [
            "reload".as_ref(),
            "-D".as_ref(),
            self.data_dir.as_os_str(),
            "-s".as_ref(),
        ];
        command::run(&self.binaries.pg_ctl(), self.user.as_ref(), args).await?;
        Ok(())
    }

    /// Makes `target` a standby of this server (listening on `port`): an empty directory
    /// filled by `pg_basebackup -R -X stream`, which also writes `standby.signal` and the
    /// `primary_conninfo` (password included: the standby's own `ledger.password` is the same
    /// file) into `postgresql.auto.conf`.
    pub(crate) async fn base_backup(
        &self,
        target: &Path,
        port: u16,
        password: &str,
    ) -> Result<(), EmbeddedError> {
        std::fs::create_dir_all(target)
            .map_err(|err| EmbeddedError::io("creating", target, err))?;
        if let Some(user) = &self.user {
            user::check_reachable(target, user)?;
        }
        let mut entries =
            std::fs::read_dir(target).map_err(|err| EmbeddedError::io("reading", target, err))?;
        if entries.next().is_some() {
            return Err(EmbeddedError::NotADataDirectory(target.to_owned()));
        }
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o700))
            .map_err(|err| EmbeddedError::io("setting permissions of", target, err))?;
        if let Some(user) = &self.user {
            user::chown(target, user)?;
        }
        tracing::info!(dir = %target.display(), port, "making a standby with pg_basebackup");
        // The password is in the connection string (not the environment), so `-R` writes it
        // into the standby's `primary_conninfo`.
        let conninfo = format!("host=127.0.0.1 port={port} user={SUPERUSER} password={password}");
        let args = [
            "-D".as_ref(),
            target.as_os_str(),
            "-d".as_ref(),
            conninfo.as_ref(),
            "-R".as_ref(),
            "-X".as_ref(),
            "stream".as_ref(),
            "-c".as_ref(),
            "fast".as_ref(),
            "--no-sync".as_ref(),
        ];
        command::run(&self.binaries.pg_basebackup(), self.user.as_ref(), args).await?;
        Ok(())
    }

    /// Whether `pg_ctl status` sees a live postmaster for this data directory.
    pub(crate) async fn is_running(&self) -> bool {
        let args = ["status".as_ref(), "-D".as_ref(), self.data_dir.as_os_str()];
        command::run(&self.binaries.pg_ctl(), self.user.as_ref(), args)
            .await
            .is_ok()
    }

    /// Starts the server on `port` with `pg_ctl start`, waiting for it to be ready.
    pub(crate) async fn start(&self, port: u16, durable: bool) -> Result<(), EmbeddedError> {
        let mut options = format!("-p {port} {BASE_SETTINGS}");
        if !durable {
            options = format!("{options} {NON_DURABLE_SETTINGS}");
        }
        let log = self.log_file();
        let args = [
            "-l".as_ref(),
            log.as_os_str(),
            "-o".as_ref(),
            options.as_ref(),
        ];
        tracing::info!(dir = %self.data_dir.display(), port, "starting PostgreSQL");
        self.pg_ctl_waiting("start", &args)
            .await
            .map(drop)
            .map_err(|err| match err {
                EmbeddedError::CommandFailed {
                    program,
                    status,
                    output,
                } => EmbeddedError::CommandFailed {
                    program,
                    status,
                    output: format!("{output}\nend of {}:\n{}", log.display(), self.log_tail()),
                },
                other => other,
            })
    }

    /// Stops the server with `pg_ctl stop -m fast`, waiting until it is gone.
    pub(crate) async fn stop(&self) -> Result<(), EmbeddedError> {
        tracing::info!(dir = %self.data_dir.display(), "stopping PostgreSQL");
        self.pg_ctl_waiting("stop", &["-m".as_ref(), "fast".as_ref()])
            .await?;
        Ok(())
    }

    /// Restarts the server with `pg_ctl restart -m fast` (every session is cut, in-flight
    /// transactions roll back), waiting until it is up again. `pg_ctl` starts it with the
    /// options of the previous start (kept in `postmaster.opts`), so port and settings stay.
    pub(crate) async fn restart(&self) -> Result<(), EmbeddedError> {
        let log = self.log_file();
        // `-l` as at start: without it the new postmaster would inherit our piped stdout and
        // `pg_ctl`'s output would never end.
        let args = [
            "-m".as_ref(),
            "fast".as_ref(),
            "-l".as_ref(),
            log.as_os_str(),
        ];
        tracing::info!(dir = %self.data_dir.display(), "restarting PostgreSQL");
        self.pg_ctl_waiting("restart", &args).await?;
        Ok(())
    }

    /// Runs `pg_ctl <action> -D <data dir> <options> -w -t <timeout> -s`: waits for the
    /// action to complete, for at most [`STARTUP_TIMEOUT`], and prints only errors.
    async fn pg_ctl_waiting(
        &self,
        action: &str,
        options: &[&OsStr],
    ) -> Result<String, EmbeddedError> {
        let timeout_s = STARTUP_TIMEOUT.as_secs().to_string();
        let mut args: Vec<&OsStr> = vec![action.as_ref(), "-D".as_ref(), self.data_dir.as_os_str()];
        args.extend_from_slice(options);
        args.extend(["-w", "-t", &timeout_s, "-s"].map(OsStr::new));
        command::run(&self.binaries.pg_ctl(), self.user.as_ref(), args).await
    }

    /// Waits until `url` accepts a connection, for at most [`STARTUP_TIMEOUT`].
    pub(crate) async fn wait_ready(&self, url: &str) -> Result<(), EmbeddedError> {
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            match sql::connect(url).await {
                Ok(conn) => {
                    // Closing politely is best effort: the server is up either way.
                    let _ = sqlx::Connection::close(conn).await;
                    return Ok(());
                }
                Err(err) if tokio::time::Instant::now() >= deadline => {
                    return Err(EmbeddedError::NotReady {
                        timeout_s: STARTUP_TIMEOUT.as_secs(),
                        log: self.log_file(),
                        log_tail: format!("{}\n(last connection error: {err})", self.log_tail()),
                    });
                }
                Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// The last [`LOG_TAIL_LINES`] lines of the server log, or why it could not be read.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log_file())
    }
}

/// The last [`LOG_TAIL_LINES`] lines of `path`.
fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(err) => format!("(could not read the log: {err})"),
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> Result<u16, EmbeddedError> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(EmbeddedError::NoFreePort)?;
    let port = listener
        .local_addr()
        .map_err(EmbeddedError::NoFreePort)?
        .port();
    Ok(port)
}

/// Whether a failed start looks like the port was taken meanwhile.
pub(crate) fn is_port_conflict(err: &EmbeddedError) -> bool {
    matches!(err, EmbeddedError::CommandFailed { output, .. }
        if output.contains("could not bind") || output.contains("Address already in use"))
}
