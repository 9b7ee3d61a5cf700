//! The `ledgerd` server: migrate, serve gRPC, shut down cleanly.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ledger_eventstore::{Appender, AppenderConfig};
use ledger_projections::{ProjectionRuntime, RuntimeConfig};

use crate::metrics::{self, Metrics};
use crate::metrics_sources::{GaugeInputs, ledger_gauges};
use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::app::{App, expiry};
use crate::auth::Credentials;
use crate::config::{Command, Config, CredentialsCommand};
use crate::credentials;
use crate::database::Database;
use crate::pb;
use crate::secrets::KeyHasher;
use crate::services::{
    Shared, activity::Activity, audit::Audit, credits::CreditsApi, gateway::Gateway, keys::Keys,
    organizations::Organizations, settings::Settings, support::Support, users::Users,
};

/// Runs `ledgerd` as configured until it is told to stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if let Some(Command::Credentials(command)) = &config.command {
        return manage_credentials(&config.credentials_path(), command);
    }
    let database = Database::open(&config).await?;
    let outcome = match config.command.clone().unwrap_or(Command::Serve) {
        Command::Migrate => migrate(&database).await,
        Command::Serve => match prepare_schema(&config, &database).await {
            Ok(()) => serve(&config, database.pool.clone(), shutdown_signal()).await,
            Err(error) => Err(error),
        },
        Command::Credentials(_) => Ok(()),
    };
    database.close().await?;
    outcome
}

/// `ledgerd credentials …`: changes the file (tokens go to stdout, once; the rest is logged).
fn manage_credentials(path: &Path, command: &CredentialsCommand) -> anyhow::Result<()> {
    match command {
        CredentialsCommand::Add {
            kind,
            name,
            staff_id,
        } => {
            let token = credentials::add(path, *kind, name, *staff_id)?;
            tracing::info!(path = %path.display(), %name, "credential added");
            println!("{token}");
        }
        CredentialsCommand::Rotate { name } => {
            let token = credentials::rotate(path, name)?;
            tracing::info!(path = %path.display(), %name, "credential rotated");
            println!("{token}");
        }
        CredentialsCommand::Remove { name } => {
            credentials::remove(path, name)?;
            tracing::info!(path = %path.display(), %name, "credential removed");
        }
        CredentialsCommand::List { json } => {
            let list = credentials::read(path)?;
            if *json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|c| serde_json::json!({"name": c.name, "kind": c.kind, "staff_id": c.staff_id}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<32} {:<10} STAFF", "NAME", "KIND");
                for c in &list {
                    let staff = c.staff_id.map(|s| s.to_string()).unwrap_or_default();
                    println!("{:<32} {:<10} {staff}", c.name, c.kind.name());
                }
            }
        }
    }
    Ok(())
}

async fn migrate(database: &Database) -> anyhow::Result<()> {
    ledger_eventstore::migrate(&database.pool).await?;
    tracing::info!("database migrations applied");
    Ok(())
}

/// Brings the schema up to date before serving, or with `--no-migrate` only checks that it is:
/// a run-time role without DDL rights cannot migrate, and must not serve an older schema.
async fn prepare_schema(config: &Config, database: &Database) -> anyhow::Result<()> {
    if !config.no_migrate {
        return migrate(database).await;
    }
    let pending = ledger_eventstore::pending_migrations(&database.pool).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "--no-migrate: the database lacks migrations {pending:?}; run `ledgerd migrate` as the \
         schema's owner first"
    );
    tracing::info!("schema up to date; migrations left to the owner (--no-migrate)");
    Ok(())
}

