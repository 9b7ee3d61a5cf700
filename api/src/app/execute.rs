//! Executing a command: idempotency pre-check, decide, append, retry on conflict.

use std::future::Future;
use std::pin::Pin;

use ledger_domain::{
    Decision, DomainError, ExpectedVersion, GenerationId, HoldId, InvitationId, KeyId,
};
use ledger_eventstore::{
    AppendRequest, EventMetadata, NewEvent, StoreError, StreamAppend, UniqueClaim, find_command,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::App;
use crate::auth::CallContext;
use crate::error::AppError;

/// How many times a command is decided again after its streams moved.
pub const MAX_ATTEMPTS: usize = 5;

/// A boxed, sendable future (the decide step of a command).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a command decided, and what its reply (stored for retries, never a secret) holds.
pub struct Decided {
    /// The events per stream.
    pub decision: Decision,
    /// The reply without the position; stored with the command.
    pub reply: serde_json::Value,
}

impl Decided {
    /// A decision with an empty reply.
    pub fn new(decision: Decision) -> Self {
        Self {
            decision,
            reply: serde_json::Value::Null,
        }
    }
}

/// What a command reached.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The last position the command reached (the head, when it appended nothing).
    pub position: i64,
    /// The stored reply.
    pub reply: serde_json::Value,
    /// Whether this was answered from the stored outcome of an earlier identical request.
    pub replayed: bool,
}

