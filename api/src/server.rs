//! The `ledgerd` server: migrate, serve gRPC, shut down cleanly.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ledger_eventstore::{Appender, AppenderConfig};
use ledger_projections::{ProjectionRuntime, ReadModelPool, RuntimeConfig};

use crate::metrics::{self, Metrics};
use crate::metrics_sources::{GaugeInputs, ledger_gauges};
use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::pb::health_server::{Health as HealthApi, HealthServer};

use crate::access::AccessLogLayer;
use crate::app::{App, expiry, follow};
use crate::auth::Credentials;
use crate::auth::assertion::AssertionCheck;
use crate::auth::layer::AuthLayer;
use crate::config::{Command, Config, CredentialsCommand};
use crate::credentials;
use crate::database::Database;
use crate::health::{self, Health};
use crate::pb;
use crate::secrets::KeyHasher;
use crate::services::{
    Shared, activity::Activity, audit::Audit, credits::CreditsApi, gateway::Gateway, keys::Keys,
    notifications::Notifications, organizations::Organizations, settings::Settings,
    support::Support, users::Users,
};
use crate::startup::{self, LateRoutes};

/// Runs `ledgerd` as configured until it is told to stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if let Some(Command::Credentials(command)) = &config.command {
        return manage_credentials(&config.credentials_path(), command);
    }
    let database = Database::open(&config).await?;
    let outcome = match config.command.clone().unwrap_or(Command::Serve) {
        Command::Migrate => {
            let (pool, read_models) = (&database.pool, &database.read_models);
            let apart = config.read_models_database_url.is_some();
            startup::retry("migrate", startup_timeout(&config), || async move {
                startup::reachable(pool).await?;
                migrate(pool).await?;
                if apart {
                    read_models_reachable(read_models).await?;
                    migrate(read_models.pool())
                        .await
                        .context(READ_MODELS_DATABASE)?;
                }
                Ok(())
            })
            .await
        }
        Command::Serve => {
            serve(
                &config,
                database.pool.clone(),
                database.read_models.clone(),
                shutdown_signal(),
            )
            .await
        }
        Command::Credentials(_) => Ok(()),
    };
    database.close().await?;
    outcome
}

fn startup_timeout(config: &Config) -> Duration {
    Duration::from_secs(config.startup_timeout_s)
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

async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    ledger_eventstore::migrate(pool).await?;
    tracing::info!("database migrations applied");
    Ok(())
}

/// Brings the schema up to date before serving, or with `--no-migrate` only checks that it is:
/// a run-time role without DDL rights cannot migrate, and must not serve an older schema.
/// A read-only ledgerd (`--read-only`) never migrates: its standby replays the primary's schema.
async fn prepare_schema(config: &Config, pool: &PgPool) -> anyhow::Result<()> {
    if !config.no_migrate && !config.read_only {
        return migrate(pool).await;
    }
    let pending = ledger_eventstore::pending_migrations(pool).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "--no-migrate or --read-only: the database lacks migrations {pending:?}; run `ledgerd \
         migrate` as the schema's owner (on the primary) first"
    );
    tracing::info!("schema up to date; migrations left to the owner (--no-migrate)");
    Ok(())
}

/// What start-up builds from the database: the application (with its key index), and the
/// group-commit writer's task or, read-only, where the follower starts (the head before the key
/// index was built).
type Started = (Arc<App>, Writer);

/// The writer of a primary's `ledgerd`, or the starting position of a replica's follower.
enum Writer {
    /// The group-commit writer's task.
    Primary(tokio::task::JoinHandle<()>),
    /// `--read-only`: the log position [`crate::app::follow`] follows from.
    Follower(i64),
}

/// What errors about the read models' own database say first.
const READ_MODELS_DATABASE: &str = "the read models' database (--read-models-database-url)";

/// [`startup::reachable`] for the read models' database, saying which database failed.
async fn read_models_reachable(read_models: &ReadModelPool) -> anyhow::Result<()> {
    startup::reachable(read_models.pool())
        .await
        .context(READ_MODELS_DATABASE)
}

/// Refuses read models whose checkpoints are past the log's head: they were folded from another
/// log (another ledger's, or this one's before it was restored from an older backup), and
/// applying this log's next events after them would mix the two. (A replica's standby may lag
/// the read models; only a process on the primary checks.)
async fn read_models_not_ahead(pool: &PgPool, read_models: &ReadModelPool) -> anyhow::Result<()> {
    let head = ledger_eventstore::head(pool).await?.position;
    let furthest = ledger_projections::furthest_checkpoint(read_models).await?;
    anyhow::ensure!(
        furthest <= head,
        "{READ_MODELS_DATABASE}: its read models are at position {furthest}, past the log's head          {head}, so they were not folded from this log; give --read-models-database-url an empty          database (the read models are folded again from the log)"
    );
    Ok(())
}

