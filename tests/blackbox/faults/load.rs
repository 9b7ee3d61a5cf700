//! The load the fault tests run: workers sending commands whose double application would
//! show (purchases and settled holds of varying amounts, key creations), each retried with the
//! same command id until it is answered, and a reader that checks every balance it is shown
//! against what was acknowledged and issued so far.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::client::{AccountId, Api, Call, Key, Rpc, User, id, usage};
use ledger_tests::ledgerd::Ledgerd;
use tokio::task::JoinHandle;
use tonic::{Code, Status};
use uuid::Uuid;

/// How long one command may stay unanswered (retries included) before the test fails.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);
/// Pause between retries of an unanswered command.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Pause between two reads of the reader.
const READ_PAUSE: Duration = Duration::from_millis(25);
/// What every hold reserves; each settled cost is below it.
const HOLD_ESTIMATE: &str = "0.01";
/// The credits `funded_key` buys before the load starts, in cents.
pub const FUNDED_CENTS: i64 = 10_000;

/// How a failed call is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faults {
    /// The server may die under a call. A transport error can carry almost any code, so
    /// everything but a definite answer of a live server leaves the command unanswered, and
    /// it is sent again with the same command id.
    ServerCrashes,
    /// The server stays up (its database or a peer may not): it alone answers, and the only
    /// errors it may give are `UNAVAILABLE` and `ABORTED`, both "retry with the same command
    /// id". Anything else fails the test.
    ServerStaysUp,
}

impl Faults {
    /// `Ok` when the command is still unanswered and should be retried; `Err` with a
    /// description when the status is an answer (a failure for this load, whose commands are
    /// all valid).
    fn retry(self, status: &Status) -> Result<(), String> {
        let answered = match self {
            Faults::ServerStaysUp => !matches!(status.code(), Code::Unavailable | Code::Aborted),
            Faults::ServerCrashes => {
                // Our server's own internal error says exactly this (status.rs); a transport
                // error never does.
                status.message() == "internal error"
                    || matches!(
                        status.code(),
                        Code::InvalidArgument
                            | Code::NotFound
                            | Code::AlreadyExists
                            | Code::PermissionDenied
                            | Code::FailedPrecondition
                            | Code::Unauthenticated
                            | Code::ResourceExhausted
                            | Code::Unimplemented
                    )
            }
        };
        if answered {
            Err(format!("{:?}: {}", status.code(), status.message()))
        } else {
            Ok(())
        }
    }
}

/// The account and key the load writes to, and its admin.
#[derive(Debug, Clone)]
pub struct Target {
    /// The organization's admin (buys credits, creates keys).
    pub admin: User,
    /// The organization's account.
    pub account: AccountId,
    /// The key holds are placed on.
    pub key: Key,
}

/// What an acknowledged command did.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Bought this many cents of credits.
    Purchase { cents: i64 },
    /// Placed a hold of [`HOLD_ESTIMATE`].
    Hold,
    /// Settled a hold at this many millionths of a credit.
    Settle { micros: i64 },
    /// Created a key whose secret the reply carried.
    Key { key_id: String, secret: String },
}

/// An acknowledged command and the position its reply named.
#[derive(Debug, Clone)]
pub struct Acked {
    pub command_id: Uuid,
    pub position: i64,
    pub effect: Effect,
}

/// Everything the load saw, shared by its tasks.
#[derive(Debug, Default)]
pub struct Tally {
    /// Every acknowledged command.
    pub acked: Vec<Acked>,
    /// Cents of purchases acknowledged / sent at least once.
    acked_cents: i64,
    issued_cents: i64,
    /// Millionths of settled costs acknowledged / sent at least once.
    acked_micros: i64,
    issued_micros: i64,
    /// Retries, by the status code that caused them.
    pub retries: BTreeMap<String, u64>,
    /// Failed reads, by status code.
    pub read_errors: BTreeMap<String, u64>,
    /// Balances that were outside what was acknowledged and issued when they were read.
    pub wrong_answers: Vec<String>,
    /// Answers that are not allowed under the load's [`Faults`].
    pub failures: Vec<String>,
    /// Balance reads answered.
    pub reads: u64,
}

impl Tally {
    /// Cents of purchases acknowledged.
    pub fn purchased_cents(&self) -> i64 {
        self.acked_cents
    }

    /// Millionths of a credit of settled usage acknowledged.
    pub fn used_micros(&self) -> i64 {
        self.acked_micros
    }

    /// The highest position any acknowledgement named.
    pub fn last_position(&self) -> i64 {
        self.acked.iter().map(|a| a.position).max().unwrap_or(0)
    }
}

