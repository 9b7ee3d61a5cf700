//! Running a command: the idempotency check, decide, append, retry on conflict, and the typed
//! reply. One entry point, [`App::run`], for every command; the pipelined account path is in
//! `pipeline.rs`.

use std::sync::Arc;

use ledger_domain::account::AccountEvent;
use ledger_domain::{CommandId, Credits, Decision, Event, UniqueClaim};
use ledger_eventstore::{
    AppendOutcome, AppendRequest, EventMetadata, ExpectedVersion, OutboxMessage, StoreError,
    claim_position, find_command, read_all,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::App;
use super::command::{Decided, Done, LedgerCommand, Loader, RetryCheck, Route};
use super::load::decode;
use crate::auth::CallContext;
use crate::error::AppError;

/// How many times a command is decided again after its streams moved.
pub const MAX_ATTEMPTS: usize = 5;

/// One command call: who sent it, under which id, and the hash of what was sent.
pub(super) struct Call<'a> {
    pub cx: &'a CallContext,
    pub command_id: CommandId,
    pub hash: [u8; 32],
    pub rpc: &'static str,
}

impl<'a> Call<'a> {
    /// The call of `rpc` with `message`'s bytes, hashed to recognise its retries.
    pub fn new(
        cx: &'a CallContext,
        command_id: CommandId,
        rpc: &'static str,
        message: &[u8],
    ) -> Self {
        Call {
            cx,
            command_id,
            hash: request_hash(cx, rpc, message),
            rpc,
        }
    }
}

/// What a command reached, with its reply as stored.
#[derive(Clone)]
pub(super) struct Executed {
    position: i64,
    reply: serde_json::Value,
    replayed: bool,
}

impl Executed {
    pub(super) fn of(outcome: AppendOutcome) -> Self {
        Self {
            position: outcome.last_position,
            reply: outcome.reply,
            replayed: outcome.replayed,
        }
    }

    /// The same outcome, answered to a retry.
    pub(super) fn replayed(self) -> Self {
        Self {
            replayed: true,
            ..self
        }
    }

    /// The outcome with its stored reply read back as the command's reply type.
    pub(super) fn typed<R: DeserializeOwned>(self) -> Result<Done<R>, AppError> {
        let reply = serde_json::from_value(self.reply)
            .map_err(|e| AppError::Internal(format!("stored reply does not decode: {e}")))?;
        Ok(Done {
            position: self.position,
            reply,
            replayed: self.replayed,
        })
    }
}

/// An attempt's decision, ready to append.
pub(super) struct Attempt {
    pub decision: Decision,
    pub reply: serde_json::Value,
    /// The decision's notices, written with its events.
    pub outbox: Vec<OutboxMessage>,
}

/// What follows an attempt's append.
pub(super) enum AfterAppend {
    /// The command's result.
    Done(Executed),
    /// Decide again.
    Retry,
}

