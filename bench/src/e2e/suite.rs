//! The end-to-end suite: pgbench baselines, then every workload against real `ledgerd`
//! processes on the same PostgreSQL, in one run; the results go to a report.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::cluster::Cluster;
use super::cpu::{self, SideCpu};
use super::driver::{Pace, drive};
use super::population::populate;
use super::recorder::{Summary, percentile_ms};
use super::watch::{self, LagSample, MemorySample};
use super::workloads::Workloads;
use super::{plot, report};
use crate::database::{BenchDatabase, Server, Standby};
use crate::pgbench::{self, Baseline};
use crate::wal::{WalCost, WalMeter};

/// Share of the gateway's closed-loop maximum offered as the open-loop rate for its latency.
const GATEWAY_LATENCY_SHARE: f64 = 0.8;
/// How long projections get to catch up between phases.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);
/// Unrecorded gateway load before the first phase (fills caches, opens connections).
const WARM_UP: Duration = Duration::from_secs(3);

/// How to run the suite.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct SuiteOptions {
    /// Organizations the spread workloads bill.
    #[arg(long, default_value_t = 1000)]
    pub organizations: usize,
    /// API keys per organization.
    #[arg(long, default_value_t = 2)]
    pub keys_per_org: usize,
    /// API keys of the hot organization.
    #[arg(long, default_value_t = 100)]
    pub hot_keys: usize,
    /// Concurrent callers of the closed-loop workloads (gateway, hot, mixed).
    #[arg(long, default_value_t = 64)]
    pub callers: usize,
    /// Concurrent callers of the batched workload (each sends 100 records per call).
    #[arg(long, default_value_t = 8)]
    pub batch_callers: usize,
    /// Arrival rate of the read workload, requests per second (the 2-core goal: p99 ≤ 2 ms at
    /// 2,500/s with the load generator on the same cores; 5,000/s wants cores to spare).
    #[arg(long, default_value_t = 2500.0)]
    pub read_rate: f64,
    /// ledgerd replicas sharing the load on the one database.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Minutes of mixed load after the phases, watching ledgerd's memory (0: none).
    #[arg(long, default_value_t = 0)]
    pub memory_minutes: u64,
    /// Database connections of each ledgerd (`LEDGER_DB_MAX_CONNECTIONS`); its default if unset.
    #[arg(long)]
    pub db_max_connections: Option<u32>,
    /// Send the reads of the read and mixed phases to a `ledgerd serve --read-only` on a hot
    /// standby of the database (embedded server only), so that the CPU they take moves off
    /// the primary.
    #[arg(long)]
    pub read_replica: bool,
    /// A PostgreSQL server for the read models (`postgres://…`): the suite creates a database
    /// of their own on it and every `ledgerd` keeps its read models there
    /// (`LEDGER_READ_MODELS_DATABASE_URL`), so the projectors' writes move off the primary.
    /// Its CPU is reported as a side of its own when the server runs on this machine (its
    /// whole process tree: keep it otherwise idle).
    #[arg(long)]
    #[serde(serialize_with = "serialize_without_password")]
    pub read_models_database_url: Option<String>,
    /// Only these phases (gateway, gateway-stream, hot, batched, read, mixed); all when empty.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where results folders are written.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    pub results_dir: PathBuf,
    /// The report whose generated section is rewritten (`/dev/null` for none).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/BENCHMARKS.md"))]
    pub report: PathBuf,
}

/// The pgbench baselines of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    /// Single-row inserts, 1 client.
    pub single_1: Baseline,
    /// Single-row inserts, 32 clients.
    pub single_32: Baseline,
    /// 100-row inserts, 32 clients.
    pub hundred_32: Baseline,
}

