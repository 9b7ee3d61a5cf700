//! The hash chain: how an event's bytes are laid out for hashing, and how hashes link.
//!
//! `hash = SHA-256(prev_hash ‖ canonical_bytes(event))`, where `canonical_bytes` is a sequence of
//! fields, each a 4-byte big-endian length followed by that many bytes of UTF-8:
//! the tag `arouter-ledger-event-v1`, the position in decimal, the event id (lowercase,
//! hyphenated), the stream id, the stream version in decimal, the event type, the schema version
//! in decimal, the recorded time as RFC 3339 UTC with six fractional digits and `Z`, the payload
//! text and the metadata text exactly as stored. `docs/audit.md` shows how to recompute it.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The previous hash of the first event: 32 zero bytes.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

const TAG: &str = "arouter-ledger-event-v1";

/// The canonical bytes of an event, as hashed into the chain.
#[allow(clippy::too_many_arguments)]
pub fn canonical_bytes(
    position: i64,
    event_id: Uuid,
    stream_id: &str,
    stream_version: i64,
    event_type: &str,
    schema_version: i32,
    recorded_at: DateTime<Utc>,
    payload: &str,
    metadata: &str,
) -> Vec<u8> {
    let position = position.to_string();
    let event_id = event_id.hyphenated().to_string();
    let stream_version = stream_version.to_string();
    let schema_version = schema_version.to_string();
    let recorded_at = format_recorded_at(recorded_at);
    let fields: [&str; 10] = [
        TAG,
        &position,
        &event_id,
        stream_id,
        &stream_version,
        event_type,
        &schema_version,
        &recorded_at,
        payload,
        metadata,
    ];
    let mut bytes = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for field in fields {
        let length = u32::try_from(field.len()).expect("event fields are bounded far below 4 GiB");
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(field.as_bytes());
    }
    bytes
}

/// `SHA-256(prev_hash ‖ canonical_bytes)`.
pub fn chain_hash(prev_hash: &[u8; 32], canonical_bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical_bytes);
    hasher.finalize().into()
}

/// A hash as read from the database, which must be 32 bytes.
pub(crate) fn stored_hash(bytes: &[u8]) -> Result<[u8; 32], crate::StoreError> {
    bytes
        .try_into()
        .map_err(|_| crate::StoreError::Malformed(format!("a hash of {} bytes", bytes.len())))
}

/// The recorded time as hashed: RFC 3339, UTC, microseconds, `Z`.
pub(crate) fn format_recorded_at(recorded_at: DateTime<Utc>) -> String {
    recorded_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn canonical_bytes_are_length_prefixed_fields_in_a_fixed_order() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let bytes = canonical_bytes(7, Uuid::nil(), "s", 1, "t", 1, at, "{}", "{}");
        let mut expected = Vec::new();
        for field in [
            "arouter-ledger-event-v1",
            "7",
            "00000000-0000-0000-0000-000000000000",
            "s",
            "1",
            "t",
            "1",
            "2026-01-02T03:04:05.000000Z",
            "{}",
            "{}",
        ] {
            expected.extend_from_slice(&(field.len() as u32).to_be_bytes());
            expected.extend_from_slice(field.as_bytes());
        }
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_changed_byte_changes_the_hash() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let a = canonical_bytes(1, Uuid::nil(), "s", 1, "t", 1, at, "{\"a\":1}", "{}");
        let b = canonical_bytes(1, Uuid::nil(), "s", 1, "t", 1, at, "{\"a\":2}", "{}");
        assert_ne!(chain_hash(&GENESIS_HASH, &a), chain_hash(&GENESIS_HASH, &b));
    }
}
