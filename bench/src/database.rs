//! The server a benchmark measures on, and a throw-away database on it.

use std::path::{Path, PathBuf};

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

    /// The embedded server's postmaster, whose process tree is this benchmark's PostgreSQL
    /// (`None` for a `DATABASE_URL` server: its processes may serve others too, or be
    /// elsewhere).
    pub fn postmaster(&self) -> Option<u32> {
        self.embedded
            .as_ref()
            .and_then(|e| postmaster_pid(e.data_dir()))
    }

    /// The postmaster of this server when it runs on this machine: the embedded server's, or
    /// for a `DATABASE_URL` server the parent of a session's backend, if that is a process
    /// here. Its process tree is then charged to the server whatever else it serves.
    pub async fn local_postmaster(&self) -> Option<u32> {
        if self.embedded.is_some() {
            return self.postmaster();
        }
        let mut session = PgConnection::connect(&self.admin_url).await.ok()?;
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut session)
            .await
            .ok()?;
        let parent = crate::e2e::cpu::parent(u32::try_from(backend).ok()?);
        let _ = session.close().await;
        parent
    }

    /// Fails unless a hot standby of this server can be made: only of the embedded server,
    /// which runs here and lets its superuser replicate. A `DATABASE_URL` server would need a
    /// replication role, a `pg_hba.conf` line and a data directory for the standby on its host.
    pub fn can_replicate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.embedded.is_some(),
            "--read-replica makes a hot standby of the embedded server only; unset DATABASE_URL \
             (and --database-url) to measure it"
        );
        Ok(())
    }

    /// Makes and starts a hot standby of the embedded server (`pg_basebackup -R`, streaming
    /// replication) in a directory of its own, removed by [`Standby::stop`].
    pub async fn start_standby(&self) -> anyhow::Result<Standby> {
        self.can_replicate()?;
        let primary = self.embedded.as_ref().expect("checked above");
        let dir = std::env::temp_dir().join(format!(
            "ledger-bench-standby-{}",
            uuid::Uuid::new_v4().simple()
        ));
        // Not durable: its fsyncs would compete for this machine's one disk with the
        // primary's commits, which a standby on a host of its own does not; replication is
        // asynchronous, so the primary's commits never wait for it either way.
        let server = primary
            .start_standby(EmbeddedConfig::new(dir).durable(false))
            .await?;
        Ok(Standby { server })
    }

    /// Stops the embedded server, if one was started.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(embedded) = self.embedded {
            embedded.stop().await?;
        }
        Ok(())
    }
}

/// A hot standby of the embedded server.
pub struct Standby {
    server: EmbeddedPostgres,
}

impl Standby {
    /// The URL of database `name` on the standby (read-only sessions).
    pub fn database_url(&self, name: &str) -> String {
        self.server.database_url(name)
    }

    /// Its postmaster (see [`Server::postmaster`]).
    pub fn postmaster(&self) -> Option<u32> {
        postmaster_pid(self.server.data_dir())
    }

    /// Stops it and removes its directory.
    pub async fn stop(self) -> anyhow::Result<()> {
        let dir = self.server.data_dir().to_owned();
        self.server.stop().await?;
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }
}

/// The pid on the first line of the `postmaster.pid` of a running server's data directory.
fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

impl BenchDatabase {
    /// Its name on the server (and on a standby of it).
    pub fn name(&self) -> &str {
        &self.name
    }

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