/// One measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Its name in the report.
    pub name: String,
    /// How load arrived.
    pub pace: Pace,
    /// Throughput and latency.
    pub summary: Summary,
    /// Projection lag sampled during it.
    pub lag: Vec<LagSample>,
    /// 99th percentile of the lag samples, ms.
    pub lag_p99_ms: f64,
    /// How long projections took to apply the whole log after the phase (`None`: not within
    /// a minute).
    pub catch_up_ms: Option<u64>,
    /// What the phase and its catch-up wrote to the WAL (`None`: not measurable on this
    /// server, e.g. without `pg_walinspect` or superuser rights).
    pub wal: Option<WalCost>,
    /// CPU each side of the deployment used from the phase's start until projections caught
    /// up after it.
    pub cpu: Vec<SideCpu>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// When it started (UTC, RFC 3339).
    pub started_at: String,
    /// The command line.
    pub command: String,
    /// `/proc/loadavg` before the run.
    pub load_before: String,
    /// `/proc/loadavg` after the run.
    pub load_after: String,
    /// The options.
    pub options: SuiteOptions,
    /// Seconds each phase ran.
    pub seconds: u64,
    /// pgbench on the same server.
    pub baselines: Baselines,
    /// Seconds it took to create the organizations and keys through the API.
    pub setup_s: f64,
    /// The phases in order.
    pub phases: Vec<Phase>,
    /// ledgerd's memory over the whole run (summed over replicas).
    pub memory: Vec<MemorySample>,
}

/// What runs beside the primary and its `ledgerd` processes: the places a run sends work off the
/// primary, each a side of its own in the CPU report.
struct OffPrimary {
    /// The hot standby the read-only `ledgerd` runs on (`--read-replica`).
    standby: Option<Standby>,
    /// The read models' own database (`--read-models-database-url`).
    read_models: Option<ReadModelsApart>,
}

/// A database created for the read models on the server `--read-models-database-url` names.
struct ReadModelsApart {
    server: Server,
    database: BenchDatabase,
    /// That server's postmaster, when it runs on this machine.
    postmaster: Option<u32>,
}

impl OffPrimary {
    /// Creates the read models' own database when `options` asks for one; before the
    /// `ledgerd` processes start, as they are told of it at start.
    async fn prepare(options: &SuiteOptions) -> anyhow::Result<OffPrimary> {
        let mut read_models = None;
        if let Some(url) = &options.read_models_database_url {
            let server = Server::open(Some(url.clone())).await?;
            let database = server.fresh_database().await?;
            let postmaster = server.local_postmaster().await;
            println!(
                "read models: in database {} of their own server{}",
                database.name(),
                if postmaster.is_some() {
                    ""
                } else {
                    " (its CPU not measured: not on this machine)"
                }
            );
            read_models = Some(ReadModelsApart {
                server,
                database,
                postmaster,
            });
        }
        Ok(OffPrimary {
            standby: None,
            read_models,
        })
    }

    /// The read-model database's URL, for the `ledgerd` processes.
    fn read_models_url(&self) -> Option<&str> {
        self.read_models.as_ref().map(|r| r.database.url.as_str())
    }

    /// With `--read-replica`, starts a standby of the embedded server and a read-only
    /// `ledgerd` on it, beside `cluster` (it keeps the cluster's read-model database, if any).
    async fn start_replica(
        &mut self,
        server: &Server,
        database: &BenchDatabase,
        cluster: &mut Cluster,
        options: &SuiteOptions,
    ) -> anyhow::Result<()> {
        if options.read_replica {
            let started = server.start_standby().await?;
            let url = started.database_url(database.name());
            // The read-only ledgerd reads the key-hash secret the primary's recorded.
            ledger_tests::cluster::wait_replayed(&database.url, &url).await;
            cluster.start_read_only(&url).await?;
            println!("read replica: reads of the read and mixed phases go to a standby");
            self.standby = Some(started);
        }
        Ok(())
    }

    /// The processes charged with CPU, by side.
    fn sides(&self, server: &Server, cluster: &Cluster) -> Vec<cpu::Side> {
        let mut sides = vec![cpu::Side {
            name: "primary",
            ledgerd: cluster.pids(),
            postmaster: server.postmaster(),
        }];
        if let Some(standby) = &self.standby {
            sides.push(cpu::Side {
                name: "replica",
                ledgerd: cluster.read_only_pid().into_iter().collect(),
                postmaster: standby.postmaster(),
            });
        }
        if let Some(read_models) = &self.read_models {
            sides.push(cpu::Side {
                name: "read models",
                ledgerd: Vec::new(),
                postmaster: read_models.postmaster,
            });
        }
        sides
    }

