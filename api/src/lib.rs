//! The gRPC face of ARouter Ledger: configuration, authentication, the application layer
//! (load, decide, append), the gRPC services, the `ledgerd` server and the `ledgerctl` client.

pub mod access;
pub mod app;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod database;
pub mod error;
pub mod health;
pub mod input;
pub mod metrics;
pub mod metrics_sources;
pub mod pb;
pub mod pdf;
pub mod personal;
pub mod secrets;
pub mod server;
pub mod services;
pub mod startup;
pub mod status;
pub mod telemetry;