/// `SHA-256(rpc ‖ caller kind ‖ actor ‖ protobuf request)`, each part length-prefixed.
pub fn request_hash(cx: &CallContext, rpc: &str, message: &[u8]) -> [u8; 32] {
    let actor = cx.actor().unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [
        rpc.as_bytes(),
        cx.kind_name().as_bytes(),
        actor.as_bytes(),
        message,
    ] {
        hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn expected(version: ExpectedVersion) -> ledger_eventstore::ExpectedVersion {
    match version {
        ExpectedVersion::NoStream => ledger_eventstore::ExpectedVersion::NoStream,
        ExpectedVersion::Exact(n) => {
            ledger_eventstore::ExpectedVersion::Exact(i64::try_from(n).unwrap_or(i64::MAX))
        }
    }
}

fn to_request(
    cx: &CallContext,
    command_id: Uuid,
    hash: [u8; 32],
    decided: &Decided,
) -> AppendRequest {
    let streams = decided
        .decision
        .changes
        .iter()
        .map(|change| StreamAppend {
            stream_id: change.stream.clone(),
            expected: expected(change.expected),
            events: change
                .events
                .iter()
                .map(|event| NewEvent {
                    event_id: Uuid::now_v7(),
                    event_type: event.event_type().to_owned(),
                    schema_version: i32::from(event.schema_version()),
                    payload: event.to_payload(),
                })
                .collect(),
        })
        .collect();
    let claims = decided
        .decision
        .unique_claims()
        .into_iter()
        .map(|c| UniqueClaim {
            scope: c.scope.to_owned(),
            value: c.value,
        })
        .collect();
    AppendRequest {
        command_id,
        request_hash: hash,
        metadata: EventMetadata {
            caller_kind: cx.kind_name().to_owned(),
            actor_id: cx.actor(),
            command_id,
            correlation_id: cx.correlation_id,
            causation_id: None,
        },
        streams,
        claims,
        reply: decided.reply.clone(),
    }
}

/// Whether `outcome` is the result of appending `decision` (each written stream ended at its
/// expected version plus its events), rather than a stored outcome of an earlier request.
fn is_outcome_of(decision: &Decision, outcome: &ledger_eventstore::AppendOutcome) -> bool {
    let expected_events: usize = decision.changes.iter().map(|c| c.events.len()).sum();
    if usize::try_from(outcome.event_count).ok() != Some(expected_events) {
        return false;
    }
    decision
        .changes
        .iter()
        .filter(|c| !c.events.is_empty())
        .all(|change| {
            let before = match change.expected {
                ExpectedVersion::NoStream => 0,
                ExpectedVersion::Exact(n) => n,
            };
            let after = before + u64::try_from(change.events.len()).unwrap_or(u64::MAX);
            outcome.streams.iter().any(|s| {
                s.stream_id == change.stream && u64::try_from(s.version).ok() == Some(after)
            })
        })
}

/// The domain error a taken unique claim stands for.
fn claim_error(scope: &str, value: &str) -> AppError {
    let tail = value.rsplit_once('/').map_or(value, |(_, t)| t);
    let uuid = Uuid::parse_str(tail);
    let error = match (scope, uuid) {
        ("generation", _) => GenerationId::parse(tail)
            .ok()
            .map(DomainError::GenerationAlreadyRecorded),
        ("hold", Ok(id)) => Some(DomainError::HoldAlreadyExists(HoldId::from_uuid(id))),
        ("key", Ok(id)) => Some(DomainError::KeyAlreadyExists(KeyId::from_uuid(id))),
        ("invitation", Ok(id)) => Some(DomainError::InvitationAlreadyExists(
            InvitationId::from_uuid(id),
        )),
        _ => None,
    };
    error.map_or_else(
        || AppError::Internal(format!("unexpected claim conflict on {scope}")),
        AppError::Domain,
    )
}

impl App {
    /// Runs a command: answers a retry from the stored outcome, otherwise decides (again after
    /// each conflict, at most [`MAX_ATTEMPTS`] times) and appends, holding the per-stream
    /// locks of `streams` (the streams it is expected to write) meanwhile.
    pub async fn execute<'a, F>(
        &'a self,
        cx: &CallContext,
        rpc: &str,
        message: &impl prost::Message,
        command_id: Uuid,
        streams: &[String],
        decide: F,
    ) -> Result<Executed, AppError>
    where
        F: Fn() -> BoxFuture<'a, Result<Decided, AppError>>,
    {
        let hash = request_hash(cx, rpc, &message.encode_to_vec());
        if let Some(found) = self.replay(command_id, hash).await? {
            return Ok(found);
        }
        let _guards = self.locks.lock(streams).await;
        let mut last_conflict: Option<(String, String)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let decided = match decide().await {
                Ok(decided) => decided,
                Err(error @ AppError::Domain(_)) => {
                    // An identical request racing this one may have been recorded meanwhile
                    // (e.g. the hold it placed now makes this decision fail): answer as it was.
                    return match self.replay(command_id, hash).await? {
                        Some(found) => Ok(found),
                        None => Err(error),
                    };
                }
                Err(error) => return Err(error),
            };
            let request = to_request(cx, command_id, hash, &decided);
            match self.appender.append(request).await {
                Ok(outcome) => {
                    // The store answers an identical request recorded meanwhile with its stored
                    // outcome: then these events were not appended and must not reach the cache.
                    let appended = is_outcome_of(&decided.decision, &outcome);
                    if appended {
                        self.keys.record(decided.decision.events());
                        self.advance(&decided.decision);
                    }
                    return Ok(Executed {
                        position: outcome.last_position,
                        reply: outcome.reply,
                        replayed: !appended,
                    });
                }
                Err(StoreError::Conflict {
                    stream_id,
                    expected,
                    actual,
                }) => {
                    self.forget_if_ahead(&stream_id, actual);
                    // A decision that twice expects a stream not to exist, which does, names a
                    // new id that is taken (e.g. a caller-chosen account id): retrying cannot help.
                    let conflict = (stream_id, expected);
                    if conflict.1 == "NoStream" && last_conflict.as_ref() == Some(&conflict) {
                        return Err(AppError::IdTaken(conflict.0));
                    }
                    last_conflict = Some(conflict);
                    continue;
                }
                Err(StoreError::ClaimTaken { scope, value }) => {
                    return Err(claim_error(&scope, &value));
                }
                Err(StoreError::CommandIdReused { .. }) => {
                    // A concurrent identical request may have won the race.
                    return match self.replay(command_id, hash).await? {
                        Some(found) => Ok(found),
                        None => Err(AppError::CommandIdReused),
                    };
                }
                Err(other) => return Err(other.into()),
            }
        }
        tracing::warn!(rpc, %command_id, "command gave up after repeated conflicts");
        Err(AppError::Contended)
    }

    async fn replay(&self, command_id: Uuid, hash: [u8; 32]) -> Result<Option<Executed>, AppError> {
        match find_command(&self.pool, command_id).await? {
            None => Ok(None),
            Some((stored, outcome)) if stored == hash => Ok(Some(Executed {
                position: outcome.last_position,
                reply: outcome.reply,
                replayed: true,
            })),
            Some(_) => Err(AppError::CommandIdReused),
        }
    }
}