    /// Stops what was started (the `ledgerd` processes are stopped before).
    async fn stop(self) -> anyhow::Result<()> {
        if let Some(standby) = self.standby {
            standby.stop().await?;
        }
        if let Some(read_models) = self.read_models {
            read_models.database.drop_database().await?;
            read_models.server.close().await?;
        }
        Ok(())
    }
}

/// Runs the suite on `database` of `server` and writes its results folder and report.
pub async fn run(
    server: &Server,
    database: &BenchDatabase,
    duration: Duration,
    options: SuiteOptions,
) -> anyhow::Result<()> {
    if options.read_replica {
        server.can_replicate()?;
    }
    let started_at = chrono::Utc::now();
    let load_before = loadavg();
    println!("baselines: pgbench, {} s each", duration.as_secs());
    pgbench::prepare(database).await?;
    let baselines = Baselines {
        single_1: pgbench::single_row(database, 1, duration).await?,
        single_32: pgbench::single_row(database, 32, duration).await?,
        hundred_32: pgbench::hundred_rows(database, 32, duration).await?,
    };
    println!("{baselines:?}");

    let mut off_primary = OffPrimary::prepare(&options).await?;
    let mut cluster = start_cluster(database, off_primary.read_models_url(), &options).await?;
    off_primary
        .start_replica(server, database, &mut cluster, &options)
        .await?;
    let sides = off_primary.sides(server, &cluster);
    let cluster = Arc::new(cluster);
    let (workloads, setup_s) = populate_workloads(&cluster, &options).await?;
    let memory = watch::memory(cluster.pids());
    let auditor = cluster.clients("auditor", None, 0);
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    let closed = Pace::Closed {
        callers: options.callers,
    };

    let mut phases = Vec::new();
    let mut runner = PhaseRunner {
        auditor: &auditor,
        database_url: Some(&database.url),
        phases: &mut phases,
        duration,
        sides: &sides,
    };
    warm_up(&workloads, closed, &auditor).await;
    if wanted("gateway") {
        let w = workloads.clone();
        let max = runner
            .phase("gateway", closed, move |n| w.clone().gateway_request(n))
            .await;
        let w = workloads.clone();
        let per_s = (max.ops_per_s * GATEWAY_LATENCY_SHARE).max(1.0);
        runner
            .phase("gateway at 80% of max", Pace::Open { per_s }, move |n| {
                w.clone().gateway_request(n)
            })
            .await;
    }
    if wanted("gateway-stream") {
        let w = workloads.clone();
        let max = runner
            .phase("gateway-stream", closed, move |n| {
                w.clone().gateway_stream_request(n)
            })
            .await;
        let w = workloads.clone();
        let per_s = (max.ops_per_s * GATEWAY_LATENCY_SHARE).max(1.0);
        runner
            .phase(
                "gateway-stream at 80% of max",
                Pace::Open { per_s },
                move |n| w.clone().gateway_stream_request(n),
            )
            .await;
    }
    if wanted("hot") {
        let w = workloads.clone();
        runner
            .phase("hot", closed, move |n| w.clone().hot_request(n))
            .await;
    }
    if wanted("batched") {
        let w = workloads.clone();
        let pace = Pace::Closed {
            callers: options.batch_callers,
        };
        runner
            .phase("batched", pace, move |n| w.clone().usage_batch(n))
            .await;
    }
    if wanted("read") {
        let w = workloads.clone();
        let pace = Pace::Open {
            per_s: options.read_rate,
        };
        runner.phase("read", pace, move |n| w.clone().read(n)).await;
    }
    if wanted("mixed") {
        let w = workloads.clone();
        runner
            .phase("mixed", closed, move |n| w.clone().mixed(n))
            .await;
    }
    if options.memory_minutes > 0 {
        let w = workloads.clone();
        runner.duration = Duration::from_secs(options.memory_minutes * 60);
        // Minutes of WAL (gigabytes) would take minutes to read back, and keep the disk full
        // meanwhile; the short phases have measured it.
        runner.database_url = None;
        runner
            .phase("mixed, long (memory)", closed, move |n| w.clone().mixed(n))
            .await;
    }
    let memory = memory.stop().await;
    drop(workloads);
    drop(auditor);
    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.terminate();
    }
    off_primary.stop().await?;

    let results = Results {
        started_at: started_at.to_rfc3339(),
        command: std::env::args()
            .map(|arg| without_password(&arg))
            .collect::<Vec<_>>()
            .join(" "),
        load_before,
        load_after: loadavg(),
        options,
        seconds: duration.as_secs(),
        baselines,
        setup_s,
        phases,
        memory,
    };
    write(&results, &started_at)
}