/// `SHA-256(rpc ‖ caller kind ‖ actor ‖ request bytes)`, each part length-prefixed.
pub fn request_hash(cx: &CallContext, rpc: &str, message: &[u8]) -> [u8; 32] {
    let actor = cx.actor().unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [
        rpc.as_bytes(),
        cx.kind_name().as_bytes(),
        actor.as_bytes(),
        message,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The append of an attempt: its streams and claims through the codec, the call's metadata.
pub(super) fn append_request(
    call: &Call<'_>,
    attempt: &Attempt,
    claimed: &Claimed,
) -> AppendRequest {
    let command_id = call.command_id.as_uuid();
    AppendRequest {
        command_id,
        request_hash: call.hash,
        metadata: EventMetadata {
            caller_kind: call.cx.kind_name().to_owned(),
            actor_id: call.cx.actor(),
            command_id,
            correlation_id: call.cx.correlation_id,
            causation_id: None,
            credential: call.cx.credential.as_deref().map(str::to_owned),
        },
        streams: ledger_codec::streams(&attempt.decision),
        claims: claimed.claims.iter().map(ledger_codec::claim).collect(),
        reply: attempt.reply.clone(),
        outbox: attempt.outbox.clone(),
    }
}

/// What an attempt claimed, kept to explain a claim the log already holds: the claims, and
/// the amount of a purchase (a provider's payment credited twice with the same amount is the
/// same purchase).
pub(super) struct Claimed {
    pub(super) claims: Vec<UniqueClaim>,
    purchase: Option<Credits>,
}

impl Claimed {
    pub(super) fn of(decision: &Decision) -> Self {
        Self {
            claims: decision.unique_claims(),
            purchase: decision.events().find_map(|event| match event {
                Event::Account(AccountEvent::CreditsPurchased(purchase)) => Some(purchase.amount),
                _ => None,
            }),
        }
    }
}

/// The previous attempt's conflict: a stream and what the attempt expected of it.
pub(super) type LastConflict = Option<(String, ExpectedVersion)>;

impl App {
    /// Runs a command sent as `message` (the request's bytes, hashed to recognise retries)
    /// under `command_id`: answers a retry from its stored outcome, otherwise decides (again
    /// after each conflict, at most [`MAX_ATTEMPTS`] times) and appends, as the command's
    /// route says.
    pub async fn run<C: LedgerCommand>(
        &self,
        cx: &CallContext,
        command_id: CommandId,
        message: &[u8],
        command: C,
    ) -> Result<Done<C::Reply>, AppError> {
        // Every command comes through here: a read-only ledgerd refuses them all in this one
        // place, before anything is decided or written.
        if self.read_only {
            return Err(AppError::ReadOnlyReplica);
        }
        let call = Call::new(cx, command_id, command.rpc(), message);
        if C::RETRY == RetryCheck::BeforeDeciding
            && let Some(found) = self.replay(&call).await?
        {
            return found.typed();
        }
        let executed = match command.route() {
            Route::Account(account) => self.run_pipelined(&call, account, &command).await?,
            Route::Streams(streams) => self.run_locked(&call, &streams, &command).await?,
        };
        executed.typed()
    }

    /// Loads, decides and writes outside the log: one attempt's decision.
    pub(super) async fn attempt<C: LedgerCommand>(
        &self,
        command: &C,
        cx: &CallContext,
        loader: Loader<'_>,
    ) -> Result<Attempt, AppError> {
        let state = command.load(&loader, &cx.caller).await?;
        let decided: Decided<C::Reply> = command.decide(&state, &cx.caller)?;
        let outbox = self.outbox(&decided.decision, &loader).await?;
        command.write_outside_log(self, &decided).await?;
        let reply = serde_json::to_value(&decided.reply)
            .map_err(|e| AppError::Internal(format!("reply does not encode: {e}")))?;
        Ok(Attempt {
            decision: decided.decision,
            reply,
            outbox,
        })
    }

    /// Runs a command holding the locks of `streams`, deciding on the log.
    async fn run_locked<C: LedgerCommand>(
        &self,
        call: &Call<'_>,
        streams: &[String],
        command: &C,
    ) -> Result<Executed, AppError> {
        let mut guards = self.locks.lock(streams).await;
        // This command decides on the log, not on a queued tail: let the tails settle first
        // (and keep them until they have, should this caller go away meanwhile).
        for guard in &mut guards {
            if let Some(ticket) = guard.as_ref().map(|tail| tail.ticket.clone()) {
                ticket.wait_settled().await;
                **guard = None;
            }
        }
        let mut last_conflict = None;
        for _ in 0..MAX_ATTEMPTS {
            let attempt = match self
                .attempt(command, call.cx, Loader::new(self, None))
                .await
            {
                Ok(attempt) => attempt,
                // The request may have been recorded already (a retry, or an identical request
                // racing this one), which is why its decision now fails (e.g. the hold it
                // placed exists): answer as it was answered then.
                Err(error) => return self.replay_or(call, error).await,
            };
            let claimed = Claimed::of(&attempt.decision);
            let request = append_request(call, &attempt, &claimed);
            let answer = self.append(request, attempt.decision).await?;
            match self
                .after_append(call, answer, &claimed, &mut last_conflict)
                .await?
            {
                AfterAppend::Done(executed) => return Ok(executed),
                AfterAppend::Retry => {}
            }
        }
        tracing::warn!(rpc = call.rpc, command_id = %call.command_id, "command gave up after repeated conflicts");
        Err(AppError::Contended)
    }

    /// What the writer's answer to an attempt means for the command: its result, or another
    /// attempt (the streams moved, or the append it was chained after did not commit).
    /// `claimed` is what the attempt claimed; `last_conflict` the previous attempt's conflict,
    /// if any.
    pub(super) async fn after_append(
        &self,
        call: &Call<'_>,
        answer: Result<AppendOutcome, StoreError>,
        claimed: &Claimed,
        last_conflict: &mut LastConflict,
    ) -> Result<AfterAppend, AppError> {
        match answer {
            Ok(outcome) => Ok(AfterAppend::Done(Executed::of(outcome))),
            Err(StoreError::Conflict {
                stream_id,
                expected,
                actual,
            }) => {
                self.states.forget_if_ahead(&stream_id, actual);
                // A decision that twice expects a stream not to exist, which does, names a new
                // id that is taken (e.g. a caller-chosen account id): retrying cannot help.
                let conflict = (stream_id, expected);
                if expected == ExpectedVersion::NoStream
                    && last_conflict.as_ref() == Some(&conflict)
                {
                    return Err(AppError::IdTaken(conflict.0));
                }
                *last_conflict = Some(conflict);
                Ok(AfterAppend::Retry)
            }
            Err(StoreError::PredecessorFailed) => Ok(AfterAppend::Retry),
            Err(StoreError::ClaimTaken(taken)) => self.claim_taken(claimed, &taken).await,
            // A concurrent identical request may have won the race.
            Err(StoreError::CommandIdReused { .. }) => self
                .replay_or(call, AppError::CommandIdReused)
                .await
                .map(AfterAppend::Done),
            Err(other) => Err(other.into()),
        }
    }

    /// What a claim the log already holds means for the command: a payment credited before
    /// with the same amount answers as that purchase did (whatever its command id); a claim
    /// not visible yet (made in a batch still committing) is decided again; anything else is
    /// the refusal the claim stands for.
    pub(super) async fn claim_taken(
        &self,
        claimed: &Claimed,
        taken: &ledger_eventstore::UniqueClaim,
    ) -> Result<AfterAppend, AppError> {
        let Some(claim) = claimed
            .claims
            .iter()
            .find(|claim| ledger_codec::claim(claim) == *taken)
        else {
            return Err(AppError::Internal(format!(
                "a claim the command did not make was taken: {}",
                taken.scope
            )));
        };
        if let (UniqueClaim::Payment { .. }, Some(amount)) = (claim, claimed.purchase) {
            match self.first_purchase(taken).await? {
                None => return Ok(AfterAppend::Retry),
                Some((first, outcome)) if first == amount => {
                    return Ok(AfterAppend::Done(Executed {
                        replayed: true,
                        ..Executed::of(outcome)
                    }));
                }
                Some(_) => {}
            }
        }
        Err(claim.already_made().map_or_else(
            || AppError::Internal(format!("unexpected claim conflict on {}", taken.scope)),
            AppError::Domain,
        ))
    }

    /// The amount and the stored outcome of the purchase that made a payment claim, once its
    /// claim is visible.
    async fn first_purchase(
        &self,
        taken: &ledger_eventstore::UniqueClaim,
    ) -> Result<Option<(Credits, AppendOutcome)>, AppError> {
        let Some(position) = claim_position(&self.log, taken).await? else {
            return Ok(None);
        };
        let events = read_all(&self.log, position - 1, 1).await?;
        let Some(recorded) = events.first().filter(|e| e.position == position) else {
            return Ok(None);
        };
        let Event::Account(AccountEvent::CreditsPurchased(purchase)) = decode(recorded)? else {
            return Err(AppError::Internal(format!(
                "the payment claim at {position} is not a purchase"
            )));
        };
        let metadata = recorded
            .metadata()
            .map_err(|e| AppError::Internal(format!("metadata at {position}: {e}")))?;
        let outcome = find_command(&self.log, metadata.command_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("no command for position {position}")))?;
        Ok(Some((purchase.amount, outcome.1)))
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

    /// The stored outcome of the call's command id if it was recorded with this request, else
    /// `error` (or [`AppError::CommandIdReused`] if it was recorded with another request).
    pub(super) async fn replay_or(
        &self,
        call: &Call<'_>,
        error: AppError,
    ) -> Result<Executed, AppError> {
        match self.replay(call).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(error),
            Err(AppError::CommandIdReused) => Err(AppError::CommandIdReused),
            Err(lookup) => {
                tracing::warn!(error = %lookup, command_id = %call.command_id, "retry look-up failed; answering the decision's error");
                Err(error)
            }
        }
    }

    async fn replay(&self, call: &Call<'_>) -> Result<Option<Executed>, AppError> {
        match find_command(&self.log, call.command_id.as_uuid()).await? {
            None => Ok(None),
            Some((stored, outcome)) if stored == call.hash => Ok(Some(Executed {
                replayed: true,
                ..Executed::of(outcome)
            })),
            Some(_) => Err(AppError::CommandIdReused),
        }
    }
}
