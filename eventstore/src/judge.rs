//! Judging a batch's requests one after the other, against the head and what is known of the
//! log: each request (a single append, or a group of commands appended together) is accepted
//! with its rows added, or answered with its own error while the others go on.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::batch::{Answers, BatchRows};
use crate::batch_sql::Known;
use crate::chain::Settled;
use crate::error::StoreError;
use crate::hash::{canonical_bytes, chain_hash};
use crate::model::{AppendOutcome, StreamVersion, UniqueClaim};
use crate::prepare::{PreparedAppend, PreparedGroup};

/// Where the batch stands while its requests are judged one after the other.
pub(crate) struct BatchState {
    pub(crate) position: i64,
    pub(crate) hash: [u8; 32],
    pub(crate) versions: HashMap<String, i64>,
    pub(crate) stream_positions: HashMap<String, i64>,
    commands: HashMap<Uuid, ([u8; 32], AppendOutcome)>,
    claims: HashSet<(String, String)>,
    /// Tickets of the appends accepted so far in this batch (they commit with it).
    accepted: HashSet<u64>,
}

/// Judges every request of the batch in order, from the head and what is known of the log.
pub(crate) fn judge_batch(
    batch: &[PreparedGroup],
    (position, hash): (i64, [u8; 32]),
    known: Known,
    recorded_at: DateTime<Utc>,
) -> (BatchState, BatchRows, Answers) {
    let mut state = BatchState {
        position,
        hash,
        versions: known.versions,
        stream_positions: HashMap::new(),
        commands: known.commands,
        claims: known.claims,
        accepted: HashSet::new(),
    };
    let mut rows = BatchRows::default();
    let answers = batch
        .iter()
        .map(|group| judge_group(group, &mut state, &mut rows, recorded_at))
        .collect();
    (state, rows, answers)
}

