//! Executing a command: idempotency pre-check, decide, append, retry on conflict.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ledger_domain::{
    Decision, DomainError, ExpectedVersion, GenerationId, HoldId, InvitationId, KeyId,
};
use ledger_eventstore::{
    AppendOutcome, AppendRequest, EventMetadata, NewEvent, StoreError, StreamAppend, UniqueClaim,
    find_command,
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

pub(super) fn to_request(
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

/// What follows an attempt's append.
pub(super) enum AfterAppend {
    /// The command's result.
    Done(Executed),
    /// Decide again.
    Retry,
}

/// How a command learns that it is the retry of one already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCheck {
    /// Look the command id up before deciding: for decide steps that write outside the log
    /// (personal data), which must not run again for a retry.
    BeforeDeciding,
    /// Let the append tell: the store answers a recorded command id with its stored outcome
    /// and appends nothing (and a decision that fails looks the id up). One database round
    /// trip less per command; for decide steps that only read and decide.
    AtAppend,
}

impl App {
    /// Runs a command: answers a retry from its stored outcome (recognised as `retry_check`
    /// says), otherwise decides (again after each conflict, at most [`MAX_ATTEMPTS`] times) and
    /// appends, holding the per-stream locks of `streams` (the streams it is expected to
    /// write) meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub async fn execute<'a, F>(
        &'a self,
        cx: &CallContext,
        rpc: &str,
        message: &impl prost::Message,
        command_id: Uuid,
        streams: &[String],
        retry_check: RetryCheck,
        decide: F,
    ) -> Result<Executed, AppError>
    where
        F: Fn() -> BoxFuture<'a, Result<Decided, AppError>>,
    {
        let hash = request_hash(cx, rpc, &message.encode_to_vec());
        if retry_check == RetryCheck::BeforeDeciding {
            if let Some(found) = self.replay(command_id, hash).await? {
                return Ok(found);
            }
        }
        let mut guards = self.locks.lock(streams).await;
        // This command decides on the log, not on a queued tail: let the tails settle first
        // (and keep them until they have, should this caller go away meanwhile).
        for guard in &mut guards {
            if let Some(ticket) = guard.as_ref().map(|tail| tail.ticket.clone()) {
                ticket.wait_settled().await;
                **guard = None;
            }
        }
        let mut last_conflict: Option<(String, String)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let decided = match decide().await {
                Ok(decided) => decided,
                Err(error) => {
                    // The request may have been recorded already (a retry, or an identical
                    // request racing this one), which is why its decision now fails (e.g. the
                    // hold it placed exists): answer as it was answered then.
                    return self.replay_or(command_id, hash, error).await;
                }
            };
            let request = to_request(cx, command_id, hash, &decided);
            let answer = self.append(request, decided.decision).await?;
            match self
                .after_append(answer, command_id, hash, &mut last_conflict)
                .await?
            {
                AfterAppend::Done(executed) => return Ok(executed),
                AfterAppend::Retry => {}
            }
        }
        tracing::warn!(rpc, %command_id, "command gave up after repeated conflicts");
        Err(AppError::Contended)
    }

    /// What the writer's answer to an attempt means for the command: its result, or another
    /// attempt (the streams moved, or the append it was chained after did not commit).
    /// `last_conflict` is the previous attempt's conflict, if any.
    pub(super) async fn after_append(
        &self,
        answer: Result<AppendOutcome, StoreError>,
        command_id: Uuid,
        hash: [u8; 32],
        last_conflict: &mut Option<(String, String)>,
    ) -> Result<AfterAppend, AppError> {
        match answer {
            Ok(outcome) => Ok(AfterAppend::Done(Executed {
                position: outcome.last_position,
                reply: outcome.reply,
                replayed: outcome.replayed,
            })),
            Err(StoreError::Conflict {
                stream_id,
                expected,
                actual,
            }) => {
                self.states.forget_if_ahead(&stream_id, actual);
                // A decision that twice expects a stream not to exist, which does, names a new
                // id that is taken (e.g. a caller-chosen account id): retrying cannot help.
                let conflict = (stream_id, expected);
                if conflict.1 == "NoStream" && last_conflict.as_ref() == Some(&conflict) {
                    return Err(AppError::IdTaken(conflict.0));
                }
                *last_conflict = Some(conflict);
                Ok(AfterAppend::Retry)
            }
            Err(StoreError::PredecessorFailed) => Ok(AfterAppend::Retry),
            Err(StoreError::ClaimTaken { scope, value }) => Err(claim_error(&scope, &value)),
            // A concurrent identical request may have won the race.
            Err(StoreError::CommandIdReused { .. }) => self
                .replay_or(command_id, hash, AppError::CommandIdReused)
                .await
                .map(AfterAppend::Done),
            Err(other) => Err(other.into()),
        }
    }

    /// Appends a decided command and, when its events were appended (not a retry answered from
    /// the stored outcome), folds them into the cached states and the key index. Both run in a
    /// task of their own, so a caller that goes away mid-append cannot leave the cache behind
    /// the log (the writer's watch would then vouch for a stale state).
    async fn append(
        &self,
        request: AppendRequest,
        decision: Decision,
    ) -> Result<Result<AppendOutcome, StoreError>, AppError> {
        let appender = self.appender.clone();
        let states = Arc::clone(&self.states);
        let keys = Arc::clone(&self.keys);
        // Before queueing: the states this append produces are current as of this check.
        let check = appender.watch().checks();
        let task = tokio::spawn(async move {
            let result = appender.append(request).await;
            if matches!(&result, Ok(outcome) if !outcome.replayed) {
                keys.record(decision.events());
                states.advance(&decision, check);
            }
            result
        });
        task.await
            .map_err(|error| AppError::Internal(format!("append task failed: {error}")))
    }

    /// The stored outcome of `command_id` if it was recorded with this request, else `error`
    /// (or [`AppError::CommandIdReused`] if it was recorded with another request).
    pub(super) async fn replay_or(
        &self,
        command_id: Uuid,
        hash: [u8; 32],
        error: AppError,
    ) -> Result<Executed, AppError> {
        match self.replay(command_id, hash).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(error),
            Err(AppError::CommandIdReused) => Err(AppError::CommandIdReused),
            Err(lookup) => {
                tracing::warn!(error = %lookup, %command_id, "retry look-up failed; answering the decision's error");
                Err(error)
            }
        }
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