/// One start-up attempt: the schemas, the key-hash secret's fingerprint, the key index.
async fn start(
    config: &Config,
    pool: &PgPool,
    read_models: &ReadModelPool,
    hasher: &KeyHasher,
) -> anyhow::Result<Started> {
    startup::reachable(pool).await?;
    prepare_schema(config, pool).await?;
    if config.read_models_database_url.is_some() {
        read_models_reachable(read_models).await?;
        prepare_schema(config, read_models.pool())
            .await
            .context(READ_MODELS_DATABASE)?;
        if !config.read_only {
            read_models_not_ahead(pool, read_models).await?;
        }
    }
    hasher.check_database(pool, config.read_only).await?;
    let (appender, writer) = if config.read_only {
        let head = ledger_eventstore::head(pool).await?;
        (Appender::read_only(), Writer::Follower(head.position))
    } else {
        let (appender, task) = Appender::spawn(pool.clone(), AppenderConfig::default());
        (appender, Writer::Primary(task))
    };
    let check_timeout = Duration::from_millis(config.check_statement_timeout_ms);
    let app = App::start(
        pool.clone(),
        read_models.clone(),
        appender,
        hasher.clone(),
        check_timeout,
        config.key_rate(),
        config.read_only,
    )
    .await?;
    Ok((app, writer))
}

