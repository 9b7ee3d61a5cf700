//! PostgreSQL clusters of a test's own, to stop and start behind `ledgerd`'s back.

use std::path::PathBuf;

use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};

/// A private cluster's directory under the system temp dir (the `postgres` user the server runs
/// as, when we are root, must reach it), removed on drop. A server left running by a failed
/// test notices its data directory is gone and shuts down within a minute.
pub struct PrivateCluster {
    /// The directory: the cluster's data in `data/`, anything else beside it.
    pub dir: PathBuf,
}

impl PrivateCluster {
    /// A fresh directory name (created by the first start).
    pub fn new() -> PrivateCluster {
        PrivateCluster {
            dir: std::env::temp_dir().join(format!(
                "ledger-private-pg-{}",
                uuid::Uuid::new_v4().simple()
            )),
        }
    }

    /// The cluster's settings: data in `data/`, no fsync (tests only).
    pub fn config(&self) -> EmbeddedConfig {
        EmbeddedConfig::new(self.dir.join("data")).durable(false)
    }
}

impl Default for PrivateCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The database `ledger` on a private cluster that a test stops and starts again on the same
/// port, as an outage would.
pub struct OutageDatabase {
    cluster: PrivateCluster,
    port: u16,
    url: String,
    server: Option<EmbeddedPostgres>,
}

impl OutageDatabase {
    /// Initialises the cluster, creates `ledger` and leaves the server running.
    pub async fn start() -> OutageDatabase {
        let cluster = PrivateCluster::new();
        let server = EmbeddedPostgres::start(cluster.config())
            .await
            .expect("the private cluster starts");
        server
            .ensure_database("ledger")
            .await
            .expect("the ledger database is created");
        OutageDatabase {
            port: server.port(),
            url: server.database_url("ledger"),
            server: Some(server),
            cluster,
        }
    }

    /// `DATABASE_URL` of the ledger database (valid whether or not the server runs).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server (fast shutdown: sessions are cut).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("the private cluster stops");
        }
    }

    /// Starts the server again on the same port.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "start_again only a stopped cluster");
        let server = EmbeddedPostgres::start(self.cluster.config().port(self.port))
            .await
            .expect("the private cluster starts again");
        self.server = Some(server);
    }
}

impl Drop for OutageDatabase {
    fn drop(&mut self) {
        // A running server would outlive the test until it notices its directory is gone;
        // stop it here when a runtime is at hand.
        if let (Some(server), Ok(handle)) =
            (self.server.take(), tokio::runtime::Handle::try_current())
        {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    let _ = handle.block_on(server.stop());
                });
            });
        }
    }
}

/// A primary cluster with database `ledger` and a hot standby of it (`pg_basebackup -R`,
/// streaming replication, its own port and directory), both private to the test. The standby
/// can be stopped and started again on its port, and its replay paused.
pub struct ReplicatedDatabase {
    primary_cluster: PrivateCluster,
    standby_cluster: PrivateCluster,
    primary: Option<EmbeddedPostgres>,
    standby: Option<EmbeddedPostgres>,
    standby_port: u16,
    primary_url: String,
    standby_url: String,
}

impl ReplicatedDatabase {
    /// Starts the primary, creates `ledger`, then makes and starts the standby.
    pub async fn start() -> ReplicatedDatabase {
        let primary_cluster = PrivateCluster::new();
        let standby_cluster = PrivateCluster::new();
        let primary = EmbeddedPostgres::start(primary_cluster.config())
            .await
            .expect("the primary starts");
        primary
            .ensure_database("ledger")
            .await
            .expect("the ledger database is created");
        let standby = primary
            .start_standby(standby_cluster.config())
            .await
            .expect("the standby is made and starts");
        ReplicatedDatabase {
            primary_url: primary.database_url("ledger"),
            standby_url: standby.database_url("ledger"),
            standby_port: standby.port(),
            primary: Some(primary),
            standby: Some(standby),
            primary_cluster,
            standby_cluster,
        }
    }

    /// `DATABASE_URL` of `ledger` on the primary.
    pub fn primary_url(&self) -> &str {
        &self.primary_url
    }

    /// `DATABASE_URL` of `ledger` on the standby (valid whether or not it runs).
    pub fn standby_url(&self) -> &str {
        &self.standby_url
    }

    /// Waits (at most 30 s) until the standby has replayed all the WAL the primary has
    /// written so far.
    pub async fn wait_replayed(&self) {
        wait_replayed(&self.primary_url, &self.standby_url).await;
    }

    /// Pauses (`true`) or resumes the standby's replay: WAL keeps arriving, nothing of it
    /// becomes visible, so the replay lag grows.
    pub async fn pause_replay(&self, paused: bool) {
        let standby = sqlx::PgPool::connect(&self.standby_url)
            .await
            .expect("the standby accepts connections");
        let sql = if paused {
            "SELECT pg_wal_replay_pause()::text"
        } else {
            "SELECT pg_wal_replay_resume()::text"
        };
        sqlx::query_scalar::<_, String>(sql)
            .fetch_one(&standby)
            .await
            .expect("the standby pauses or resumes its replay");
        standby.close().await;
    }

    /// Stops the standby (fast shutdown: sessions are cut).
    pub async fn stop_standby(&mut self) {
        if let Some(server) = self.standby.take() {
            server.stop().await.expect("the standby stops");
        }
    }

    /// Starts the standby again on its port; it resumes streaming from the primary.
    pub async fn start_standby_again(&mut self) {
        assert!(
            self.standby.is_none(),
            "start_standby_again only a stopped standby"
        );
        let primary = self.primary.as_ref().expect("the primary runs");
        let server = primary
            .start_standby(self.standby_cluster.config().port(self.standby_port))
            .await
            .expect("the standby starts again");
        self.standby = Some(server);
    }
}

impl Drop for ReplicatedDatabase {
    fn drop(&mut self) {
        // The standby first: it would otherwise keep trying to reach its primary.
        let servers = [self.standby.take(), self.primary.take()];
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    for server in servers.into_iter().flatten() {
                        let _ = handle.block_on(server.stop());
                    }
                });
            });
        }
        let _ = (&self.primary_cluster, &self.standby_cluster);
    }
}

/// Waits (at most 30 s) until the standby at `standby_url` has replayed all the WAL the primary
/// at `primary_url` has written so far.
pub async fn wait_replayed(primary_url: &str, standby_url: &str) {
    let primary = sqlx::PgPool::connect(primary_url)
        .await
        .expect("the primary accepts connections");
    // The insert position: with `synchronous_commit = off` (a cluster that is not durable) a
    // commit may not be written out yet, and the write position lags it.
    let written: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(&primary)
        .await
        .expect("the primary's WAL position");
    primary.close().await;
    let standby = sqlx::PgPool::connect(standby_url)
        .await
        .expect("the standby accepts connections");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let replayed: bool =
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                .bind(&written)
                .fetch_one(&standby)
                .await
                .expect("the standby's replay position");
        if replayed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the standby did not replay the primary's WAL in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    standby.close().await;
}
