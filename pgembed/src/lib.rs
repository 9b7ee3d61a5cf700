//! A private PostgreSQL started from the installed server binaries, and fresh databases for tests.
//!
//! [`EmbeddedPostgres`] runs `initdb` and `pg_ctl` on a data directory of your choice and
//! listens on 127.0.0.1 only. [`testing::fresh_database`] gives each test its own database,
//! on `DATABASE_URL` when set, else on a shared cluster under the cargo target directory.

mod binaries;
mod cluster;
mod command;
mod config;
mod error;
mod pidfile;
mod server;
mod sql;
pub mod testing;
mod user;

pub use binaries::PgBinaries;
pub use cluster::EmbeddedPostgres;
pub use config::EmbeddedConfig;
pub use error::EmbeddedError;