/// Serves gRPC on the configured address until `shutdown` completes, finishing in-flight calls.
///
/// The listener and the health service come up first; start-up ([`start`]) is retried while
/// the database is unreachable (`--startup-timeout-s`), with health NOT_SERVING and the
/// ledger's RPCs UNAVAILABLE meanwhile. On `shutdown` health turns NOT_SERVING before the
/// server stops accepting calls.
pub async fn serve(
    config: &Config,
    pool: PgPool,
    read_models: ReadModelPool,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let credentials = Arc::new(
        Credentials::load(Some(config.credentials_path()))?
            .requiring_assertions(assertion_check(config)?),
    );
    let hasher = KeyHasher::load_or_create(&config.key_hash_secret_path())?;
    let (health, health_service) = Health::new().await;
    let ledger = LateRoutes::default();
    let metrics = Metrics::default();
    let (stopping, stopping_rx) = watch::channel(false);
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, tls = config.tls_cert.is_some(), "ledgerd serving gRPC");
    // Streams that follow the log end when the drain starts, so they do not hold it open.
    let streams_stopping = stopping_rx.clone();
    let server = tokio::spawn(grpc_server(
        config,
        health_service,
        ledger.clone(),
        &metrics,
        AuthLayer::new(Arc::clone(&credentials), config.credential_rate()),
        listener,
        drained(Arc::clone(&health), stopping_rx),
    )?);
    let stop_server = |error: Option<anyhow::Error>| async move {
        let _ = stopping.send(true);
        let served = server.await;
        match (error, served) {
            (Some(error), _) => Err(error),
            (None, Ok(served)) => served.map_err(anyhow::Error::from),
            (None, Err(panic)) => Err(anyhow::Error::from(panic)),
        }
    };

    tokio::pin!(shutdown);
    let started = tokio::select! {
        started = startup::retry("start-up", startup_timeout(config), || start(config, &pool, &read_models, &hasher)) => started,
        () = &mut shutdown => {
            tracing::info!("stopped during start-up");
            return stop_server(None).await;
        }
    };
    let (app, writer) = match started {
        Ok(started) => started,
        Err(error) => return stop_server(Some(error)).await,
    };
    let (stop_expiry, stop_rx) = watch::channel(false);
    // The read models: one runner per projection (active where it holds the projection's
    // lock), stopped by the same signal as the expiry task, reading the log from `pool` and
    // writing `read_models`. None on a replica: its read models are the primary's, replayed
    // or, with --read-models-database-url, written there by the primary's ledgerd.
    let projections = (!config.read_only).then(|| {
        let projection_config = RuntimeConfig {
            gather: Duration::from_millis(config.projection_gather_ms),
            prune_interval: (config.activity_prune_interval_s > 0)
                .then(|| Duration::from_secs(config.activity_prune_interval_s)),
            ..RuntimeConfig::default()
        };
        ProjectionRuntime::spawn(
            pool.clone(),
            read_models.clone(),
            projection_config,
            stop_rx.clone(),
        )
    });
    let metrics_task = match config.metrics_listen {
        Some(address) => {
            let listener = TcpListener::bind(address).await?;
            tracing::info!(address = %listener.local_addr()?, "metrics on /metrics");
            let source = ledger_gauges(GaugeInputs {
                appender: app.appender.clone(),
                projections: projections
                    .as_ref()
                    .map(ProjectionRuntime::metrics_handle)
                    .unwrap_or_default(),
                pool: pool.clone(),
                read_models: read_models.clone(),
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
    // Expiring holds is a command: the primary's. A replica follows the log instead.
    let (expiry_task, writer) = match writer {
        Writer::Primary(writer) => (
            tokio::spawn(expiry::run(
                Arc::clone(&app),
                Duration::from_secs(config.hold_expiry_interval_s.max(1)),
                stop_rx.clone(),
            )),
            Some(writer),
        ),
        Writer::Follower(head) => {
            tracing::info!(
                head,
                max_replay_lag_ms = config.max_replay_lag_ms,
                "read-only: following the replica's log; commands are refused"
            );
            let lag = tokio::spawn(health::watch_replay_lag(
                Arc::clone(&health),
                (*pool.connect_options()).clone(),
                Duration::from_millis(config.max_replay_lag_ms),
                stop_rx.clone(),
            ));
            let follower = tokio::spawn(follow::run(Arc::clone(&app), head, stop_rx.clone()));
            let both = async move {
                let _ = lag.await;
                let _ = follower.await;
            };
            (tokio::spawn(both), None)
        }
    };
    let database_watch = tokio::spawn(health::watch_database(
        Arc::clone(&health),
        (*pool.connect_options()).clone(),
        stop_rx,
    ));
    ledger.set(ledger_routes(
        &Shared {
            app: Arc::clone(&app),
        },
        config,
        Notifications::new(
            Shared {
                app: Arc::clone(&app),
            },
            streams_stopping,
            // A standby hears no NOTIFY and runs no projections: its streams poll.
            projections
                .as_ref()
                .map_or_else(|| tokio::sync::watch::channel(0).1, |p| p.heads()),
        ),
    ));
    health.started().await;
    tracing::info!("ledgerd started");

    shutdown.await;
    tracing::info!("shutting down: health NOT_SERVING, finishing in-flight calls");
    stop_server(None).await?;
    tracing::info!("ledgerd stopped serving; finishing background work");
    let _ = stop_expiry.send(true);
    let _ = expiry_task.await;
    let _ = database_watch.await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    // Each runner finishes (or rolls back) its batch; a batch is one transaction, so stopping
    // mid-way loses nothing. Joined before the database (possibly embedded) is stopped.
    if let Some(projections) = projections
        && tokio::time::timeout(Duration::from_secs(10), projections.join())
            .await
            .is_err()
    {
        tracing::warn!("the projections did not stop in time");
    }
    // In-flight commands have finished; dropping the last handles (the application, and the
    // services holding it) lets the writer drain.
    drop(ledger);
    drop(app);
    if let Some(writer) = writer
        && tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .is_err()
    {
        tracing::warn!("the appender did not stop in time");
    }
    tracing::info!("ledgerd stopped");
    Ok(())
}

/// Completes once `stopping` turns true, after health has turned NOT_SERVING: the server's
/// cue to stop accepting calls and finish those in flight.
async fn drained(health: Arc<Health>, mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
    health.drain().await;
}

/// Reflection over both protocol versions: v1, and v1alpha for clients that speak only it
/// (Python's `grpcio-reflection`, and the tools built on it).
fn reflection() -> anyhow::Result<Routes> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(Routes::new(builder().build_v1()?).add_service(builder().build_v1alpha()?))
}

/// The ledger's gRPC services, each taking requests up to `max` bytes.
fn ledger_routes(shared: &Shared, config: &Config, notifications: Notifications) -> Routes {
    let max = config.max_request_bytes;
    macro_rules! service {
        ($server:path, $imp:expr) => {{
            use $server as s;
            s::new($imp).max_decoding_message_size(max)
        }};
    }
    Routes::new(service!(
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
    .add_service(
        // The exports are long text; gzip when the client says it accepts it.
        service!(
            pb::activity_service_server::ActivityServiceServer,
            Activity(shared.clone())
        )
        .send_compressed(CompressionEncoding::Gzip),
    )
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
        Audit(shared.clone())
    ))
    .add_service(service!(
        pb::notifications_service_server::NotificationsServiceServer,
        notifications
    ))
}

/// The gRPC server on `listener` until `shutdown`: health and reflection from the start, the
/// ledger's services once `ledger` is set, every call logged and counted.
fn grpc_server(
    config: &Config,
    health: HealthServer<impl HealthApi>,
    ledger: LateRoutes,
    metrics: &Metrics,
    authenticate: AuthLayer,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<impl Future<Output = Result<(), tonic::transport::Error>> + Send + 'static> {
    let routes = reflection()?.add_service(health);
    let routes = Routes::from(routes.into_axum_router().fallback_service(ledger));
    let mut builder = Server::builder();
    if let Some(tls) = tls_config(config)? {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        .layer(AccessLogLayer)
        .layer(metrics.layer())
        .layer(authenticate)
        .timeout(Duration::from_millis(config.request_timeout_ms.max(1)))
        .concurrency_limit_per_connection(config.concurrency_per_connection.max(1))
        .add_routes(routes);
    Ok(async move {
        router
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
            .await
    })
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

/// The dashboard assertion check of `--dashboard-assertion-key`, when given.
fn assertion_check(config: &Config) -> anyhow::Result<Option<AssertionCheck>> {
    let Some(path) = &config.dashboard_assertion_key else {
        return Ok(None);
    };
    tracing::info!(key = %path.display(), "dashboard calls need a signed actor assertion");
    AssertionCheck::load(path).map(Some)
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