/// Serves gRPC on the configured address until `shutdown` completes, finishing in-flight calls.
pub async fn serve(
    config: &Config,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let tls = tls_config(config)?;
    let credentials = Arc::new(Credentials::load(Some(config.credentials_path()))?);
    let hasher = KeyHasher::load_or_create(&config.key_hash_secret_path())?;
    hasher.check_database(&pool).await?;
    let (appender, writer) = Appender::spawn(pool.clone(), AppenderConfig::default());
    let app = App::start(pool.clone(), appender, hasher).await?;
    let (stop_expiry, stop_rx) = tokio::sync::watch::channel(false);
    // The read models: one runner per projection (active where it holds the projection's
    // lock), stopped by the same signal as the expiry task.
    let projection_config = RuntimeConfig {
        gather: Duration::from_millis(config.projection_gather_ms),
        ..RuntimeConfig::default()
    };
    let projections = ProjectionRuntime::spawn(pool.clone(), projection_config, stop_rx.clone());
    let metrics = Metrics::default();
    let metrics_task = match config.metrics_listen {
        Some(address) => {
            let listener = TcpListener::bind(address).await?;
            tracing::info!(address = %listener.local_addr()?, "metrics on /metrics");
            let source = ledger_gauges(GaugeInputs {
                appender: app.appender.clone(),
                projections: projections.metrics_handle(),
                pool,
                credentials: Arc::clone(&credentials),
            });
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(metrics::serve(
                listener,
                metrics.clone(),
                source,
                async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                },
            )))
        }
        None => None,
    };
    let expiry_task = tokio::spawn(expiry::run(
        Arc::clone(&app),
        Duration::from_secs(config.hold_expiry_interval_s.max(1)),
        stop_rx,
    ));

    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let shared = Shared {
        app: Arc::clone(&app),
        auth: credentials,
    };
    let max = config.max_request_bytes;
    macro_rules! service {
        ($server:path, $imp:expr) => {{
            use $server as s;
            s::new($imp).max_decoding_message_size(max)
        }};
    }
    tracing::info!(%address, tls = tls.is_some(), "ledgerd serving gRPC");
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    builder
        .layer(metrics.layer())
        .timeout(Duration::from_millis(config.request_timeout_ms.max(1)))
        .concurrency_limit_per_connection(config.concurrency_per_connection.max(1))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(service!(
            pb::users_service_server::UsersServiceServer,
            Users(shared.clone())
        ))
        .add_service(service!(
            pb::organizations_service_server::OrganizationsServiceServer,
            Organizations(shared.clone())
        ))
        .add_service(service!(
            pb::credits_service_server::CreditsServiceServer,
            CreditsApi(shared.clone())
        ))
        .add_service(service!(
            pb::keys_service_server::KeysServiceServer,
            Keys(shared.clone())
        ))
        .add_service(service!(
            pb::gateway_service_server::GatewayServiceServer,
            Gateway::new(shared.clone(), config.bill_in_flight)
        ))
        .add_service(service!(
            pb::activity_service_server::ActivityServiceServer,
            Activity(shared.clone())
        ))
        .add_service(service!(
            pb::settings_service_server::SettingsServiceServer,
            Settings(shared.clone())
        ))
        .add_service(service!(
            pb::support_service_server::SupportServiceServer,
            Support(shared.clone())
        ))
        .add_service(service!(
            pb::audit_service_server::AuditServiceServer,
            Audit(shared)
        ))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await?;
    tracing::info!("ledgerd stopped serving; finishing background work");
    let _ = stop_expiry.send(true);
    let _ = expiry_task.await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    // Each runner finishes (or rolls back) its batch; a batch is one transaction, so stopping
    // mid-way loses nothing. Joined before the database (possibly embedded) is stopped.
    if tokio::time::timeout(Duration::from_secs(10), projections.join())
        .await
        .is_err()
    {
        tracing::warn!("the projections did not stop in time");
    }
    // In-flight commands have finished; dropping the last handles lets the writer drain.
    drop(app);
    if tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .is_err()
    {
        tracing::warn!("the appender did not stop in time");
    }
    tracing::info!("ledgerd stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C stops ledgerd");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// The server's TLS settings from `--tls-cert` and `--tls-key` (clap requires both or neither).
fn tls_config(config: &Config) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    };
    let identity = Identity::from_pem(read(cert)?, read(key)?);
    Ok(Some(ServerTlsConfig::new().identity(identity)))
}
