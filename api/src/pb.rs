//! Generated protobuf and gRPC code for `proto/arouter/ledger/v1` (lints allowed: generated).

#![allow(missing_docs, clippy::all, clippy::pedantic, unused_qualifications)]

tonic::include_proto!("arouter.ledger.v1");

/// The encoded file descriptor set of the API, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ledger_descriptor.bin"));
