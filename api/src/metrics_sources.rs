//! What `/metrics` samples besides the RPCs: the appender's group commit and the projections'
//! progress in this process and lag against the log.

use std::pin::Pin;
use std::sync::Arc;

use ledger_eventstore::Appender;
use ledger_projections::{ReadModelPool, RuntimeMetrics};
use sqlx::PgPool;

use crate::auth::Credentials;
use crate::metrics::{Gauge, GaugeSource};

/// What the ledger's own gauges are read from.
#[derive(Clone)]
pub struct GaugeInputs {
    /// The group-commit writer.
    pub appender: Appender,
    /// The projection runners of this process.
    pub projections: RuntimeMetrics,
    /// The log's database, for the head projection lag is measured against.
    pub pool: PgPool,
    /// The read models' database, for the checkpoints.
    pub read_models: ReadModelPool,
    /// The credentials in force.
    pub credentials: Arc<Credentials>,
}

/// A source of the ledger's own gauges, sampled at each scrape.
pub fn ledger_gauges(inputs: GaugeInputs) -> GaugeSource {
    Box::new(move || {
        let inputs = inputs.clone();
        Box::pin(async move {
            let mut gauges = sample(&inputs).await;
            gauges.extend(credential_gauges(&inputs.credentials));
            gauges
        }) as Pin<Box<dyn Future<Output = Vec<Gauge>> + Send>>
    })
}

fn gauge(name: &'static str, help: &'static str, value: f64) -> Gauge {
    Gauge {
        name,
        help,
        counter: false,
        samples: vec![(Vec::new(), value)],
    }
}

/// A credentials file edited into something that does not parse leaves the last good list in
/// force; these make that visible to alerting.
fn credential_gauges(credentials: &Credentials) -> [Gauge; 3] {
    let health = credentials.health();
    [
        gauge(
            "ledger_credentials_file_valid",
            "1 if the credentials file parsed when last read; 0 while an unparsable edit leaves \
             the last good list in force.",
            f64::from(u8::from(health.file_valid)),
        ),
        counter(
            "ledger_credentials_reload_failures_total",
            "Reloads of the credentials file that failed to parse.",
            health.failed_reloads,
        ),
        gauge(
            "ledger_credentials_in_force",
            "Credentials this process accepts.",
            health.in_force as f64,
        ),
    ]
}

fn counter(name: &'static str, help: &'static str, value: u64) -> Gauge {
    Gauge {
        name,
        help,
        counter: true,
        samples: vec![(Vec::new(), value as f64)],
    }
}

async fn sample(inputs: &GaugeInputs) -> Vec<Gauge> {
    let (appender, projections) = (&inputs.appender, &inputs.projections);
    let stats = appender.stats();
    let mut gauges = vec![
        counter(
            "ledger_append_transactions_total",
            "Append transactions (one per group-commit batch).",
            stats.transactions,
        ),
        counter(
            "ledger_appends_total",
            "Commands handed to the appender; divided by transactions, the batch size.",
            stats.appends,
        ),
        counter(
            "ledger_appended_events_total",
            "Events written.",
            stats.events,
        ),
        counter(
            "ledger_append_failed_transactions_total",
            "Append transactions that failed as a whole.",
            stats.failed_transactions,
        ),
        counter(
            "ledger_append_requests_total",
            "Append requests handed to the appender: a command alone, or a batch's commands on \
             one account as one group.",
            stats.requests,
        ),
    ];
    let runners = projections.snapshot();
    let per_projection =
        |name, help, counter: bool, value: &dyn Fn(&ledger_projections::MetricsSnapshot) -> f64| {
            Gauge {
                name,
                help,
                counter,
                samples: runners
                    .iter()
                    .map(|m| {
                        (
                            vec![("projection", m.projection.name().to_owned())],
                            value(m),
                        )
                    })
                    .collect(),
            }
        };
    gauges.push(per_projection(
        "ledger_projection_events_applied_total",
        "Events applied by this process.",
        true,
        &|m| m.events_applied as f64,
    ));
    gauges.push(per_projection(
        "ledger_projection_errors_total",
        "Failed projection batches and lost locks in this process.",
        true,
        &|m| m.errors as f64,
    ));
    gauges.push(per_projection(
        "ledger_projection_active",
        "1 where this process is the projection's active runner.",
        false,
        &|m| f64::from(u8::from(m.active)),
    ));
    gauges.push(per_projection(
        "ledger_projection_last_batch_seconds",
        "Duration of the last batch this process committed.",
        false,
        &|m| m.last_batch.as_secs_f64(),
    ));
    // Lag is the database's view, the same whichever process runs the projection.
    match ledger_projections::statuses(&inputs.pool, &inputs.read_models).await {
        Ok(statuses) => {
            let lag =
                |name, help, value: &dyn Fn(&ledger_projections::ProjectionStatus) -> i64| Gauge {
                    name,
                    help,
                    counter: false,
                    samples: statuses
                        .iter()
                        .map(|s| {
                            (
                                vec![("projection", s.projection.name().to_owned())],
                                value(s) as f64,
                            )
                        })
                        .collect(),
                };
            gauges.push(lag(
                "ledger_projection_position",
                "The projection's checkpoint.",
                &|s| s.position,
            ));
            gauges.push(lag(
                "ledger_projection_lag_events",
                "Events in the log not yet applied.",
                &|s| s.lag_events,
            ));
            gauges.push(lag(
                "ledger_projection_lag_ms",
                "Age of the oldest event not yet applied.",
                &|s| s.lag_ms,
            ));
        }
        Err(error) => tracing::warn!(%error, "projection status unavailable for /metrics"),
    }
    gauges
}
