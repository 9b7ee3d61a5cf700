//! Several commands on one account in one pass (a batch's items for that account): the
//! account's lock and state taken once, each command decided in order on the state the ones
//! before it leave, and the accepted ones appended as one group (all or none, each under its
//! own command id), pipelined like a single command (`pipeline.rs`). Each command is answered
//! as it would be alone: its own refusal, its stored outcome when it is a retry, and a
//! refusal does not stop the others.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ledger_domain::{AccountId, CommandId, UniqueClaim};
use ledger_eventstore::{Settled, StoreError, find_commands};

use super::App;
use super::command::{Done, LedgerCommand, Loader, RetryCheck, Route};
use super::execute::append_request;
use super::execute::{AfterAppend, Attempt, Call, Claimed, Executed, MAX_ATTEMPTS};
use super::load::AccountView;
use super::pipeline::{Chained, fold_decision};
use crate::auth::CallContext;
use crate::error::AppError;

/// One command of a group: its id, the request's bytes (hashed to recognise retries, as
/// [`App::run`] hashes them) and the command.
pub struct GroupItem<C> {
    /// The command id.
    pub command_id: CommandId,
    /// The request message's bytes.
    pub message: Vec<u8>,
    /// The command; it runs on the group's account.
    pub command: C,
}

/// What each command of the group reached so far (`None`: still to decide).
type Answers = Vec<Option<Result<Executed, AppError>>>;

/// A command accepted in a pass, ready to append.
struct Member {
    index: usize,
    attempt: Attempt,
    claimed: Claimed,
}

/// One pass over the commands still to decide.
struct Pass {
    /// Accepted, in order: appended together.
    members: Vec<Member>,
    /// Refused (standing only if the members commit), with the decision's error.
    refused: Vec<(usize, AppError)>,
    /// Repeats of a member's command id and request: answered with its outcome.
    repeats: Vec<(usize, usize)>,
    /// The account's state once the members' events are folded in.
    leaves: Arc<AccountView>,
}

impl App {
    /// Runs `items` on `account` as one group (see the module) and answers each, in order.
    /// Only commands that route to `account` and let the append recognise retries
    /// ([`RetryCheck::AtAppend`]) may be grouped; another is refused as an internal error.
    pub async fn run_group<C: LedgerCommand>(
        &self,
        cx: &CallContext,
        account: AccountId,
        items: Vec<GroupItem<C>>,
    ) -> Vec<Result<Done<C::Reply>, AppError>> {
        let mut answers: Answers = items.iter().map(|_| None).collect();
        if self.read_only {
            answers.fill_with(|| Some(Err(AppError::ReadOnlyReplica)));
        }
        let calls: Vec<Call<'_>> = items
            .iter()
            .map(|item| Call::new(cx, item.command_id, item.command.rpc(), &item.message))
            .collect();
        for (item, answer) in items.iter().zip(&mut answers) {
            if C::RETRY != RetryCheck::AtAppend || item.command.route() != Route::Account(account) {
                *answer = Some(Err(AppError::Internal(format!(
                    "{} cannot run in an account group",
                    item.command.rpc()
                ))));
            }
        }
        if let Err(error) = self.run_passes(account, &calls, &items, &mut answers).await {
            for answer in answers.iter_mut().filter(|a| a.is_none()) {
                *answer = Some(Err(shared(&error)));
            }
        }
        answers
            .into_iter()
            .map(|answer| answer.unwrap_or(Err(AppError::Contended))?.typed())
            .collect()
    }

