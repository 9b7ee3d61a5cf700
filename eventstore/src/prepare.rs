//! Checking an append against the log's limits and rendering its JSON, before it is queued, so
//! the one serialized transaction does as little work as possible.

use std::collections::HashSet;

use uuid::Uuid;

use crate::chain::{Settled, Ticket};
use crate::error::StoreError;
use crate::model::{AppendRequest, ExpectedVersion, UniqueClaim, limits};

/// An append checked against the limits, with its JSON already rendered, ready for a batch.
#[derive(Debug)]
pub(crate) struct PreparedAppend {
    pub(crate) command_id: Uuid,
    pub(crate) request_hash: [u8; 32],
    pub(crate) metadata: String,
    pub(crate) streams: Vec<PreparedStream>,
    pub(crate) claims: Vec<UniqueClaim>,
    pub(crate) reply: serde_json::Value,
    /// Outbox messages: kind and rendered payload.
    pub(crate) outbox: Vec<(String, String)>,
    pub(crate) event_count: usize,
    /// Where this append stands, for the writer to settle.
    pub(crate) ticket: Ticket,
    /// The append this one was decided after, which must have committed first.
    pub(crate) after: Option<Ticket>,
}

#[derive(Debug)]
pub(crate) struct PreparedStream {
    pub(crate) stream_id: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<PreparedEvent>,
}

#[derive(Debug)]
pub(crate) struct PreparedEvent {
    pub(crate) event_id: Uuid,
    pub(crate) event_type: String,
    pub(crate) schema_version: i32,
    pub(crate) payload: String,
}

impl PreparedAppend {
    /// Checks the request against the log's limits and renders its JSON, outside the writer so
    /// that the one serialized transaction does as little as possible.
    pub(crate) fn new(request: AppendRequest, after: Option<Ticket>) -> Result<Self, StoreError> {
        let invalid = |what: String| Err(StoreError::InvalidRequest(what));
        if request.streams.is_empty() {
            return invalid("an append names at least one stream".into());
        }
        if request.streams.len() > limits::MAX_STREAMS_PER_APPEND {
            return invalid(format!(
                "an append touches at most {} streams",
                limits::MAX_STREAMS_PER_APPEND
            ));
        }
        let event_count = request.event_count();
        if event_count > limits::MAX_EVENTS_PER_APPEND {
            return invalid(format!(
                "an append carries at most {} events",
                limits::MAX_EVENTS_PER_APPEND
            ));
        }
        if request.claims.len() > limits::MAX_CLAIMS_PER_APPEND {
            return invalid(format!(
                "an append makes at most {} claims",
                limits::MAX_CLAIMS_PER_APPEND
            ));
        }
        let mut seen_streams = HashSet::new();
        for stream in &request.streams {
            if stream.stream_id.is_empty() || stream.stream_id.len() > limits::MAX_STREAM_ID_BYTES {
                return invalid(format!(
                    "stream ids are 1 to {} bytes",
                    limits::MAX_STREAM_ID_BYTES
                ));
            }
            if !seen_streams.insert(stream.stream_id.as_str()) {
                return invalid(format!("stream {} is named twice", stream.stream_id));
            }
            if let ExpectedVersion::Exact(version) = stream.expected
                && version < 1
            {
                return invalid("an exact expected version is 1 or more".into());
            }
        }
        if request.outbox.len() > limits::MAX_OUTBOX_PER_APPEND {
            return invalid(format!(
                "an append writes at most {} outbox messages",
                limits::MAX_OUTBOX_PER_APPEND
            ));
        }
        if !request.outbox.is_empty() && event_count == 0 {
            return invalid("outbox messages need an event to follow".into());
        }
        let metadata = render(&request.metadata)?;
        let mut bytes = metadata.len() * event_count;
        let mut streams = Vec::with_capacity(request.streams.len());
        for stream in request.streams {
            let mut events = Vec::with_capacity(stream.events.len());
            for event in stream.events {
                if event.event_type.is_empty()
                    || event.event_type.len() > limits::MAX_EVENT_TYPE_BYTES
                {
                    return invalid(format!(
                        "event types are 1 to {} bytes",
                        limits::MAX_EVENT_TYPE_BYTES
                    ));
                }
                if event.schema_version < 1 {
                    return invalid("schema versions start at 1".into());
                }
                let payload = render(&event.payload)?;
                bytes += payload.len();
                events.push(PreparedEvent {
                    event_id: event.event_id,
                    event_type: event.event_type,
                    schema_version: event.schema_version,
                    payload,
                });
            }
            streams.push(PreparedStream {
                stream_id: stream.stream_id,
                expected: stream.expected,
                events,
            });
        }
        let mut outbox = Vec::with_capacity(request.outbox.len());
        for message in request.outbox {
            if message.kind.is_empty() || message.kind.len() > limits::MAX_OUTBOX_KIND_BYTES {
                return invalid(format!(
                    "outbox message kinds are 1 to {} bytes",
                    limits::MAX_OUTBOX_KIND_BYTES
                ));
            }
            let payload = render(&message.payload)?;
            bytes += payload.len();
            outbox.push((message.kind, payload));
        }
        if bytes > limits::MAX_BYTES_PER_APPEND {
            return invalid(format!(
                "an append carries at most {} bytes of payload and metadata",
                limits::MAX_BYTES_PER_APPEND
            ));
        }
        let mut seen_claims = HashSet::new();
        for claim in &request.claims {
            if !seen_claims.insert(claim) {
                return invalid(format!(
                    "claim {} {} is made twice",
                    claim.scope, claim.value
                ));
            }
        }
        Ok(PreparedAppend {
            command_id: request.command_id,
            request_hash: request.request_hash,
            metadata,
            streams,
            claims: request.claims,
            reply: request.reply,
            outbox,
            event_count,
            ticket: Ticket::new(),
            after,
        })
    }

