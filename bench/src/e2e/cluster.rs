//! The `ledgerd` replicas under test (real child processes on the benchmark's database) and the
//! gRPC connections callers spread over.

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
            for _ in 0..CONNECTIONS_PER_REPLICA {
                let channel = Endpoint::from_shared(format!("http://{}", ledgerd.address))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(30))
                    .tcp_nodelay(true)
                    .connect()
                    .await?;
                channels.push(channel);
            }
            started.push(ledgerd);
        }
        Ok(Cluster {
            replicas: started,
            channels,
        })
    }

    /// Clients acting as `kind` (and `actor`) on connection `n` modulo their number: callers
    /// that pass their own index spread evenly over connections and replicas.
    pub fn clients(&self, kind: &str, actor: Option<uuid::Uuid>, n: usize) -> Clients {
        let channel = self.channels[n % self.channels.len()].clone();
        let replica = &self.replicas[(n % self.channels.len()) / CONNECTIONS_PER_REPLICA];
        Clients::new(channel, replica.token(kind), actor)
    }

    /// How many connections [`Cluster::clients`] spreads over.
    pub fn connections(&self) -> usize {
        self.channels.len()
    }

    /// The process ids of the replicas.
    pub fn pids(&self) -> Vec<u32> {
        self.replicas.iter().map(Ledgerd::pid).collect()
    }

    /// Stops every replica with SIGTERM.
    pub fn terminate(self) {
        for replica in self.replicas {
            let status = replica.terminate();
            if !status.success() {
                eprintln!("ledgerd exited with {status}");
            }
        }
    }
}
