//! Account commands, pipelined: a command on an account decides on the state the previous
//! command of this process leaves, queues its append chained after that one, and lets go of
//! the account's lock as soon as the append is queued, not when it commits. Many commands on
//! one busy account (the gateway's hot organization) then share a group commit instead of
//! taking one commit each.
//!
//! The writer refuses an append whose predecessor did not commit, so a command never lands on
//! events that are not in the log; it is then decided again on the log, without chaining.

use std::sync::Arc;

use ledger_domain::{AccountId, Decision};
use ledger_eventstore::{AppendOutcome, AppendRequest, Settled, StoreError, Ticket};

use super::App;
use super::cache::Versioned;
use super::command::{LedgerCommand, Loader};
use super::execute::{AfterAppend, Call, Claimed, Executed, MAX_ATTEMPTS, append_request};
use super::load::{AccountView, Fold};
use super::locks::StreamGuard;
use crate::error::AppError;

/// The last append this process queued on an account, and the state it leaves.
pub struct Tail {
    /// The account's state with the append's events folded in.
    pub state: Arc<AccountView>,
    /// Where the append stands.
    pub ticket: Ticket,
}

/// What a command decides on.
pub(super) struct Basis {
    pub(super) view: Arc<AccountView>,
    /// The queued append `view` includes, when it is not committed yet (or not known to be).
    pub(super) after: Option<Ticket>,
}

/// Where a decided command's append (or a group's) goes in the stream's pipeline.
pub(super) struct Chained {
    pub(super) stream: String,
    /// The append it was decided after, if that one is not known to have committed.
    pub(super) after: Option<Ticket>,
    /// The state the append leaves.
    pub(super) after_decision: Arc<AccountView>,
}

impl App {
    /// Runs a command on one account stream, pipelined (see the module). Retries are
    /// recognised as with [`RetryCheck::AtAppend`](super::RetryCheck::AtAppend): the command
    /// must only read and decide.
    pub(super) async fn run_pipelined<C: LedgerCommand>(
        &self,
        call: &Call<'_>,
        account: AccountId,
        command: &C,
    ) -> Result<Executed, AppError> {
        let stream = account.stream();
        // After a failed attempt, decide on the log rather than on queued appends.
        let mut chain = true;
        let mut last_conflict = None;
        // Attempts that met another command's append: a predecessor failing only costs the
        // one attempt that chained on it (chaining stops then), so it is not counted.
        let mut conflicts = 0;
        while conflicts < MAX_ATTEMPTS {
            let guard = self.lock_account(&stream).await;
            let basis = self.basis(account, &stream, &guard, chain).await?;
            let loader = Loader::new(self, Some((account, Arc::clone(&basis.view))));
            let attempt = match self.attempt(command, call.cx, loader).await {
                Ok(attempt) => attempt,
                Err(error) => {
                    // A refusal queues nothing: the stream need not wait for it.
                    drop(guard);
                    // A refusal decided on events not yet committed stands only if they commit.
                    if let Some(after) = &basis.after
                        && after.wait_settled().await == Settled::Failed
                    {
                        chain = false;
                        continue;
                    }
                    // It may be the retry of a request already recorded: see `App::run_locked`.
                    return self.replay_or(call, error).await;
                }
            };
            let after_decision = leaves(&basis.view, &stream, &attempt.decision)?;
            let claimed = Claimed::of(&attempt.decision);
            let request = append_request(call, &attempt, &claimed);
            let queue = Chained {
                stream: stream.clone(),
                after: basis.after,
                after_decision,
            };
            let answer = self
                .append_chained(guard, vec![request], vec![attempt.decision], queue)
                .await?
                .and_then(only);
            let predecessor_failed = matches!(answer, Err(StoreError::PredecessorFailed));
            match self
                .after_append(call, answer, &claimed, &mut last_conflict)
                .await?
            {
                AfterAppend::Done(executed) => return Ok(executed),
                AfterAppend::Retry => {
                    chain = false;
                    conflicts += usize::from(!predecessor_failed);
                }
            }
        }
        tracing::warn!(rpc = call.rpc, command_id = %call.command_id, "command gave up after repeated conflicts");
        Err(AppError::Contended)
    }

    pub(super) async fn lock_account(&self, stream: &str) -> StreamGuard {
        let mut guards = self.locks.lock(&[stream.to_owned()]).await;
        guards.pop().expect("one stream locked")
    }

