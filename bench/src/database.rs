//! The server a benchmark measures on, and a throw-away database on it.

use std::path::PathBuf;

use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// The server: `DATABASE_URL`, or a durable embedded one (fsync on, as in production).
pub struct Server {
    admin_url: String,
    embedded: Option<EmbeddedPostgres>,
}

/// A database created for one run.
pub struct BenchDatabase {
    /// Its URL, for pgbench and for pools.
    pub url: String,
    name: String,
    admin_url: String,
}

impl Server {
    /// Uses `database_url`, or starts the embedded server.
    pub async fn open(database_url: Option<String>) -> anyhow::Result<Server> {
        match database_url {
            Some(url) => Ok(Server {
                admin_url: url,
                embedded: None,
            }),
            None => {
                let dir = PathBuf::from("target").join("ledger-bench-pg");
                let embedded = EmbeddedPostgres::start(EmbeddedConfig::new(dir)).await?;
                Ok(Server {
                    admin_url: embedded.database_url("postgres"),
                    embedded: Some(embedded),
                })
            }
        }
    }

    /// Creates an empty database with the ledger's schema.
    pub async fn fresh_database(&self) -> anyhow::Result<BenchDatabase> {
        let name = format!("ledger_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let url = ledger_pgembed::with_database(&self.admin_url, &name)
            .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is not a postgres:// URL"))?;
        let pool = PgPool::connect(&url).await?;
        ledger_eventstore::migrate(&pool).await?;
        pool.close().await;
        Ok(BenchDatabase {
            url,
            name,
            admin_url: self.admin_url.clone(),
        })
    }

    /// Stops the embedded server, if one was started.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(embedded) = self.embedded {
            embedded.stop().await?;
        }
        Ok(())
    }
}

impl BenchDatabase {
    /// A pool of `connections` to it.
    pub async fn pool(&self, connections: u32) -> anyhow::Result<PgPool> {
        Ok(PgPoolOptions::new()
            .max_connections(connections)
            .connect(&self.url)
            .await?)
    }

    /// Removes the database.
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}
