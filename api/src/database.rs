//! Finding the databases: the log's (`DATABASE_URL`, or a private PostgreSQL started on the
//! spot), and the read models' (`--read-models-database-url`, else the log's).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};
use ledger_projections::ReadModelPool;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::Config;

/// The database the embedded server holds the ledger in.
const EMBEDDED_DATABASE: &str = "ledger";

/// The connection pools, and the embedded server behind them when there is one.
pub struct Database {
    /// Connections to the ledger database: the log, command idempotency, personal data.
    pub pool: PgPool,
    /// Connections to the read models' database: `pool` itself unless
    /// `--read-models-database-url` names another.
    pub read_models: ReadModelPool,
    /// The private server, to stop on shutdown; `None` with `DATABASE_URL`.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// A pool on `DATABASE_URL` (not connected yet), or on the embedded server started under
    /// `--data-dir`; and one on `--read-models-database-url` when it is given.
    pub async fn open(config: &Config) -> anyhow::Result<Database> {
        let (url, embedded) = match &config.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let embedded =
                    EmbeddedPostgres::start(EmbeddedConfig::new(config.data_dir.join("pgdata")))
                        .await?;
                embedded.ensure_database(EMBEDDED_DATABASE).await?;
                tracing::info!(port = embedded.port(), data_dir = %embedded.data_dir().display(), "embedded PostgreSQL started");
                (embedded.database_url(EMBEDDED_DATABASE), Some(embedded))
            }
        };
        let pool = lazy_pool(config, &url)?;
        let read_models = match &config.read_models_database_url {
            Some(url) => ReadModelPool::new(
                lazy_pool(config, url).context("--read-models-database-url is not a valid URL")?,
            ),
            None => ReadModelPool::new(pool.clone()),
        };
        Ok(Database {
            pool,
            read_models,
            embedded,
        })
    }

    /// Closes the pool and stops the embedded server, if any, cleanly.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        self.read_models.pool().close().await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await?;
            tracing::info!("embedded PostgreSQL stopped");
        }
        Ok(())
    }
}

/// A pool on `url` with the configured limits. Lazy: connections are opened on first use, so
/// start-up can wait for a database that is not reachable yet (see `crate::startup`).
fn lazy_pool(config: &Config, url: &str) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?.options([(
        "statement_timeout",
        format!("{}ms", config.statement_timeout_ms),
    )]);
    Ok(PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options))
}
