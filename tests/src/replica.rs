//! A `ledgerd` on a primary and a read-only `ledgerd` (`--read-only`) on a hot standby of it,
//! sharing credentials and key-hash secret, as in production behind a proxy that sends
//! commands to the primary and reads to the replica.

use uuid::Uuid;

use crate::client::Api;
use crate::cluster::ReplicatedDatabase;
use crate::ledgerd::{Ledgerd, LedgerdOptions};

/// The two clusters and the two processes.
pub struct ReplicaWorld {
    /// The `ledgerd` on the primary: commands go here.
    pub primary: Ledgerd,
    /// The read-only `ledgerd` on the standby.
    pub replica: Ledgerd,
    /// The clusters (dropped last: the processes are stopped first).
    pub database: ReplicatedDatabase,
}

impl ReplicaWorld {
    /// Starts the clusters, the primary's `ledgerd` (which migrates and records its key-hash
    /// secret), waits until the standby has replayed that, and starts the replica's
    /// `ledgerd` with `replica_args` after `--read-only`.
    pub async fn start(replica_args: &[&str]) -> ReplicaWorld {
        ReplicaWorld::start_with(&[], replica_args).await
    }

    /// [`ReplicaWorld::start`], both processes serving with `shared_args` too (say, a read
    /// models' database of their own).
    pub async fn start_with(shared_args: &[&str], replica_args: &[&str]) -> ReplicaWorld {
        let database = ReplicatedDatabase::start().await;
        let primary = Ledgerd::start(&LedgerdOptions {
            database_url: Some(database.primary_url().to_owned()),
            data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", Uuid::new_v4())),
            serve_args: shared_args.iter().map(|arg| (*arg).to_owned()).collect(),
            ..Default::default()
        })
        .await;
        database.wait_replayed().await;
        let standby_url = database.standby_url().to_owned();
        let replica = primary
            .start_beside_with(|options| {
                options.database_url = Some(standby_url);
                options.serve_args.push("--read-only".to_owned());
                options
                    .serve_args
                    .extend(replica_args.iter().map(|arg| (*arg).to_owned()));
            })
            .await;
        ReplicaWorld {
            primary,
            replica,
            database,
        }
    }
}

impl Api for ReplicaWorld {
    /// Fixtures are built through the primary; reach the replica with `world.replica`.
    fn ledgerd(&self) -> &Ledgerd {
        &self.primary
    }
}
