//! The `ledgerd` server: migrate, serve gRPC, shut down cleanly.

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::config::{Command, Config};
use crate::database::Database;

/// Runs `ledgerd` as configured until it is told to stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let outcome = match config.command.unwrap_or(Command::Serve) {
        Command::Migrate => migrate(&database).await,
        Command::Serve => match migrate(&database).await {
            Ok(()) => serve(&config, shutdown_signal()).await,
            Err(error) => Err(error),
        },
    };
    database.close().await?;
    outcome
}

async fn migrate(database: &Database) -> anyhow::Result<()> {
    ledger_eventstore::migrate(&database.pool).await?;
    tracing::info!("database migrations applied");
    Ok(())
}

/// Serves gRPC on the configured address until `shutdown` completes, finishing in-flight calls.
pub async fn serve(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    tracing::info!(%address, "ledgerd serving gRPC");
    Server::builder()
        .add_service(health_service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await?;
    tracing::info!("ledgerd stopped serving");
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
