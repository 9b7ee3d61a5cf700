//! The one codec between domain events and the rows of the event log: a decision becomes the
//! streams and claims of an append, a recorded row becomes a domain event (through the
//! domain's upcasters), and stream versions cross between the domain's `u64` and the log's
//! `i64` here and nowhere else. The application, the projections and the audit RPCs all go
//! through it, so an event is written and read one way.

use ledger_domain::{Decision, Event};
use ledger_eventstore::{NewEvent, RecordedEvent, StreamAppend};
use uuid::Uuid;

/// A recorded row that is not an event this build can read: corrupt data or a log written by
/// a newer build. Never skipped: the caller reports it (a read model stops, a request fails
/// with an internal error).
#[derive(Debug, thiserror::Error)]
#[error("position {position}: {reason}")]
pub struct DecodeError {
    /// Where the row is in the log.
    pub position: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads a recorded row as a domain event, upcasting older schema versions.
pub fn decode(recorded: &RecordedEvent) -> Result<Event, DecodeError> {
    let fail = |reason: String| DecodeError {
        position: recorded.position,
        reason,
    };
    let version = u16::try_from(recorded.schema_version)
        .map_err(|_| fail(format!("schema version {}", recorded.schema_version)))?;
    Event::from_stored_json(&recorded.event_type, version, &recorded.payload)
        .map_err(|e| fail(e.to_string()))
}

/// A domain event as a row to append, under a fresh time-ordered event id.
pub fn encode(event: &Event) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event.event_type().to_owned(),
        schema_version: i32::from(event.schema_version()),
        payload: event.to_payload(),
    }
}

/// The streams of a decision as the log appends them: each with its expected version and its
/// encoded events (none for a stream that is a precondition only).
pub fn streams(decision: &Decision) -> Vec<StreamAppend> {
    decision
        .changes
        .iter()
        .map(|change| StreamAppend {
            stream_id: change.stream.clone(),
            expected: expected(change.expected),
            events: change.events.iter().map(encode).collect(),
        })
        .collect()
}

/// The unique claims of a decision as the log records them.
pub fn claims(decision: &Decision) -> Vec<ledger_eventstore::UniqueClaim> {
    decision.unique_claims().iter().map(claim).collect()
}

/// One unique claim as the log records it.
pub fn claim(claim: &ledger_domain::UniqueClaim) -> ledger_eventstore::UniqueClaim {
    ledger_eventstore::UniqueClaim {
        scope: claim.scope().to_owned(),
        value: claim.value(),
    }
}

/// The domain's expected version as the log checks it.
pub fn expected(version: ledger_domain::ExpectedVersion) -> ledger_eventstore::ExpectedVersion {
    match version {
        ledger_domain::ExpectedVersion::NoStream => ledger_eventstore::ExpectedVersion::NoStream,
        ledger_domain::ExpectedVersion::Exact(n) => {
            ledger_eventstore::ExpectedVersion::Exact(stored_version(n))
        }
    }
}

/// A stream version (a count of events) as the log stores it. A stream cannot hold more
/// events than the log has positions, so the conversion saturates only on corrupt state.
pub fn stored_version(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// The first stream version after a state that has folded `version` events.
pub fn next_version(version: u64) -> i64 {
    stored_version(version).saturating_add(1)
}
