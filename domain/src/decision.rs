//! The result of deciding a command: events per stream, appended atomically by the app.
//!
//! Every stream whose state a decide function read appears in the decision with the version
//! the state was at. A change with no events is a precondition only: the app appends the
//! other changes only if that stream is still at `expected` (facts read from it still hold).

use crate::event::Event;

/// The version a stream must be at for the append to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// The stream must not exist yet (a new user, organization or account).
    NoStream,
    /// The stream must hold exactly this many events (its last version, counting from 1).
    Exact(u64),
}

impl ExpectedVersion {
    /// The expectation for a state that has folded `version` events.
    pub fn at(version: u64) -> Self {
        if version == 0 {
            Self::NoStream
        } else {
            Self::Exact(version)
        }
    }
}

/// A unique claim the store records atomically with the append and refuses twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueClaim {
    /// The claim's scope, e.g. `"generation"`.
    pub scope: &'static str,
    /// The claimed value, e.g. `"{account_id}/{generation_id}"`.
    pub value: String,
}

/// The events for one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChange {
    /// The stream name (`user-…`, `org-…`, `account-…`).
    pub stream: String,
    /// The version the stream must be at.
    pub expected: ExpectedVersion,
    /// The events to append; empty for a precondition only.
    pub events: Vec<Event>,
}

/// Everything a command decided: appended all together or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// One entry per stream touched or read.
    pub changes: Vec<StreamChange>,
}

impl Decision {
    /// A decision with one stream change.
    pub fn one(stream: String, expected: ExpectedVersion, events: Vec<Event>) -> Self {
        Self::default().with(stream, expected, events)
    }

    /// Adds a stream change.
    pub fn with(mut self, stream: String, expected: ExpectedVersion, events: Vec<Event>) -> Self {
        debug_assert!(
            self.changes.iter().all(|c| c.stream != stream),
            "stream listed twice"
        );
        self.changes.push(StreamChange {
            stream,
            expected,
            events,
        });
        self
    }

    /// Adds a precondition on a stream that was read but is not written.
    pub fn reading(self, stream: String, expected: ExpectedVersion) -> Self {
        self.with(stream, expected, Vec::new())
    }

    /// All events, in stream order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.changes.iter().flat_map(|c| c.events.iter())
    }

    /// The events for one stream.
    pub fn events_for(&self, stream: &str) -> Vec<&Event> {
        self.changes
            .iter()
            .filter(|c| c.stream == stream)
            .flat_map(|c| c.events.iter())
            .collect()
    }

    /// Whether the command changed nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|c| c.events.is_empty())
    }

    /// The unique claims of all events; the store refuses the append if one was claimed before.
    pub fn unique_claims(&self) -> Vec<UniqueClaim> {
        self.events().flat_map(Event::unique_claims).collect()
    }
}
