//! `ledger-bench`: load generators for ARouter Ledger, each beside a pgbench baseline measured
//! on the same PostgreSQL in the same run, so figures are ratios that survive a noisy machine.

mod appender;
mod database;
mod e2e;
mod pgbench;
mod wal;

use std::time::Duration;

use clap::{Parser, Subcommand};

/// Benchmarks of ARouter Ledger.
#[derive(Debug, Parser)]
#[command(name = "ledger-bench")]
struct Args {
    /// PostgreSQL server to measure on; without it a durable embedded server is started under
    /// target/ledger-bench-pg.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,

    #[command(subcommand)]
    benchmark: Benchmark,
}

#[derive(Debug, Subcommand)]
enum Benchmark {
    /// Appends per second through the group-commit appender at 1, 16 and 64 concurrent callers,
    /// on one stream and on 10,000 streams, beside pgbench single-row inserts at 1 and 32 clients.
    Appender {
        /// Concurrent callers to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
        callers: Vec<usize>,
    },
    /// The end-to-end suite: pgbench baselines, then the gateway, hot, batched, read and mixed
    /// workloads over gRPC against real ledgerd processes; writes a results folder and the
    /// generated section of docs/BENCHMARKS.md.
    Suite(e2e::suite::SuiteOptions),
    /// WAL records, bytes and full-page images per billed request, by relation and record
    /// type, from `pg_walinspect` over each form's run and its projections' catch-up.
    Wal(e2e::walcost::WalOptions),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let duration = Duration::from_secs(args.seconds.max(1));
    let server = database::Server::open(args.database_url.clone()).await?;
    let database = server.fresh_database().await?;
    let outcome = match args.benchmark {
        Benchmark::Appender { callers } => appender::run(&database, duration, &callers).await,
        Benchmark::Suite(options) => e2e::suite::run(&server, &database, duration, options).await,
        Benchmark::Wal(options) => e2e::walcost::run(&database, duration, options).await,
    };
    database.drop_database().await?;
    server.close().await?;
    outcome
}