/// Judges one request against the batch so far and, if every command of it is accepted, adds
/// their rows; otherwise adds nothing and answers the first refusal.
fn judge_group(
    group: &PreparedGroup,
    state: &mut BatchState,
    rows: &mut BatchRows,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<AppendOutcome>, StoreError> {
    if let Some(replayed) = recorded(group, state)? {
        return Ok(replayed);
    }
    check(group, state)?;
    Ok(group
        .members
        .iter()
        .map(|append| accept(append, state, rows, recorded_at))
        .collect())
}

/// The stored outcomes of a group whose commands are all recorded with the same requests (a
/// retry); `None` when none is recorded; a refusal when some are (or one was recorded for
/// another request).
fn recorded(
    group: &PreparedGroup,
    state: &BatchState,
) -> Result<Option<Vec<AppendOutcome>>, StoreError> {
    let mut replayed = Vec::new();
    for append in &group.members {
        match state.commands.get(&append.command_id) {
            Some((request_hash, outcome)) if *request_hash == append.request_hash => {
                replayed.push(AppendOutcome {
                    replayed: true,
                    ..outcome.clone()
                });
            }
            Some(_) => {
                return Err(StoreError::CommandIdReused {
                    command_id: append.command_id,
                });
            }
            None => {}
        }
    }
    if replayed.is_empty() {
        return Ok(None);
    }
    if replayed.len() == group.members.len() {
        return Ok(Some(replayed));
    }
    let first = group
        .members
        .iter()
        .find(|append| state.commands.contains_key(&append.command_id))
        .expect("a recorded command was found");
    Err(StoreError::CommandRecorded {
        command_id: first.command_id,
    })
}

/// Checks, without changing anything, that each command of the group may be appended after
/// the ones before it: its predecessor committed, its streams at the versions it expects, its
/// claims not made.
fn check(group: &PreparedGroup, state: &BatchState) -> Result<(), StoreError> {
    let mut versions: HashMap<&str, i64> = HashMap::new();
    let mut claims: HashSet<&UniqueClaim> = HashSet::new();
    for append in &group.members {
        if let Some(after) = &append.after {
            let committed =
                after.settled() == Some(Settled::Committed) || state.accepted.contains(&after.id());
            if !committed {
                return Err(StoreError::PredecessorFailed);
            }
        }
        for stream in &append.streams {
            let id = stream.stream_id.as_str();
            let current = match versions.get(id) {
                Some(version) => *version,
                None => state.versions.get(id).copied().unwrap_or(0),
            };
            if !stream.expected.admits(current) {
                return Err(StoreError::Conflict {
                    stream_id: stream.stream_id.clone(),
                    expected: stream.expected,
                    actual: current,
                });
            }
            if !stream.events.is_empty() {
                versions.insert(id, current + stream.events.len() as i64);
            }
        }
        for claim in &append.claims {
            let made = state
                .claims
                .contains(&(claim.scope.clone(), claim.value.clone()));
            if made || !claims.insert(claim) {
                return Err(StoreError::ClaimTaken(claim.clone()));
            }
        }
    }
    Ok(())
}

/// Adds the rows of a checked command and moves the batch's state past it.
fn accept(
    append: &PreparedAppend,
    state: &mut BatchState,
    rows: &mut BatchRows,
    recorded_at: DateTime<Utc>,
) -> AppendOutcome {
    let first_position = state.position + 1;
    let mut streams = Vec::with_capacity(append.streams.len());
    for stream in &append.streams {
        let mut version = state.versions.get(&stream.stream_id).copied().unwrap_or(0);
        for event in &stream.events {
            state.position += 1;
            version += 1;
            let bytes = canonical_bytes(
                state.position,
                event.event_id,
                &stream.stream_id,
                version,
                &event.event_type,
                event.schema_version,
                recorded_at,
                &event.payload,
                &append.metadata,
            );
            let hash = chain_hash(&state.hash, &bytes);
            rows.positions.push(state.position);
            rows.event_ids.push(event.event_id);
            rows.stream_ids.push(stream.stream_id.clone());
            rows.stream_versions.push(version);
            rows.event_types.push(event.event_type.clone());
            rows.schema_versions.push(event.schema_version);
            rows.payloads.push(event.payload.clone());
            rows.metadata.push(append.metadata.clone());
            rows.recorded_at.push(recorded_at);
            rows.prev_hashes.push(state.hash.to_vec());
            rows.hashes.push(hash.to_vec());
            state.hash = hash;
        }
        if !stream.events.is_empty() {
            state.versions.insert(stream.stream_id.clone(), version);
            state
                .stream_positions
                .insert(stream.stream_id.clone(), state.position);
        }
        streams.push(StreamVersion {
            stream_id: stream.stream_id.clone(),
            version,
        });
    }
    let outcome = AppendOutcome {
        first_position: if append.event_count() == 0 {
            state.position
        } else {
            first_position
        },
        last_position: state.position,
        event_count: append.event_count() as i64,
        streams,
        reply: append.reply.clone(),
        replayed: false,
    };
    // The messages' cursor: the append's last position (it has events, `prepare` checks) and
    // their index.
    for (index, (kind, payload)) in (0..).zip(&append.outbox) {
        rows.outbox_positions.push(state.position);
        rows.outbox_indexes.push(index);
        rows.outbox_kinds.push(kind.clone());
        rows.outbox_payloads.push(payload.clone());
    }
    for claim in &append.claims {
        state
            .claims
            .insert((claim.scope.clone(), claim.value.clone()));
        rows.claim_scopes.push(claim.scope.clone());
        rows.claim_values.push(claim.value.clone());
        rows.claim_positions.push(state.position);
    }
    rows.command_ids.push(append.command_id);
    rows.request_hashes.push(append.request_hash.to_vec());
    rows.results.push(
        serde_json::to_value(&outcome).expect("an outcome is plain data and always serializes"),
    );
    state
        .commands
        .insert(append.command_id, (append.request_hash, outcome.clone()));
    state.accepted.insert(append.ticket.id());
    outcome
}
