//! The projections against a real PostgreSQL: each test gets its own database.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose: a failed step fails the test.

mod support;

mod apart;
mod check;
mod consistency;
mod crash;
mod feed_index;
mod read_your_writes;
mod rebuild;
mod recent;
mod takeover;
