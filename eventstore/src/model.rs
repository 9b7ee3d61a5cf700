//! What goes into the log and what comes out of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bounds on what one append may carry; requests beyond them are refused before batching.
pub mod limits {
    /// Longest stream id, in bytes.
    pub const MAX_STREAM_ID_BYTES: usize = 200;
    /// Longest event type name, in bytes.
    pub const MAX_EVENT_TYPE_BYTES: usize = 200;
    /// Most streams one command may touch atomically.
    pub const MAX_STREAMS_PER_APPEND: usize = 16;
    /// Most events one command may append.
    pub const MAX_EVENTS_PER_APPEND: usize = 1_000;
    /// Most bytes of payload and metadata one command may append.
    pub const MAX_BYTES_PER_APPEND: usize = 1 << 20;
    /// Most unique claims one command may make.
    pub const MAX_CLAIMS_PER_APPEND: usize = 1_000;
    /// Most events one read returns.
    pub const MAX_READ_LIMIT: i64 = 10_000;
    /// Most outbox messages one command may write.
    pub const MAX_OUTBOX_PER_APPEND: usize = 100;
    /// Longest outbox message kind, in bytes.
    pub const MAX_OUTBOX_KIND_BYTES: usize = 100;
    /// Most commands one group append carries.
    pub const MAX_COMMANDS_PER_GROUP: usize = 1_000;
}

/// The version a command expects a stream to be at when its events are appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version (1 is its first event).
    Exact(i64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `current` (0 = no stream) satisfies this expectation.
    pub fn admits(self, current: i64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(version) => current == version,
        }
    }
}

/// An event to append: its type, schema version and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id of the event, chosen by the caller.
    pub event_id: Uuid,
    /// Stable type name, e.g. `account.hold_placed`.
    pub event_type: String,
    /// Version of the payload's shape, starting at 1.
    pub schema_version: i32,
    /// The event's data.
    pub payload: serde_json::Value,
}

/// Who caused an append and why; recorded with every event of the append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Kind of caller: dashboard, gateway, identity, support, auditor or system.
    pub caller_kind: String,
    /// The acting user or staff member, when there is one.
    pub actor_id: Option<String>,
    /// The command that produced the events.
    pub command_id: Uuid,
    /// Ties together everything one user action caused.
    pub correlation_id: Uuid,
    /// The event or command that directly caused this one, when there is one.
    pub causation_id: Option<Uuid>,
    /// The name of the credential the call authenticated with (absent for the system's own
    /// commands, and in events appended before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Events for one stream within an append, with the version the stream must be at.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    /// The stream, e.g. `account-<uuid>`.
    pub stream_id: String,
    /// Checked before anything is written; a stream with no events is a pure precondition.
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<NewEvent>,
}

/// A uniqueness claim made atomically with an append, e.g. a generation id within an account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UniqueClaim {
    /// What the value is unique within, e.g. `generation`.
    pub scope: String,
    /// The value, e.g. `<account id>/<generation id>`.
    pub value: String,
}

/// One command's append: all or nothing across its streams.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// Idempotency key: a retry with the same id gets the first outcome back.
    pub command_id: Uuid,
    /// SHA-256 of the command's content as the caller sent it; a reuse of the command id with
    /// another hash is refused.
    pub request_hash: [u8; 32],
    /// Recorded with every event.
    pub metadata: EventMetadata,
    /// The streams and their events, appended atomically.
    pub streams: Vec<StreamAppend>,
    /// Claims that must not have been made before.
    pub claims: Vec<UniqueClaim>,
    /// Whatever the caller wants a retry to receive again (never a secret).
    pub reply: serde_json::Value,
    /// Messages for the outbox, written in the same transaction as the events (none for most
    /// appends). An append with messages must carry at least one event: their cursor is the
    /// position of its last event.
    pub outbox: Vec<OutboxMessage>,
}

/// A message for the transactional outbox: what the services that email and page people are
/// told, committed exactly when the events that cause it are.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Stable kind, e.g. `low_balance`.
    pub kind: String,
    /// The message's data (no personal data: it is as immutable as the log).
    pub payload: serde_json::Value,
}

/// Where a message stands in the outbox: the position of the last event of the append that
/// wrote it, and its index among that append's messages. Messages commit in cursor order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboxCursor {
    /// Position of the last event of the append that wrote the message.
    pub position: i64,
    /// Index among that append's messages, from 0.
    pub index: i32,
}

/// A message as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    /// Its place in the outbox.
    pub cursor: OutboxCursor,
    /// Stable kind.
    pub kind: String,
    /// The payload exactly as stored.
    pub payload: String,
    /// When it was written (the time the log recorded its events).
    pub recorded_at: DateTime<Utc>,
}

impl AppendRequest {
    /// How many events the request appends.
    pub fn event_count(&self) -> usize {
        self.streams.iter().map(|stream| stream.events.len()).sum()
    }
}

/// A stream's version after an append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamVersion {
    /// The stream.
    pub stream_id: String,
    /// Its version after the append (0 when it still has no events).
    pub version: i64,
}

/// What an append reached; a retry of the same command gets exactly this back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// Position of the first event appended, or the head position when none was.
    pub first_position: i64,
    /// Position of the last event appended, or the head position when none was: the position
    /// a read model must reach for the caller to read its own write.
    pub last_position: i64,
    /// How many events were appended.
    pub event_count: i64,
    /// Version of every stream of the request afterwards.
    pub streams: Vec<StreamVersion>,
    /// The caller's reply, as stored with the command.
    pub reply: serde_json::Value,
    /// Whether this is the stored outcome of an earlier request with the same command id and
    /// nothing was appended now. Not stored: the stored outcome is the first one.
    #[serde(skip)]
    pub replayed: bool,
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Global position, gapless, in commit order, from 1.
    pub position: i64,
    /// Unique id of the event.
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its version within the stream, from 1.
    pub stream_version: i64,
    /// Stable type name.
    pub event_type: String,
    /// Version of the payload's shape.
    pub schema_version: i32,
    /// The payload exactly as stored (and hashed).
    pub payload: String,
    /// The metadata exactly as stored (and hashed).
    pub metadata: String,
    /// When the log recorded it (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    /// Hash of the previous event (zeros before the first).
    pub prev_hash: [u8; 32],
    /// SHA-256 of `prev_hash` and the canonical bytes of this event.
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The payload parsed as JSON.
    pub fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }

    /// The metadata parsed.
    pub fn metadata(&self) -> Result<EventMetadata, serde_json::Error> {
        serde_json::from_str(&self.metadata)
    }
}

/// The end of the log: its last position and that event's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Last position written (0 for an empty log).
    pub position: i64,
    /// Hash of the event at that position (zeros for an empty log).
    pub hash: [u8; 32],
}