    /// How many events this append writes.
    pub(crate) fn event_count(&self) -> usize {
        self.event_count
    }
}

/// Appends of several commands judged and written together: all of them or none. Each keeps
/// its own command id, request hash, reply and events; the first may be chained after an
/// earlier append, and the others are judged on the state the ones before them leave.
#[derive(Debug)]
pub(crate) struct PreparedGroup {
    pub(crate) members: Vec<PreparedAppend>,
}

impl PreparedGroup {
    /// Checks each request as [`PreparedAppend::new`] does, and the group: one command at
    /// least, at most [`limits::MAX_COMMANDS_PER_GROUP`], no command id twice.
    pub(crate) fn new(
        requests: Vec<AppendRequest>,
        after: Option<Ticket>,
    ) -> Result<Self, StoreError> {
        if requests.is_empty() || requests.len() > limits::MAX_COMMANDS_PER_GROUP {
            return Err(StoreError::InvalidRequest(format!(
                "a group carries 1 to {} commands",
                limits::MAX_COMMANDS_PER_GROUP
            )));
        }
        let mut command_ids = HashSet::new();
        if let Some(twice) = requests
            .iter()
            .find(|request| !command_ids.insert(request.command_id))
        {
            return Err(StoreError::InvalidRequest(format!(
                "command {} is named twice in a group",
                twice.command_id
            )));
        }
        let mut after = after;
        let members = requests
            .into_iter()
            .map(|request| PreparedAppend::new(request, after.take()))
            .collect::<Result<_, _>>()?;
        Ok(Self { members })
    }

    /// How many events the group writes.
    pub(crate) fn event_count(&self) -> usize {
        self.members.iter().map(PreparedAppend::event_count).sum()
    }

    /// Every stream its commands name, as often as they name it.
    pub(crate) fn streams(&self) -> impl Iterator<Item = &PreparedStream> {
        self.members.iter().flat_map(|append| &append.streams)
    }

    /// The ticket of the group: its last member's (all of them settle alike).
    pub(crate) fn ticket(&self) -> &Ticket {
        &self.members.last().expect("a group has a member").ticket
    }
}

impl Drop for PreparedAppend {
    /// An append dropped before the writer judged it (the writer stopped) committed nothing:
    /// whoever waits on its ticket must not wait forever. A no-op once the writer settled it.
    fn drop(&mut self) {
        self.ticket.settle(Settled::Failed);
    }
}

fn render<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::InvalidRequest(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventMetadata, StreamAppend};

    #[test]
    fn an_append_dropped_before_the_writer_judged_it_is_settled_failed() {
        let command_id = Uuid::nil();
        let request = AppendRequest {
            command_id,
            request_hash: [0; 32],
            metadata: EventMetadata {
                caller_kind: "test".into(),
                actor_id: None,
                command_id,
                correlation_id: command_id,
                causation_id: None,
                credential: None,
            },
            streams: vec![StreamAppend {
                stream_id: "account-a".into(),
                expected: ExpectedVersion::Any,
                events: vec![],
            }],
            claims: vec![],
            reply: serde_json::Value::Null,
            outbox: vec![],
        };
        let append = PreparedAppend::new(request, None).unwrap();
        let ticket = append.ticket.clone();
        assert_eq!(ticket.settled(), None);
        drop(append);
        assert_eq!(ticket.settled(), Some(Settled::Failed));
    }
}
