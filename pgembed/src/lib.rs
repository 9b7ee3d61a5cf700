//! A private PostgreSQL started from the installed server binaries, and fresh databases for tests.
//!
//! [`EmbeddedPostgres`] runs `initdb` and `pg_ctl` on a data directory of your choice and
//! listens on 127.0.0.1 only, with SCRAM-SHA-256 authentication. [`testing::fresh_database`] gives each test its own database,
//! on `DATABASE_URL` when set, else on a shared cluster under the cargo target directory.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};
//!
//! let pg = EmbeddedPostgres::start(EmbeddedConfig::new("/var/tmp/ledger-pg")).await?;
//! pg.ensure_database("ledger").await?;
//! let url = pg.database_url("ledger"); // postgres://ledger:<password>@127.0.0.1:<port>/ledger
//! # let _ = url;
//! pg.stop().await?;
//!
//! // In a test: a database of its own, dropped at the end.
//! let db = ledger_pgembed::testing::fresh_database().await?;
//! let pool = sqlx::PgPool::connect(db.url()).await?;
//! # drop(pool);
//! # Ok(())
//! # }
//! ```

mod binaries;
mod cluster;
mod command;
mod config;
mod error;
mod location;
mod password;
mod pidfile;
mod server;
mod sql;
pub mod testing;
mod user;

pub use binaries::PgBinaries;
pub use cluster::EmbeddedPostgres;
pub use config::EmbeddedConfig;
pub use error::EmbeddedError;
pub use sql::with_database;
