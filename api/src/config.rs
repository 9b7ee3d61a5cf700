//! `ledgerd`'s configuration, by flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// ARouter Ledger: credits, API keys and usage billing over gRPC, on a PostgreSQL event log.
#[derive(Debug, Clone, Parser)]
#[command(name = "ledgerd", version)]
pub struct Config {
    /// PostgreSQL to use. Without it, ledgerd starts its own private PostgreSQL from the
    /// installed server binaries, with its data under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Where the embedded PostgreSQL keeps its data (used only without DATABASE_URL).
    #[arg(
        long,
        env = "LEDGER_DATA_DIR",
        default_value = ".ledgerd",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "LEDGER_LISTEN",
        default_value = "127.0.0.1:50051",
        global = true
    )]
    pub listen: SocketAddr,

    /// Most database connections the server opens.
    #[arg(
        long,
        env = "LEDGER_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub db_max_connections: u32,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "LEDGER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `ledgerd` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Apply database migrations, then serve gRPC until SIGTERM or Ctrl-C.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}