/// Starts the ledgerd replicas on `database`, with their read models in `read_models_url`
/// when given.
pub(super) async fn start_cluster(
    database: &BenchDatabase,
    read_models_url: Option<&str>,
    options: &SuiteOptions,
) -> anyhow::Result<Cluster> {
    let connections = options.db_max_connections.map(|n| n.to_string());
    let mut env = vec![("RUST_LOG", "warn")];
    if let Some(connections) = &connections {
        env.push(("LEDGER_DB_MAX_CONNECTIONS", connections.as_str()));
    }
    if let Some(url) = read_models_url {
        env.push(("LEDGER_READ_MODELS_DATABASE_URL", url));
    }
    Cluster::start(&database.url, options.replicas, &env).await
}

/// Creates the organizations and keys the workloads bill; returns the workloads with the
/// seconds the population took.
pub(super) async fn populate_workloads(
    cluster: &Arc<Cluster>,
    options: &SuiteOptions,
) -> anyhow::Result<(Arc<Workloads>, f64)> {
    println!(
        "populating: {} organizations × {} keys, and a hot one with {} keys",
        options.organizations, options.keys_per_org, options.hot_keys
    );
    let population = populate(
        cluster,
        options.organizations,
        options.keys_per_org,
        options.hot_keys,
    )
    .await?;
    let setup_s = population.setup.as_secs_f64();
    println!("populated in {setup_s:.1} s");
    let workloads = Workloads::new(cluster, population).await?;
    Ok((workloads, setup_s))
}

/// Unrecorded gateway load, then a wait for the projections to apply it, so the first phase
/// neither starts cold nor is charged for the warm-up's WAL.
pub(super) async fn warm_up(
    workloads: &Arc<Workloads>,
    pace: Pace,
    auditor: &ledger_tests::ledgerd::Clients,
) {
    let w = workloads.clone();
    drive(pace, WARM_UP, move |n| w.clone().gateway_request(n)).await;
    watch::until_caught_up(auditor, CATCH_UP_WITHIN).await;
}

/// Runs phases one after another and keeps their results.
pub(super) struct PhaseRunner<'a> {
    pub(super) auditor: &'a ledger_tests::ledgerd::Clients,
    /// The database whose WAL each phase is charged (`None`: not measured).
    pub(super) database_url: Option<&'a str>,
    pub(super) phases: &'a mut Vec<Phase>,
    pub(super) duration: Duration,
    pub(super) sides: &'a [cpu::Side],
}

