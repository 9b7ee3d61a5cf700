//! Start-up of every projection runner in a process, the shared LISTEN task, the periodic
//! prune, and the metrics of this process.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::{MetricsSnapshot, ProjectionMetrics};
use crate::pools::ReadModelPool;
use crate::projection::Projection;
use crate::recent::{DEFAULT_RECENT_EVENTS, RecentEvents};
use crate::runner::{Runner, try_advisory_lock};

/// Bounds and timings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Most events per batch (one transaction); at most 10,000.
    pub batch_size: i64,
    /// How often a runner looks for new events without a notification (the safety net).
    pub poll_interval: Duration,
    /// How long a runner lets events gather after a notification before applying them: each
    /// projection transaction then carries this long's appends instead of one group commit's,
    /// at the price of this much more projection lag.
    pub gather: Duration,
    /// How often a standby process tries to take a projection's lock.
    pub lock_retry: Duration,
    /// Pause after a failed batch before retrying.
    pub error_backoff: Duration,
    /// The projections this process runs.
    pub projections: Vec<Projection>,
    /// How often to prune the activity feed and hourly rollups; `None`: never.
    pub prune_interval: Option<Duration>,
    /// How many of the newest events the runners of this process share once read and decoded
    /// (0: each runner reads the log itself).
    pub recent_events: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            batch_size: 5_000,
            poll_interval: Duration::from_millis(500),
            gather: Duration::from_millis(20),
            lock_retry: Duration::from_secs(1),
            error_backoff: Duration::from_secs(1),
            projections: Projection::ALL.to_vec(),
            prune_interval: Some(Duration::from_secs(3_600)),
            recent_events: DEFAULT_RECENT_EVENTS,
        }
    }
}

/// The counters of every runner of a [`ProjectionRuntime`], cheap to clone.
#[derive(Clone, Default)]
pub struct RuntimeMetrics(Vec<Arc<ProjectionMetrics>>);

impl RuntimeMetrics {
    /// The counters now.
    pub fn snapshot(&self) -> Vec<MetricsSnapshot> {
        self.0.iter().map(|m| m.snapshot()).collect()
    }
}

/// The running projections of this process.
pub struct ProjectionRuntime {
    tasks: Vec<JoinHandle<()>>,
    metrics: Vec<Arc<ProjectionMetrics>>,
    heads: watch::Receiver<i64>,
}

impl ProjectionRuntime {
    /// Starts one runner per configured projection (each becomes active only if it gets the
    /// projection's lock), one LISTEN task and the prune task. The runners read the log
    /// through `log` (where they LISTEN for its commits too) and write rows, checkpoints and
    /// the prune in `read_models`, where their locks are. Setting `shutdown` to `true` stops
    /// them all; [`ProjectionRuntime::join`] waits for that.
    pub fn spawn(
        log: PgPool,
        read_models: ReadModelPool,
        config: RuntimeConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let (wake_tx, wake_rx) = watch::channel(0_i64);
        let mut tasks = vec![tokio::spawn(listen(log.clone(), wake_tx, shutdown.clone()))];
        let mut metrics = Vec::new();
        let recent =
            (config.recent_events > 0).then(|| Arc::new(RecentEvents::new(config.recent_events)));
        for projection in config.projections.iter().copied() {
            let counters = Arc::new(ProjectionMetrics::new(projection));
            metrics.push(Arc::clone(&counters));
            let runner = Runner {
                log: log.clone(),
                read_models: read_models.clone(),
                projection,
                config: config.clone(),
                metrics: counters,
                recent: recent.clone(),
                wake: wake_rx.clone(),
                shutdown: shutdown.clone(),
            };
            tasks.push(tokio::spawn(runner.run()));
        }
        if let Some(every) = config.prune_interval {
            tasks.push(tokio::spawn(prune_periodically(
                read_models,
                every,
                shutdown,
            )));
        }
        ProjectionRuntime {
            tasks,
            metrics,
            heads: wake_rx,
        }
    }

    /// The head positions the LISTEN task hears of (every process's commits): a hint for
    /// other tailing readers (the notifications stream), which must poll as well.
    pub fn heads(&self) -> watch::Receiver<i64> {
        self.heads.clone()
    }

    /// The counters and gauges of every projection in this process.
    pub fn metrics(&self) -> Vec<MetricsSnapshot> {
        self.metrics.iter().map(|m| m.snapshot()).collect()
    }

    /// A handle to the same counters that outlives borrowing the runtime (for a metrics
    /// endpoint that keeps serving while the runtime is joined).
    pub fn metrics_handle(&self) -> RuntimeMetrics {
        RuntimeMetrics(self.metrics.clone())
    }

    /// Stops every task at once, as a crash would (locks are released when their connections
    /// drop). For tests and emergency stops; prefer the shutdown signal.
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Waits for every task to end (after shutdown or [`ProjectionRuntime::abort`]).
    pub async fn join(self) {
        for task in self.tasks {
            // A task aborted or panicked has nothing more to report.
            let _ = task.await;
        }
    }
}

/// Forwards NOTIFY payloads (the new head position) to the runners. A hint only: runners
/// also poll, so a lost notification or a dead listener delays nothing beyond the interval.
async fn listen(pool: PgPool, wake: watch::Sender<i64>, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot LISTEN; polling only for now");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(ledger_eventstore::NOTIFY_CHANNEL).await {
            tracing::warn!(%error, "cannot LISTEN; polling only for now");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            tokio::select! {
                notification = listener.recv() => match notification {
                    Ok(n) => {
                        let position = n.payload().parse().unwrap_or(0);
                        wake.send_replace(position);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                        break;
                    }
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Key of the advisory lock that keeps the prune to one process at a time.
const PRUNE_LOCK_KEY: i64 = 0x4c45_4447_2000;

async fn prune_periodically(
    read_models: ReadModelPool,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let pool = read_models.pool();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let lock = match try_advisory_lock(pool, PRUNE_LOCK_KEY).await {
            Ok(Some(lock)) => lock,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, "cannot take the prune lock");
                continue;
            }
        };
        match crate::models::activity::prune(pool, chrono::Utc::now()).await {
            Ok(rows) => tracing::info!(rows, "activity feed pruned"),
            Err(error) => tracing::warn!(%error, "activity prune failed; next time"),
        }
        drop(lock);
    }
}
