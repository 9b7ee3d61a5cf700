//! The gRPC face of ARouter Ledger: configuration, authentication, the application layer
//! (load, decide, append), the gRPC services and the `ledgerd` server.

pub mod app;
pub mod auth;
pub mod config;
pub mod database;
pub mod error;
pub mod input;
pub mod metrics;
pub mod pb;
pub mod personal;
pub mod secrets;
pub mod server;
pub mod services;
pub mod status;
pub mod telemetry;