    /// Decides and appends the commands still unanswered, again after each conflict (from the
    /// log, at most [`MAX_ATTEMPTS`] conflicts), until each is answered. Commands left
    /// unanswered gave up; an error is every unanswered command's.
    async fn run_passes<C: LedgerCommand>(
        &self,
        account: AccountId,
        calls: &[Call<'_>],
        items: &[GroupItem<C>],
        answers: &mut Answers,
    ) -> Result<(), AppError> {
        let stream = account.stream();
        let mut chain = true;
        let mut conflicts = 0;
        while conflicts < MAX_ATTEMPTS && answers.iter().any(Option::is_none) {
            let guard = self.lock_account(&stream).await;
            let basis = self.basis(account, &stream, &guard, chain).await?;
            let pass = self
                .decide_pass(account, calls, items, answers, Arc::clone(&basis.view))
                .await?;
            if pass.members.is_empty() {
                // Refusals queue nothing; decided on events not yet committed, they stand only
                // if those commit.
                drop(guard);
                if let Some(after) = &basis.after
                    && after.wait_settled().await == Settled::Failed
                {
                    chain = false;
                    continue;
                }
                self.refusals_stand(calls, pass.refused, &HashSet::new(), answers)
                    .await;
                return Ok(());
            }
            let Pass {
                members,
                refused,
                repeats,
                leaves,
            } = pass;
            let (mut indexes, mut requests, mut decisions, mut claims) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for Member {
                index,
                attempt,
                claimed,
            } in members
            {
                requests.push(append_request(&calls[index], &attempt, &claimed));
                decisions.push(attempt.decision);
                indexes.push(index);
                claims.push(claimed);
            }
            let queue = Chained {
                stream: stream.clone(),
                after: basis.after,
                after_decision: leaves,
            };
            let answer = self
                .append_chained(guard, requests, decisions, queue)
                .await?;
            chain = false;
            match answer {
                Ok(outcomes) => {
                    if outcomes.len() != indexes.len() {
                        return Err(AppError::Internal(format!(
                            "a group of {} commands answered with {} outcomes",
                            indexes.len(),
                            outcomes.len()
                        )));
                    }
                    let executed: Vec<Executed> = outcomes.into_iter().map(Executed::of).collect();
                    for (index, done) in indexes.iter().zip(&executed) {
                        answers[*index] = Some(Ok(done.clone()));
                    }
                    for (index, member) in repeats {
                        answers[index] = Some(Ok(executed[member].clone().replayed()));
                    }
                    let appended = indexes.iter().map(|i| calls[*i].command_id).collect();
                    self.refusals_stand(calls, refused, &appended, answers)
                        .await;
                    return Ok(());
                }
                Err(StoreError::Conflict {
                    stream_id, actual, ..
                }) => {
                    self.states.forget_if_ahead(&stream_id, actual);
                    conflicts += 1;
                }
                // Chaining stops: only the attempt that chained on the failed append is lost.
                Err(StoreError::PredecessorFailed) => {}
                Err(StoreError::ClaimTaken(taken)) => {
                    let code = |claim: &UniqueClaim| ledger_codec::claim(claim) == taken;
                    let Some(member) = claims.iter().position(|c| c.claims.iter().any(code)) else {
                        return Err(AppError::Internal(format!(
                            "a claim no command of the group made was taken: {}",
                            taken.scope
                        )));
                    };
                    match self.claim_taken(&claims[member], &taken).await {
                        Ok(AfterAppend::Done(executed)) => {
                            answers[indexes[member]] = Some(Ok(executed));
                        }
                        Ok(AfterAppend::Retry) => conflicts += 1,
                        Err(error) => answers[indexes[member]] = Some(Err(error)),
                    }
                }
                // A command of the group was recorded before (a retry, or an identical request
                // racing this one): answer every recorded one, decide the others again.
                Err(StoreError::CommandRecorded { .. } | StoreError::CommandIdReused { .. }) => {
                    self.answer_recorded(calls, &indexes, answers).await?;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    /// Decides each unanswered command in order on the state the ones accepted before it
    /// leave, starting from `view`.
    async fn decide_pass<C: LedgerCommand>(
        &self,
        account: AccountId,
        calls: &[Call<'_>],
        items: &[GroupItem<C>],
        answers: &Answers,
        mut view: Arc<AccountView>,
    ) -> Result<Pass, AppError> {
        let stream = account.stream();
        let mut members: Vec<Member> = Vec::new();
        let (mut refused, mut repeats) = (Vec::new(), Vec::new());
        // The members' command ids (with their request hashes, and where they are) and claims.
        let mut ids: HashMap<CommandId, ([u8; 32], usize)> = HashMap::new();
        let mut claimed_here: HashSet<UniqueClaim> = HashSet::new();
        for (index, (call, item)) in calls.iter().zip(items).enumerate() {
            if answers[index].is_some() {
                continue;
            }
            // Alone, a repeat would meet the first one's record: its outcome for the same
            // request, a refusal for another.
            if let Some((hash, member)) = ids.get(&call.command_id) {
                if *hash == call.hash {
                    repeats.push((index, *member));
                } else {
                    refused.push((index, AppError::CommandIdReused));
                }
                continue;
            }
            let loader = Loader::new(self, Some((account, Arc::clone(&view))));
            let attempt = match self.attempt(&item.command, call.cx, loader).await {
                Ok(attempt) => attempt,
                Err(error) => {
                    refused.push((index, error));
                    continue;
                }
            };
            let claimed = Claimed::of(&attempt.decision);
            // Alone, it would meet the claim an earlier member made in the log.
            if let Some(claim) = claimed.claims.iter().find(|c| claimed_here.contains(*c)) {
                let refusal = claim.already_made().map_or_else(
                    || AppError::Internal(format!("a {} claim made twice", claim.scope())),
                    AppError::Domain,
                );
                refused.push((index, refusal));
                continue;
            }
            fold_decision(&mut view, &stream, &attempt.decision)?;
            claimed_here.extend(claimed.claims.iter().cloned());
            ids.insert(call.command_id, (call.hash, members.len()));
            members.push(Member {
                index,
                attempt,
                claimed,
            });
        }
        Ok(Pass {
            members,
            refused,
            repeats,
            leaves: view,
        })
    }

    /// Answers the refused commands once their refusals stand, each as alone: the stored
    /// outcome of its command id when that was recorded for the same request (a retry), a
    /// reuse refusal for another request, else its own refusal. Ids the group itself just
    /// appended keep their refusals (alone, they were decided first). One look-up for all.
    async fn refusals_stand(
        &self,
        calls: &[Call<'_>],
        refused: Vec<(usize, AppError)>,
        appended: &HashSet<CommandId>,
        answers: &mut Answers,
    ) {
        let ids: Vec<_> = refused
            .iter()
            .map(|(index, _)| calls[*index].command_id)
            .filter(|id| !appended.contains(id))
            .map(|id| id.as_uuid())
            .collect();
        let recorded = if ids.is_empty() {
            HashMap::new()
        } else {
            match find_commands(&self.log, &ids).await {
                Ok(recorded) => recorded,
                Err(lookup) => {
                    tracing::warn!(error = %lookup, "retry look-up failed; answering the decisions' errors");
                    HashMap::new()
                }
            }
        };
        for (index, error) in refused {
            let call = &calls[index];
            let found = recorded
                .get(&call.command_id.as_uuid())
                .filter(|_| !appended.contains(&call.command_id));
            answers[index] = Some(match found {
                Some((hash, outcome)) if *hash == call.hash => {
                    Ok(Executed::of(outcome.clone()).replayed())
                }
                Some(_) => Err(AppError::CommandIdReused),
                None => Err(error),
            });
        }
    }

    /// Answers the commands of `indexes` whose ids are recorded: the stored outcome for the
    /// same request, a reuse refusal for another. One look-up for all.
    async fn answer_recorded(
        &self,
        calls: &[Call<'_>],
        indexes: &[usize],
        answers: &mut Answers,
    ) -> Result<(), AppError> {
        let ids: Vec<_> = indexes
            .iter()
            .map(|index| calls[*index].command_id.as_uuid())
            .collect();
        let recorded = find_commands(&self.log, &ids).await?;
        for index in indexes {
            let call = &calls[*index];
            answers[*index] = match recorded.get(&call.command_id.as_uuid()) {
                Some((hash, outcome)) if *hash == call.hash => {
                    Some(Ok(Executed::of(outcome.clone()).replayed()))
                }
                Some(_) => Some(Err(AppError::CommandIdReused)),
                None => None,
            };
        }
        Ok(())
    }
}

/// An error of the whole group, as each of its unanswered commands gets it.
fn shared(error: &AppError) -> AppError {
    match error {
        AppError::Unavailable => AppError::Unavailable,
        AppError::Contended => AppError::Contended,
        AppError::ReadOnlyReplica => AppError::ReadOnlyReplica,
        AppError::CommandIdReused => AppError::CommandIdReused,
        AppError::Internal(message) => AppError::Internal(message.clone()),
        other => AppError::Internal(other.to_string()),
    }
}
