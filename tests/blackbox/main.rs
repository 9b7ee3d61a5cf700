//! Black-box tests: the real `ledgerd` binary, over gRPC, on a real PostgreSQL.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose: a failed step fails the test.
#![allow(missing_docs)]

mod admission;
mod api_rules;
mod audit;
mod authz;
mod batches;
mod billing;
mod common;
mod consistency;
mod contract;
mod corrections;
mod credentials;
mod expiry;
mod faults;
mod gateway;
mod journey;
mod key_lifecycle;
mod key_secrets;
mod ledgerctl;
mod lifecycle;
mod members;
mod notifications;
mod operations;
mod payments;
mod races;
mod read_models_db;
mod reads;
mod rebuild;
mod replica;
mod reports;
mod retention;
mod runtime_role;
mod secrets;
mod server;
mod settings;
mod spending;
mod tenants;
mod tls;
mod usage_reads;
mod validation;
