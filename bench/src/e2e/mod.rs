//! The end-to-end suite: real `ledgerd` processes driven over gRPC by the workloads the inference
//! gateway and the dashboard produce, beside pgbench baselines from the same run.

mod cluster;
pub(crate) mod cpu;
mod driver;
mod plot;
mod population;
mod recorder;
mod report;
mod stream;
pub mod suite;
pub mod walcost;
mod watch;
mod workloads;
