//! The upcasting hook: rewrites an older schema version's payload into the current one,
//! one version step at a time, before deserialising.
//!
//! History kept here:
//! - `account.hold_placed` v1 (pre-release) stored `ttl_s` beside `at`; v2 stores the
//!   absolute `expires_at` so the expiry task and projections need no arithmetic.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Why a stored event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// The type is not in the catalogue.
    #[error("unknown event type {0}")]
    UnknownType(String),
    /// The schema version is 0 or newer than this code knows.
    #[error("{event_type} schema version {version} is not supported (current {current})")]
    UnsupportedVersion {
        /// The type.
        event_type: String,
        /// The stored version.
        version: u16,
        /// The current version.
        current: u16,
    },
    /// The payload does not match the schema.
    #[error("{event_type} payload is malformed: {reason}")]
    Malformed {
        /// The type.
        event_type: String,
        /// What serde said.
        reason: String,
    },
}

/// Rewrites `payload` from `version` up to `current`.
pub fn upcast(
    event_type: &str,
    version: u16,
    current: u16,
    mut payload: Value,
) -> Result<Value, UpcastError> {
    let mut version = version;
    while version < current {
        payload = step(event_type, version, payload)?;
        version += 1;
    }
    Ok(payload)
}

fn malformed(event_type: &str, reason: &str) -> UpcastError {
    UpcastError::Malformed {
        event_type: event_type.to_owned(),
        reason: reason.to_owned(),
    }
}

/// One step: `version` → `version + 1`.
fn step(event_type: &str, version: u16, payload: Value) -> Result<Value, UpcastError> {
    match (event_type, version) {
        ("account.hold_placed", 1) => hold_placed_v1_to_v2(payload),
        _ => Err(UpcastError::UnsupportedVersion {
            event_type: event_type.to_owned(),
            version,
            current: version + 1,
        }),
    }
}

fn hold_placed_v1_to_v2(mut payload: Value) -> Result<Value, UpcastError> {
    const TYPE: &str = "account.hold_placed";
    let object = payload
        .as_object_mut()
        .ok_or_else(|| malformed(TYPE, "not an object"))?;
    let ttl_s = object
        .remove("ttl_s")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| malformed(TYPE, "v1 needs an integer ttl_s"))?;
    let at: DateTime<Utc> = object
        .get("at")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| malformed(TYPE, "v1 needs an RFC 3339 at"))?;
    let expires_at = at
        .checked_add_signed(Duration::seconds(ttl_s))
        .ok_or_else(|| malformed(TYPE, "ttl_s out of range"))?;
    let expires_at =
        serde_json::to_value(expires_at).map_err(|e| malformed(TYPE, &e.to_string()))?;
    object.insert("expires_at".to_owned(), expires_at);
    Ok(payload)
}
