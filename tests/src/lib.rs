//! Support for the black-box tests: build and run the real `ledgerd` (and `ledgerctl`), talk
//! to it over gRPC.

pub mod binaries;
pub mod client;
pub mod cluster;
pub mod ledgerctl;
pub mod ledgerd;
pub mod replica;
