//! One integration test binary for the domain crate (one link, many modules).

#![allow(clippy::unwrap_used)] // unwrap is allowed in tests, helpers included

mod account_credits;
mod account_holds;
mod account_keys;
mod corrections;
mod events;
mod money;
mod no_panics;
mod notices;
mod organization;
mod policy;
mod properties;
mod spending;
mod support;
mod user;
