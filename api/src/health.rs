//! The standard gRPC health service, per service: `""` (the whole server) and each
//! `arouter.ledger.v1.*` service answer SERVING only while `ledgerd` is started, its database
//! answers, it is not draining after SIGTERM and, on a replica (`--read-only`), the standby's
//! replay lag is within `--max-replay-lag-ms`. NOT_SERVING otherwise.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{Mutex, watch};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health as HealthApi, HealthServer};
use tonic_health::server::HealthReporter;

use crate::pb;

/// The services whose health is reported, beside the server as a whole (`""`).
pub const SERVICES: [&str; 10] = [
    pb::users_service_server::SERVICE_NAME,
    pb::organizations_service_server::SERVICE_NAME,
    pb::credits_service_server::SERVICE_NAME,
    pb::keys_service_server::SERVICE_NAME,
    pb::gateway_service_server::SERVICE_NAME,
    pb::activity_service_server::SERVICE_NAME,
    pb::settings_service_server::SERVICE_NAME,
    pb::support_service_server::SERVICE_NAME,
    pb::audit_service_server::SERVICE_NAME,
    pb::notifications_service_server::SERVICE_NAME,
];

/// How often the database is probed while serving.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How long one probe (connect or `SELECT 1`) may take before the database counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct State {
    /// Start-up (schema, key index) has finished.
    started: bool,
    /// The last probe reached the database.
    database_up: bool,
    /// SIGTERM was received: the server is finishing its in-flight calls.
    draining: bool,
    /// The standby's replay lag is within bounds (always, off a replica).
    replay_in_bounds: bool,
}

impl State {
    fn status(self) -> ServingStatus {
        if self.started && self.database_up && !self.draining && self.replay_in_bounds {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    }
}

/// What the health service reports, and why.
pub struct Health {
    reporter: HealthReporter,
    /// Held while the statuses are published, so two changes cannot publish out of order.
    state: Mutex<State>,
}

impl Health {
    /// The health state (NOT_SERVING everywhere until [`Health::started`]) and its gRPC service.
    pub async fn new() -> (Arc<Health>, HealthServer<impl HealthApi>) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Arc::new(Health {
            reporter,
            state: Mutex::new(State {
                started: false,
                database_up: true,
                draining: false,
                replay_in_bounds: true,
            }),
        });
        health.publish(ServingStatus::NotServing).await;
        (health, service)
    }

    /// Start-up finished: SERVING while the database answers.
    pub async fn started(&self) {
        self.change(|state| state.started = true).await;
    }

    /// The latest probe's outcome.
    pub async fn database(&self, up: bool) {
        self.change(|state| state.database_up = up).await;
    }

    /// The latest replay-lag probe's outcome (see [`watch_replay_lag`]).
    pub async fn replay(&self, in_bounds: bool) {
        self.change(|state| state.replay_in_bounds = in_bounds)
            .await;
    }

    /// SIGTERM: NOT_SERVING from now on. `Watch` streams get the NOT_SERVING and then end, so
    /// a client watching health does not hold the drain open; `Check` keeps answering.
    pub async fn drain(&self) {
        let mut state = self.state.lock().await;
        state.draining = true;
        self.set_all(ServingStatus::NotServing).await;
        let mut reporter = self.reporter.clone();
        for name in std::iter::once("").chain(SERVICES) {
            // Dropping a status's channel ends the streams watching it (after they have seen
            // its last value); a fresh one answers `Check` during the drain.
            reporter.clear_service_status(name).await;
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }

    async fn change(&self, apply: impl FnOnce(&mut State)) {
        let mut state = self.state.lock().await;
        let before = state.status();
        apply(&mut state);
        let after = state.status();
        if before != after {
            tracing::info!(status = ?after, state = ?*state, "health changed");
            self.set_all(after).await;
        }
    }

    async fn publish(&self, status: ServingStatus) {
        let _state = self.state.lock().await;
        self.set_all(status).await;
    }

    async fn set_all(&self, status: ServingStatus) {
        for name in std::iter::once("").chain(SERVICES) {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

/// Probes the database every [`PROBE_INTERVAL`] on a connection of its own (so a busy pool
/// does not read as an outage) and reports each change to `health`, until `stop` turns true.
pub async fn watch_database(
    health: Arc<Health>,
    options: PgConnectOptions,
    mut stop: watch::Receiver<bool>,
) {
    let options = options.application_name("ledgerd-health");
    let mut connection: Option<PgConnection> = None;
    loop {
        let up = probe(&options, &mut connection).await;
        health.database(up).await;
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
    }
    if let Some(connection) = connection {
        let _ = connection.close().await;
    }
}

/// The standby's replay lag in milliseconds: 0 when it has replayed all the WAL it received
/// (or is no standby), else the age of the last transaction it replayed. A standby cut off
/// from its primary has nothing left to replay and reads 0: the database probe and the
/// primary's own monitoring (`pg_stat_replication`) cover that case.
const REPLAY_LAG_MS: &str = "SELECT CASE \
     WHEN NOT pg_is_in_recovery() THEN 0 \
     WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 \
     ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) \
          * 1000, 0) END::float8";

/// Probes the standby's replay lag every [`PROBE_INTERVAL`] on a connection of its own and
/// reports to `health` whether it is within `max_lag` (out of it after two probes in a row over
/// it), until `stop` turns true. A probe that
/// fails says nothing here (the database probe reports an unreachable database).
pub async fn watch_replay_lag(
    health: Arc<Health>,
    options: PgConnectOptions,
    max_lag: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let options = options.application_name("ledgerd-replay-lag");
    let mut connection: Option<PgConnection> = None;
    // Probes in a row that found the lag over the bound. One alone is not trusted: after an
    // idle spell the first WAL to arrive reads as old (its predecessor's commit time) until
    // it is replayed, a few milliseconds later.
    let mut over = 0_u32;
    loop {
        if let Some(lag_ms) = replay_lag_ms(&options, &mut connection).await {
            if lag_ms <= max_lag.as_millis() as f64 {
                over = 0;
            } else {
                over = over.saturating_add(1);
                tracing::debug!(lag_ms, "the standby's replay lags");
            }
            health.replay(over < 2).await;
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
    }
    if let Some(connection) = connection {
        let _ = connection.close().await;
    }
}

/// One replay-lag probe on the kept connection (connecting first if there is none).
async fn replay_lag_ms(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
) -> Option<f64> {
    let attempt = async {
        if connection.is_none() {
            *connection = Some(options.connect().await?);
        }
        match connection.as_mut() {
            Some(conn) => sqlx::query_scalar::<_, f64>(REPLAY_LAG_MS)
                .fetch_one(conn)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(lag)) => lag,
        Ok(Err(error)) => {
            tracing::debug!(%error, "replay lag probe failed");
            *connection = None;
            None
        }
        Err(_) => {
            *connection = None;
            None
        }
    }
}

/// One probe: `SELECT 1` on the kept connection, connecting first if there is none. A failed
/// probe drops the connection.
async fn probe(options: &PgConnectOptions, connection: &mut Option<PgConnection>) -> bool {
    let attempt = async {
        if connection.is_none() {
            *connection = Some(options.connect().await?);
        }
        match connection.as_mut() {
            Some(conn) => conn.ping().await,
            None => Ok(()),
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::debug!(%error, "database probe failed");
            *connection = None;
            false
        }
        Err(_) => {
            tracing::debug!("database probe timed out");
            *connection = None;
            false
        }
    }
}