    /// The state to decide on. While chaining: the state a still-queued tail leaves; a committed
    /// tail's, unless the cache has seen the stream further (another process appended and a
    /// read brought it in); with no tail, the cached state. Otherwise (after a failure, the
    /// tail's or this command's): the log, once the tail is settled.
    pub(super) async fn basis(
        &self,
        account: AccountId,
        stream: &str,
        tail: &Option<Tail>,
        chain: bool,
    ) -> Result<Basis, AppError> {
        let logged = |view| Basis { view, after: None };
        match tail.as_ref().map(|tail| (tail, tail.ticket.settled())) {
            Some((tail, None)) if chain => Ok(Basis {
                view: Arc::clone(&tail.state),
                after: Some(tail.ticket.clone()),
            }),
            Some((tail, Some(Settled::Committed))) if chain => {
                let view = match self.states.accounts.get(stream) {
                    Some(cached) if cached.version() > tail.state.version() => cached,
                    _ => Arc::clone(&tail.state),
                };
                Ok(logged(view))
            }
            None if chain => Ok(logged(self.account_cached(account).await?)),
            Some((tail, _)) => {
                tail.ticket.wait_settled().await;
                Ok(logged(self.account(account).await?))
            }
            None => Ok(logged(self.account(account).await?)),
        }
    }

    /// Queues the appends of `decisions` (one command's, or a group's: all or none) chained
    /// after `after`, makes them the stream's tail, lets go of the stream's lock, and waits for
    /// the writer's answer; once committed, the state it leaves is
    /// cached and the tail, if still this append's and the lock free, dropped (the cache holds
    /// the same). All of it runs in a task of its own, so a caller that goes away cannot leave
    /// the tail, the cache or the key index behind. A failed append stays the tail: the next
    /// command sees it failed and reads the log.
    pub(super) async fn append_chained(
        &self,
        mut guard: StreamGuard,
        requests: Vec<AppendRequest>,
        decisions: Vec<Decision>,
        chained: Chained,
    ) -> Result<Result<Vec<AppendOutcome>, StoreError>, AppError> {
        let appender = self.appender.clone();
        let states = Arc::clone(&self.states);
        let keys = Arc::clone(&self.keys);
        let Chained {
            stream,
            after,
            after_decision,
        } = chained;
        // Before queueing: the state this append leaves is current as of this check.
        let check = appender.watch().checks();
        let task = tokio::spawn(async move {
            let queued = match appender.enqueue_group(requests, after).await {
                Ok(queued) => queued,
                Err(error) => return Err(error),
            };
            let ticket = queued.ticket().clone();
            *guard = Some(Tail {
                state: Arc::clone(&after_decision),
                ticket: ticket.clone(),
            });
            let slot = Arc::clone(StreamGuard::mutex(&guard));
            drop(guard);
            let result = queued.outcomes().await;
            if matches!(&result, Ok(outcomes) if outcomes.iter().all(|o| !o.replayed)) {
                for decision in &decisions {
                    keys.record(decision.events());
                }
                states.accounts.put(&stream, after_decision, check);
                if let Ok(mut tail) = slot.try_lock()
                    && tail.as_ref().is_some_and(|tail| tail.ticket.is(&ticket))
                {
                    *tail = None;
                }
            }
            result
        });
        task.await
            .map_err(|error| AppError::Internal(format!("append task failed: {error}")))
    }
}

/// The one outcome of a single command's append.
fn only(mut outcomes: Vec<AppendOutcome>) -> Result<AppendOutcome, StoreError> {
    match outcomes.len() {
        1 => Ok(outcomes.swap_remove(0)),
        n => Err(StoreError::Malformed(format!(
            "one append answered with {n} outcomes"
        ))),
    }
}

/// The account's state once `decision`'s events are folded into `view`.
fn leaves(
    view: &Arc<AccountView>,
    stream: &str,
    decision: &Decision,
) -> Result<Arc<AccountView>, AppError> {
    let mut state = Arc::clone(view);
    fold_decision(&mut state, stream, decision)?;
    Ok(state)
}

/// Folds `decision`'s events into `view`, copying the state only if another holder shares it
/// (a group's first command copies the account's state, the others fold into that copy). An
/// account command appends to its own stream only (it may name others as preconditions, e.g.
/// the membership of the dashboard user acting on an organization's account).
pub(super) fn fold_decision(
    view: &mut Arc<AccountView>,
    stream: &str,
    decision: &Decision,
) -> Result<(), AppError> {
    if let Some(other) = decision
        .changes
        .iter()
        .find(|c| c.stream != stream && !c.events.is_empty())
    {
        return Err(AppError::Internal(format!(
            "an account command decided to append to {}",
            other.stream
        )));
    }
    let events = decision.events_for(stream);
    if events.is_empty() {
        return Ok(());
    }
    let state = Arc::make_mut(view);
    for event in events {
        state.fold(event)?;
    }
    Ok(())
}
