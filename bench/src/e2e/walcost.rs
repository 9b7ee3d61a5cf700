//! `ledger-bench wal`: what one billed request writes to the WAL, by relation and record type,
//! for each form the gateway bills in, against a real ledgerd (projections caught up included).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::driver::Pace;
use super::suite::{self, PhaseRunner, SuiteOptions};
use crate::database::BenchDatabase;

/// How to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct WalOptions {
    /// Organizations the requests bill.
    #[arg(long, default_value_t = 1000)]
    pub organizations: usize,
    /// API keys per organization.
    #[arg(long, default_value_t = 2)]
    pub keys_per_org: usize,
    /// Concurrent callers.
    #[arg(long, default_value_t = 64)]
    pub callers: usize,
    /// The forms measured, each for the run's `--seconds`: gateway (AuthenticateKey →
    /// PlaceHold → SettleHold), gateway-stream (AuthorizeAndHold → SettleHold on a `Bill`
    /// stream), hot (gateway on one organization), batched (RecordUsageBatch, per row).
    #[arg(long, value_delimiter = ',', default_values_t = ["gateway".to_owned(), "gateway-stream".to_owned()])]
    pub forms: Vec<String>,
}

/// Runs each form closed-loop on `database`, waits for the projections, and prints the WAL
/// each billed request cost.
pub async fn run(
    database: &BenchDatabase,
    duration: Duration,
    options: WalOptions,
) -> anyhow::Result<()> {
    let suite_options = SuiteOptions {
        organizations: options.organizations,
        keys_per_org: options.keys_per_org,
        hot_keys: 10,
        callers: options.callers,
        batch_callers: 8,
        read_rate: 0.0,
        replicas: 1,
        memory_minutes: 0,
        db_max_connections: None,
        read_replica: false,
        read_models_database_url: None,
        only: options.forms.clone(),
        results_dir: PathBuf::new(),
        report: PathBuf::new(),
    };
    let cluster = Arc::new(suite::start_cluster(database, None, &suite_options).await?);
    let (workloads, _) = suite::populate_workloads(&cluster, &suite_options).await?;
    let auditor = cluster.clients("auditor", None, 0);
    let closed = Pace::Closed {
        callers: options.callers,
    };
    suite::warm_up(&workloads, closed, &auditor).await;
    let mut phases = Vec::new();
    let mut runner = PhaseRunner {
        auditor: &auditor,
        database_url: Some(&database.url),
        phases: &mut phases,
        duration,
        sides: &[],
    };
    for form in &options.forms {
        let w = workloads.clone();
        let summary = match form.as_str() {
            "gateway" => {
                runner
                    .phase(form, closed, move |n| w.clone().gateway_request(n))
                    .await
            }
            "gateway-stream" => {
                runner
                    .phase(form, closed, move |n| w.clone().gateway_stream_request(n))
                    .await
            }
            "hot" => {
                runner
                    .phase(form, closed, move |n| w.clone().hot_request(n))
                    .await
            }
            "batched" => {
                let pace = Pace::Closed { callers: 8 };
                runner
                    .phase(form, pace, move |n| w.clone().usage_batch(n))
                    .await
            }
            other => anyhow::bail!("no form {other}: gateway, gateway-stream, hot or batched"),
        };
        anyhow::ensure!(summary.items > 0, "{form}: nothing was billed");
    }
    drop(workloads);
    drop(auditor);
    if let Ok(cluster) = std::sync::Arc::try_unwrap(cluster) {
        cluster.terminate();
    }
    for phase in &phases {
        let Some(wal) = &phase.wal else {
            anyhow::bail!("{}: the WAL could not be read", phase.name);
        };
        println!(
            "\n### {}: {} rows billed in {:.0} s (catch-up {})\n",
            phase.name,
            phase.summary.items,
            phase.summary.seconds,
            phase
                .catch_up_ms
                .map_or("not within a minute".to_owned(), |ms| format!("{ms} ms"))
        );
        println!("{}", wal.table(phase.summary.items, "per row billed"));
    }
    Ok(())
}
