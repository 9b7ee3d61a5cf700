//! The `ledgerd` replicas under test (real child processes on the benchmark's database), the
//! read-only `ledgerd` on a standby of it when reads are sent there, and the gRPC connections
//! callers spread over.

use std::time::Duration;

use ledger_tests::ledgerd::{Clients, Ledgerd, LedgerdOptions};
use tonic::transport::{Channel, Endpoint};

/// HTTP/2 connections per replica: one connection serialises its frames on one task, so a
/// single one would make the client the bottleneck.
const CONNECTIONS_PER_REPLICA: usize = 4;

/// Running replicas and connections to them.
pub struct Cluster {
    replicas: Vec<Ledgerd>,
    channels: Vec<Channel>,
    /// The read-only `ledgerd` that answers the workloads' reads, when there is one.
    read_only: Option<ReadOnly>,
}

/// A read-only `ledgerd` (`--read-only`) and connections to it.
struct ReadOnly {
    ledgerd: Ledgerd,
    channels: Vec<Channel>,
}

impl Cluster {
    /// Starts `replicas` ledgerd processes on `database_url`, one after the other (each applies
    /// the migrations at start), with `env` passed to each.
    pub async fn start(
        database_url: &str,
        replicas: usize,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Cluster> {
        let mut started: Vec<Ledgerd> = Vec::new();
        let mut channels = Vec::new();
        for _ in 0..replicas.max(1) {
            // Replicas share the first one's credentials and key-hash secret: with a secret
            // each, a key created through one replica would be unknown to the others.
            let ledgerd = match started.first() {
                Some(first) => first.start_beside().await,
                None => {
                    Ledgerd::start(&LedgerdOptions {
                        database_url: Some(database_url.to_owned()),
                        data_dir: std::env::temp_dir()
                            .join(format!("ledger-bench-unused-{}", uuid::Uuid::new_v4())),
                        env: env
                            .iter()
                            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                            .collect(),
                        ..Default::default()
                    })
                    .await
                }
            };
            channels.extend(connect(&ledgerd).await?);
            started.push(ledgerd);
        }
        Ok(Cluster {
            replicas: started,
            channels,
            read_only: None,
        })
    }

    /// Starts a `ledgerd serve --read-only` on `standby_url` (a hot standby of the database,
    /// which has replayed the first replica's start), sharing the first replica's credentials
    /// and key-hash secret; from then on [`Cluster::read_clients`] reach it.
    pub async fn start_read_only(&mut self, standby_url: &str) -> anyhow::Result<()> {
        let first = self
            .replicas
            .first()
            .ok_or_else(|| anyhow::anyhow!("no ledgerd to start beside"))?;
        let ledgerd = first
            .start_beside_with(|options| {
                options.database_url = Some(standby_url.to_owned());
                options.serve_args.push("--read-only".to_owned());
            })
            .await;
        let channels = connect(&ledgerd).await?;
        self.read_only = Some(ReadOnly { ledgerd, channels });
        Ok(())
    }

    /// Clients acting as `kind` (and `actor`) on connection `n` modulo their number: callers
    /// that pass their own index spread evenly over connections and replicas.
    pub fn clients(&self, kind: &str, actor: Option<uuid::Uuid>, n: usize) -> Clients {
        let channel = self.channels[n % self.channels.len()].clone();
        let replica = &self.replicas[(n % self.channels.len()) / CONNECTIONS_PER_REPLICA];
        Clients::new(channel, replica.token(kind), actor)
    }

    /// Clients for reads acting as `kind` (and `actor`): on the read-only `ledgerd` when there
    /// is one, else as [`Cluster::clients`].
    pub fn read_clients(&self, kind: &str, actor: Option<uuid::Uuid>, n: usize) -> Clients {
        match &self.read_only {
            Some(read_only) => {
                let channel = read_only.channels[n % read_only.channels.len()].clone();
                Clients::new(channel, read_only.ledgerd.token(kind), actor)
            }
            None => self.clients(kind, actor, n),
        }
    }

    /// How many connections [`Cluster::clients`] spreads over.
    pub fn connections(&self) -> usize {
        self.channels.len()
    }

    /// The process ids of the replicas.
    pub fn pids(&self) -> Vec<u32> {
        self.replicas.iter().map(Ledgerd::pid).collect()
    }

    /// The process id of the read-only `ledgerd`, when there is one.
    pub fn read_only_pid(&self) -> Option<u32> {
        self.read_only.as_ref().map(|r| r.ledgerd.pid())
    }

    /// Stops every replica, and the read-only `ledgerd`, with SIGTERM.
    pub fn terminate(self) {
        let read_only = self.read_only.map(|r| r.ledgerd);
        for replica in self.replicas.into_iter().chain(read_only) {
            let status = replica.terminate();
            if !status.success() {
                eprintln!("ledgerd exited with {status}");
            }
        }
    }
}

/// [`CONNECTIONS_PER_REPLICA`] connections to `ledgerd`.
async fn connect(ledgerd: &Ledgerd) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(CONNECTIONS_PER_REPLICA);
    for _ in 0..CONNECTIONS_PER_REPLICA {
        let channel = Endpoint::from_shared(format!("http://{}", ledgerd.address))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .connect()
            .await?;
        channels.push(channel);
    }
    Ok(channels)
}
