//! Finding the database: `DATABASE_URL`, or a private PostgreSQL started on the spot.

use std::str::FromStr;
use std::time::Duration;

use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::Config;

/// The database the embedded server holds the ledger in.
const EMBEDDED_DATABASE: &str = "ledger";

/// The connection pool, and the embedded server behind it when there is one.
pub struct Database {
    /// Connections to the ledger database.
    pub pool: PgPool,
    /// The private server, to stop on shutdown; `None` with `DATABASE_URL`.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// A pool on `DATABASE_URL` (not connected yet), or on the embedded server started under
    /// `--data-dir`.
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
        // Lazy: connections are opened on first use, so start-up can wait for a database that
        // is not reachable yet (see `crate::startup`).
        let options = PgConnectOptions::from_str(&url)?.options([(
            "statement_timeout",
            format!("{}ms", config.statement_timeout_ms),
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(config.db_max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok(Database { pool, embedded })
    }

    /// Closes the pool and stops the embedded server, if any, cleanly.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await?;
            tracing::info!("embedded PostgreSQL stopped");
        }
        Ok(())
    }
}
