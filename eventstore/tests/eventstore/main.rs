//! The event log against a real PostgreSQL: each test gets its own database.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose: a failed step fails the test.

mod support;

mod append;
mod chain;
mod chained;
mod claims;
mod embedded;
mod group_commit;
mod groups;
mod outbox;
mod privileges;
mod reading;
mod retries;