impl PhaseRunner<'_> {
    /// Runs one phase with the lag sampler beside it, then waits for projections to catch up;
    /// the WAL is measured over both.
    pub(super) async fn phase<F, Fut>(&mut self, name: &str, pace: Pace, operation: F) -> Summary
    where
        F: Fn(u64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<u32, tonic::Status>> + Send + 'static,
    {
        println!("{name}: {pace:?} for {} s", self.duration.as_secs());
        let meter = match self.database_url {
            Some(url) => WalMeter::start(url)
                .await
                .map_err(|error| println!("  WAL not measured: {error}"))
                .ok(),
            None => None,
        };
        let lag = watch::projection_lag(self.auditor.clone());
        let cpu_before = cpu::read(self.sides);
        let summary = drive(pace, self.duration, operation).await;
        let lag = lag.stop().await;
        let catch_up = watch::until_caught_up(self.auditor, CATCH_UP_WITHIN).await;
        // Before the WAL is read back: reading it costs the primary's PostgreSQL seconds of CPU
        // that are the meter's, not the phase's.
        let cpu = cpu_before.until(&cpu::read(self.sides));
        let wal = match meter {
            Some(meter) => meter
                .finish()
                .await
                .map_err(|error| println!("  WAL not measured: {error}"))
                .ok(),
            None => None,
        };
        let mut lags: Vec<u32> = lag
            .iter()
            .map(|s| u32::try_from(s.lag_ms.max(0).saturating_mul(1000)).unwrap_or(u32::MAX))
            .collect();
        lags.sort_unstable();
        let phase = Phase {
            name: name.to_owned(),
            pace,
            summary: summary.clone(),
            lag_p99_ms: percentile_ms(&lags, 0.99),
            lag,
            catch_up_ms: catch_up.map(|d| d.as_millis() as u64),
            wal,
            cpu,
        };
        println!(
            "  {:.0} ops/s, {:.0} rows/s, p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, errors {}, lag p99 {:.0} ms",
            summary.ops_per_s,
            summary.items_per_s,
            summary.p50_ms,
            summary.p99_ms,
            summary.p999_ms,
            summary.errors,
            phase.lag_p99_ms
        );
        for side in &phase.cpu {
            println!("  {}", cpu_line(side, &summary));
        }
        for example in &summary.error_examples {
            println!("  error: {example}");
        }
        if let Some(wal) = &phase.wal
            && summary.items > 0
        {
            println!(
                "  WAL per row billed: {:.2} records, {:.0} bytes, {:.2} full-page images",
                wal.records as f64 / summary.items as f64,
                wal.bytes as f64 / summary.items as f64,
                wal.images as f64 / summary.items as f64
            );
        }
        self.phases.push(phase);
        summary
    }
}

/// One side's CPU over a phase, per billed request when the phase bills, and per operation.
fn cpu_line(side: &SideCpu, summary: &Summary) -> String {
    let postgres = side
        .postgres_ms
        .map_or("PostgreSQL not measured".to_owned(), |ms| {
            format!("PostgreSQL {ms:.0} ms")
        });
    let billed = side.per(summary.items).map_or(String::new(), |ms| {
        format!(", {ms:.3} ms per billed request")
    });
    let operation = side
        .per(summary.operations)
        .map_or(String::new(), |ms| format!(", {ms:.3} ms per operation"));
    format!(
        "{} CPU: ledgerd {:.0} ms + {postgres}{billed}{operation}",
        side.side, side.ledgerd_ms
    )
}

/// Writes `results.json`, `timeline.svg` and `report.md` into a new results folder, and the
/// report into the generated section of the benchmarks document.
fn write(results: &Results, started_at: &chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let folder_name = started_at.format("%Y-%m-%dT%H-%M-%SZ").to_string();
    let folder = results.options.results_dir.join(&folder_name);
    std::fs::create_dir_all(&folder)?;
    std::fs::write(
        folder.join("results.json"),
        serde_json::to_string_pretty(results)?,
    )?;
    std::fs::write(folder.join("timeline.svg"), plot::timeline(results))?;
    let markdown = report::markdown(results, &format!("../bench/results/{folder_name}"));
    std::fs::write(folder.join("report.md"), &markdown)?;
    println!("\n{markdown}");
    println!("results in {}", folder.display());
    report::rewrite_generated_section(&results.options.report, &markdown)?;
    println!(
        "report section rewritten in {}",
        results.options.report.display()
    );
    Ok(())
}

/// The load averages, as `/proc/loadavg` gives them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// `text` with the password of a `scheme://user:password@host…` URL replaced by `***`: results
/// and reports are committed, and a database URL given on the command line may carry one.
fn without_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return text.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => text.to_owned(),
    }
}

fn serialize_without_password<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    url.as_deref().map(without_password).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_url_keeps_everything_but_its_password() {
        assert_eq!(
            without_password("postgres://ledger:s3cret@127.0.0.1:5432/ledger_read"),
            "postgres://ledger:***@127.0.0.1:5432/ledger_read"
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(without_password("--seconds"), "--seconds");
    }
}