/// A running load; [`Load::finish`] stops it and returns what it saw.
pub struct Load {
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Result<(), String>>>,
    reader: JoinHandle<()>,
}

/// One worker's or the reader's view: callers of one process and the shared tally.
#[derive(Clone)]
struct Sender {
    dashboard: Rpc,
    gateway: Rpc,
    tally: Arc<Mutex<Tally>>,
    faults: Faults,
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    tally
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Load {
    /// Starts `workers` workers spread over `servers` (worker `w` talks to server
    /// `w % servers.len()`) and one reader on the first server.
    pub async fn start(
        servers: &[&Ledgerd],
        target: &Target,
        workers: usize,
        faults: Faults,
    ) -> Load {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders = Vec::new();
        for server in servers {
            senders.push(Sender {
                dashboard: server.caller("dashboard", Some(target.admin.id)),
                gateway: server.caller("gateway", None),
                tally: Arc::clone(&tally),
                faults,
            });
        }
        let handles = (0..workers)
            .map(|worker| {
                let sender = senders[worker % senders.len()].clone();
                let (target, stop) = (target.clone(), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut round = 0;
                    while !stop.load(Ordering::Relaxed) {
                        sender.round(&target, worker, round).await?;
                        round += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        let reader = tokio::spawn(senders[0].clone().read(target.clone(), Arc::clone(&stop)));
        Load {
            tally,
            stop,
            workers: handles,
            reader,
        }
    }

    /// How many commands have been acknowledged so far.
    pub fn acked(&self) -> usize {
        lock(&self.tally).acked.len()
    }

    /// Stops issuing commands, lets every worker finish its round (so every hold it placed is
    /// settled), and returns the tally. Fails the test if a worker failed.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            let outcome = tokio::time::timeout(ANSWER_WITHIN * 2, worker)
                .await
                .expect("the workers finish their rounds in time")
                .expect("a worker does not panic");
            if let Err(failure) = outcome {
                panic!("a command of the load failed: {failure}");
            }
        }
        tokio::time::timeout(ANSWER_WITHIN, self.reader)
            .await
            .expect("the reader stops in time")
            .expect("the reader does not panic");
        let tally = std::mem::take(&mut *lock(&self.tally));
        assert!(
            tally.failures.is_empty(),
            "answers not allowed under this fault: {:?}",
            tally.failures
        );
        assert!(
            tally.wrong_answers.is_empty(),
            "wrong balances were served: {:?}",
            tally.wrong_answers
        );
        tally
    }
}

/// A cost of `micros` millionths of a credit as a decimal string.
fn credits_of_micros(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A decimal string as an integer number of `10^-scale` units; digits beyond `scale` must be
/// zeros (the server may print trailing zeros).
pub fn units(text: &str, scale: usize) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let (kept, rest) = fraction.split_at(fraction.len().min(scale));
    assert!(
        rest.chars().all(|c| c == '0'),
        "{text} has more than {scale} decimals"
    );
    format!("{whole}{kept:0<scale$}").parse().unwrap()
}

impl Sender {
    /// Sends a command until it is answered (same request, same command id each time).
    async fn until_answered<T: Send + 'static>(
        &self,
        what: &str,
        call: impl Fn() -> Call<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            match call().outcome().await {
                Ok(reply) => return Ok(reply),
                Err(status) => {
                    if let Err(answer) = self.faults.retry(&status) {
                        return Err(format!("{what}: {answer}"));
                    }
                    *lock(&self.tally)
                        .retries
                        .entry(format!("{:?}", status.code()))
                        .or_default() += 1;
                    if Instant::now() > deadline {
                        return Err(format!("{what}: unanswered for {ANSWER_WITHIN:?}"));
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }

    fn ack(&self, command_id: &str, position: i64, effect: Effect) {
        let mut tally = lock(&self.tally);
        match &effect {
            Effect::Purchase { cents } => tally.acked_cents += cents,
            Effect::Settle { micros } => tally.acked_micros += micros,
            Effect::Hold | Effect::Key { .. } => {}
        }
        tally.acked.push(Acked {
            command_id: command_id.parse().unwrap(),
            position,
            effect,
        });
    }

    /// One round of a worker: a purchase, a hold placed and settled, every fifth round a key.
    async fn round(&self, target: &Target, worker: usize, round: u64) -> Result<(), String> {
        let seed = i64::try_from(worker).unwrap() * 131 + i64::try_from(round).unwrap() * 29;
        let cents = 101 + seed % 900;
        let purchase = pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: target.account.to_string(),
            amount: format!("{}.{:02}", cents / 100, cents % 100),
            payment_reference: format!("fault-load-{worker}-{round}"),
        };
        lock(&self.tally).issued_cents += cents;
        let reply = self
            .until_answered("PurchaseCredits", || {
                self.dashboard.purchase_credits(purchase.clone())
            })
            .await?;
        self.ack(
            &purchase.command_id,
            reply.position,
            Effect::Purchase { cents },
        );

        let hold_id = id();
        let hold = pb::PlaceHoldRequest {
            command_id: id(),
            account_id: target.account.to_string(),
            key_id: target.key.id.to_string(),
            hold_id: hold_id.clone(),
            estimate: HOLD_ESTIMATE.into(),
            // Longer than any run: the expiry task must not race the settle.
            ttl_s: 3_600,
        };
        let reply = self
            .until_answered("PlaceHold", || self.gateway.place_hold(hold.clone()))
            .await?;
        self.ack(&hold.command_id, reply.position, Effect::Hold);

        let micros = 1 + seed % 9_999;
        let settle = pb::SettleHoldRequest {
            command_id: id(),
            account_id: target.account.to_string(),
            hold_id,
            usage: Some(usage(&id(), &credits_of_micros(micros))),
        };
        lock(&self.tally).issued_micros += micros;
        let reply = self
            .until_answered("SettleHold", || self.gateway.settle_hold(settle.clone()))
            .await?;
        self.ack(
            &settle.command_id,
            reply.position,
            Effect::Settle { micros },
        );

        if round.is_multiple_of(5) {
            let key = pb::CreateKeyRequest {
                command_id: id(),
                account_id: target.account.to_string(),
                key_id: id(),
                name: format!("load {worker}/{round}"),
                limit: None,
                expires_at: None,
            };
            let reply = self
                .until_answered("CreateKey", || self.dashboard.create_key(key.clone()))
                .await?;
            self.ack(
                &key.command_id,
                reply.position,
                Effect::Key {
                    key_id: key.key_id.clone(),
                    secret: reply.secret,
                },
            );
        }
        Ok(())
    }

    /// Reads the balance and the activity feed (read-your-writes from the last acknowledged
    /// position) until `stop`. A balance must lie between what was acknowledged before the
    /// read and what had been sent by its answer: below means a lost write, above a write
    /// applied twice.
    async fn read(self, target: Target, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            let (least_cents, least_micros, position) = {
                let tally = lock(&self.tally);
                (tally.acked_cents, tally.acked_micros, tally.last_position())
            };
            let balance = self
                .dashboard
                .get_account_balance(pb::GetAccountBalanceRequest {
                    account_id: target.account.to_string(),
                    min_position: 0,
                })
                .outcome()
                .await;
            let activity = self
                .dashboard
                .list_activity(pb::ListActivityRequest {
                    account_id: target.account.to_string(),
                    min_position: position,
                    page_size: 10,
                    ..Default::default()
                })
                .outcome()
                .await;
            self.judge_read(&balance, &activity, least_cents, least_micros);
            tokio::time::sleep(READ_PAUSE).await;
        }
    }

    /// Records a read's errors (allowed or not) and checks its balance (see [`Sender::read`]).
    fn judge_read(
        &self,
        balance: &Result<pb::GetAccountBalanceResponse, Status>,
        activity: &Result<pb::ListActivityResponse, Status>,
        least_cents: i64,
        least_micros: i64,
    ) {
        let mut tally = lock(&self.tally);
        for failed in [balance.as_ref().err(), activity.as_ref().err()]
            .into_iter()
            .flatten()
        {
            *tally
                .read_errors
                .entry(format!("{:?}", failed.code()))
                .or_default() += 1;
            if let Err(answer) = self.faults.retry(failed) {
                tally.failures.push(format!("a read: {answer}"));
            }
        }
        if let Ok(balance) = balance {
            tally.reads += 1;
            let cents = units(&balance.total_purchased, 2) - FUNDED_CENTS;
            let micros = units(&balance.total_used, 6);
            if !(least_cents..=tally.issued_cents).contains(&cents)
                || !(least_micros..=tally.issued_micros).contains(&micros)
            {
                let wrong = format!(
                    "purchased {cents} cents (acked {least_cents}, sent {}), used {micros} \
                     micros (acked {least_micros}, sent {})",
                    tally.issued_cents, tally.issued_micros
                );
                tally.wrong_answers.push(wrong);
            }
        }
    }
}
