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
