//! Support for the black-box tests: build and run the real `ledgerd`, talk to it over gRPC.

pub mod ledgerd;
