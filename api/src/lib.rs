//! The gRPC face of ARouter Ledger: configuration, database start-up and the `ledgerd` server.

pub mod config;
pub mod database;
pub mod server;
pub mod telemetry;
