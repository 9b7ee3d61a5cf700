//! The runner of one projection: take the projection's session advisory lock on a dedicated
//! connection (retrying every `lock_retry` while another process holds it), catch up in
//! bounded batches, then wait for a NOTIFY hint or the polling interval, and repeat. Losing
//! the lock connection stops applying at once; the runner goes back to waiting for the lock.

use std::sync::Arc;
use std::time::Instant;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;

use crate::checkpoint::step_with;
use crate::error::Result;
use crate::metrics::ProjectionMetrics;
use crate::pools::ReadModelPool;
use crate::projection::Projection;
use crate::recent::RecentEvents;
use crate::runtime::RuntimeConfig;

/// Everything one runner task needs.
pub(crate) struct Runner {
    /// The log the events are read from.
    pub(crate) log: PgPool,
    /// Where the rows, the checkpoint and the projection's lock are.
    pub(crate) read_models: ReadModelPool,
    pub(crate) projection: Projection,
    pub(crate) config: RuntimeConfig,
    pub(crate) metrics: Arc<ProjectionMetrics>,
    /// The events this process's runners share once read; `None`: read the log alone.
    pub(crate) recent: Option<Arc<RecentEvents>>,
    pub(crate) wake: watch::Receiver<i64>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Opens a connection outside the pool and tries to take the session advisory lock `key` on
/// it; `None` if another session holds it. The lock lives exactly as long as the connection.
pub async fn try_advisory_lock(pool: &PgPool, key: i64) -> Result<Option<PgConnection>> {
    let options = pool.connect_options();
    let mut conn = PgConnection::connect_with(&options).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    if locked {
        Ok(Some(conn))
    } else {
        conn.close().await?;
        Ok(None)
    }
}

impl Runner {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps `duration` or until shutdown.
    async fn pause(&mut self, duration: std::time::Duration) {
        let shutdown = &mut self.shutdown;
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = shutdown.changed() => {}
        }
    }

    pub(crate) async fn run(mut self) {
        let key = self.projection.runner_lock_key();
        while !self.stopping() {
            let lock = match try_advisory_lock(self.read_models.pool(), key).await {
                Ok(Some(conn)) => conn,
                Ok(None) => {
                    self.pause(self.config.lock_retry).await;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(projection = %self.projection, %error, "cannot try the projection lock");
                    self.pause(self.config.lock_retry).await;
                    continue;
                }
            };
            tracing::info!(projection = %self.projection, "projection runner active");
            self.metrics.set_active(true);
            let outcome = self.drive(lock).await;
            self.metrics.set_active(false);
            match outcome {
                Ok(()) => return,
                Err(error) => {
                    self.metrics.error();
                    tracing::warn!(projection = %self.projection, %error, "projection runner stopped; retrying");
                    self.pause(self.config.error_backoff).await;
                }
            }
        }
    }

    /// Applies batches while holding the lock; returns `Ok` on shutdown (releasing the lock),
    /// `Err` on any failure (the lock connection is dropped, releasing the lock).
    async fn drive(&mut self, mut lock: PgConnection) -> Result<()> {
        let batch = self.config.batch_size.clamp(1, 10_000);
        loop {
            loop {
                if self.stopping() {
                    lock.close().await?;
                    return Ok(());
                }
                let started = Instant::now();
                let outcome = step_with(
                    &self.log,
                    &self.read_models,
                    self.projection,
                    batch,
                    self.recent.as_deref(),
                )
                .await?;
                if outcome.events > 0 {
                    self.metrics
                        .batch(outcome.events, outcome.to, started.elapsed());
                }
                if (outcome.events as i64) < batch {
                    break;
                }
            }
            let (wake, shutdown) = (&mut self.wake, &mut self.shutdown);
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        // No listener any more: polling alone drives the runner.
                        tokio::time::sleep(self.config.poll_interval).await;
                    }
                }
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
            if !self.config.gather.is_zero() {
                self.pause(self.config.gather).await;
            }
            // The lock is only ours while its connection lives: check before applying more.
            sqlx::query("SELECT 1").execute(&mut lock).await?;
        }
    }
}
