//! Group commit: one writer task turns whatever appends are waiting into one transaction.
//!
//! While a batch commits, new appends queue up; the next batch takes them all (up to a bound).
//! Throughput therefore grows with concurrency instead of being capped at one commit per
//! command, and each caller still gets its own answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::batch::{WriterMemory, write_batch};
use crate::chain::{Settled, Ticket};
use crate::error::StoreError;
use crate::model::{AppendOutcome, AppendRequest};
use crate::prepare::PreparedGroup;
use crate::watch::WriterWatch;

/// How often an idle writer reads the head to learn whether another writer appended (see
/// [`WriterWatch`]): a few cheap reads a second keep this process's cached states vouched for
/// between bursts of appends.
pub const IDLE_CHECK_EVERY: Duration = Duration::from_millis(100);

/// Bounds of the group commit.
#[derive(Debug, Clone)]
pub struct AppenderConfig {
    /// Most appends in one transaction.
    pub max_batch_appends: usize,
    /// Most events in one transaction (a batch closes before it would pass this).
    pub max_batch_events: usize,
    /// Appends that may wait for the writer; callers beyond it wait to enqueue (backpressure).
    pub queue_capacity: usize,
    /// How long the writer lingers for company when only one append is waiting. Zero relies on
    /// the natural batching of appends that arrive while the previous batch commits.
    pub linger: Duration,
}

impl Default for AppenderConfig {
    fn default() -> Self {
        AppenderConfig {
            max_batch_appends: 1_000,
            max_batch_events: 10_000,
            queue_capacity: 10_000,
            linger: Duration::ZERO,
        }
    }
}

/// Counters of the appender since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppenderStats {
    /// Transactions attempted (one per batch).
    pub transactions: u64,
    /// Commands handed to the writer (a group append counts each of its commands).
    pub appends: u64,
    /// Requests handed to the writer: single appends and group appends.
    pub requests: u64,
    /// Events written.
    pub events: u64,
    /// Transactions that failed as a whole.
    pub failed_transactions: u64,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    appends: AtomicU64,
    requests: AtomicU64,
    events: AtomicU64,
    failed_transactions: AtomicU64,
}

struct Pending {
    group: PreparedGroup,
    reply: oneshot::Sender<Result<Vec<AppendOutcome>, StoreError>>,
}

/// The handle callers append through; cheap to clone.
#[derive(Clone)]
pub struct Appender {
    queue: mpsc::Sender<Pending>,
    counters: Arc<Counters>,
    watch: Arc<WriterWatch>,
}

impl Appender {
    /// Starts the writer task on `pool`. The task ends when every handle is dropped.
    pub fn spawn(pool: PgPool, config: AppenderConfig) -> (Appender, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let watch = Arc::new(WriterWatch::default());
        let writer = Writer {
            pool,
            config,
            receiver,
            counters: Arc::clone(&counters),
            last_recorded_at: DateTime::<Utc>::MIN_UTC,
            memory: WriterMemory::default(),
            watch: Arc::clone(&watch),
        };
        let task = tokio::spawn(writer.run());
        (
            Appender {
                queue,
                counters,
                watch,
            },
            task,
        )
    }

    /// A handle with no writer behind it, for a process that only reads (a `ledgerd` on a hot
    /// standby): every append is refused with [`StoreError::AppenderStopped`], and the watch
    /// is kept by whoever follows the log ([`WriterWatch::observe_at`]).
    pub fn read_only() -> Appender {
        let (queue, _receiver) = mpsc::channel(1);
        Appender {
            queue,
            counters: Arc::new(Counters::default()),
            watch: Arc::new(WriterWatch::default()),
        }
    }

    /// Appends one command's events atomically and returns where they landed. A retry with the
    /// same command id and request hash returns the first outcome and appends nothing.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        self.enqueue(request, None).await?.outcome().await
    }

    /// Hands an append to the writer and returns as soon as it is queued. With `after`, the
    /// append was decided on the state another queued append of this process leaves: it is
    /// refused ([`StoreError::PredecessorFailed`]) unless that one commits first. Appends are
    /// judged in the order they were queued.
    pub async fn enqueue(
        &self,
        request: AppendRequest,
        after: Option<Ticket>,
    ) -> Result<Queued, StoreError> {
        self.enqueue_group(vec![request], after).await
    }

    /// Hands the appends of several commands to the writer as one request, judged and written
    /// together: all of them or none, each command recorded under its own id (a retry of one
    /// of them, alone or in another group, gets its first outcome back). Each is judged on the
    /// streams as the ones before it leave them, so several commands on one stream expect the
    /// versions one after the other. A group every command of which is recorded with the same
    /// request is answered from the stored outcomes; a group some command of which is
    /// recorded is refused ([`StoreError::CommandRecorded`], or
    /// [`StoreError::CommandIdReused`] for another request). With `after`, as
    /// [`Appender::enqueue`]. Read the answers with [`Queued::outcomes`], in the order of
    /// `requests`.
    pub async fn enqueue_group(
        &self,
        requests: Vec<AppendRequest>,
        after: Option<Ticket>,
    ) -> Result<Queued, StoreError> {
        let group = PreparedGroup::new(requests, after)?;
        let ticket = group.ticket().clone();
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { group, reply })
            .await
            .map_err(|_| StoreError::AppenderStopped)?;
        Ok(Queued { ticket, answer })
    }

    /// What the writer has seen of other writers (to know when a cached state is current).
    pub fn watch(&self) -> &WriterWatch {
        &self.watch
    }

    /// The counters so far.
    pub fn stats(&self) -> AppenderStats {
        AppenderStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            appends: self.counters.appends.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            failed_transactions: self.counters.failed_transactions.load(Ordering::Relaxed),
        }
    }
}

/// An append (or a group of them) the writer has in its queue.
pub struct Queued {
    ticket: Ticket,
    answer: oneshot::Receiver<Result<Vec<AppendOutcome>, StoreError>>,
}

impl Queued {
    /// Its ticket: to chain later appends after it, or to wait until it is settled.
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// Waits for the writer's answer to a single append (the first command's, of a group).
    pub async fn outcome(self) -> Result<AppendOutcome, StoreError> {
        let mut outcomes = self.outcomes().await?;
        if outcomes.is_empty() {
            return Err(StoreError::Malformed(
                "an append answered with no outcome".into(),
            ));
        }
        Ok(outcomes.swap_remove(0))
    }

    /// Waits for the writer's answer: each command's outcome, in the order queued.
    pub async fn outcomes(self) -> Result<Vec<AppendOutcome>, StoreError> {
        self.answer.await.map_err(|_| StoreError::AppenderStopped)?
    }
}

struct Writer {
    pool: PgPool,
    config: AppenderConfig,
    receiver: mpsc::Receiver<Pending>,
    counters: Arc<Counters>,
    last_recorded_at: DateTime<Utc>,
    memory: WriterMemory,
    watch: Arc<WriterWatch>,
}

impl Writer {
    async fn run(mut self) {
        let mut carried: Option<Pending> = None;
        loop {
            let first = match carried.take() {
                Some(pending) => pending,
                None => match tokio::time::timeout(IDLE_CHECK_EVERY, self.receiver.recv()).await {
                    Ok(Some(pending)) => pending,
                    Ok(None) => return,
                    Err(_idle) => {
                        self.check_head_while_idle().await;
                        continue;
                    }
                },
            };
            let mut events = first.group.event_count();
            let mut batch = vec![first];
            if self.config.linger > Duration::ZERO && self.receiver.is_empty() {
                tokio::time::sleep(self.config.linger).await;
            }
            while batch.len() < self.config.max_batch_appends {
                let Ok(next) = self.receiver.try_recv() else {
                    break;
                };
                if events + next.group.event_count() > self.config.max_batch_events {
                    carried = Some(next);
                    break;
                }
                events += next.group.event_count();
                batch.push(next);
            }
            self.write(batch, events).await;
        }
    }

    #[tracing::instrument(skip_all, fields(appends = batch.len(), events))]
    async fn write(&mut self, batch: Vec<Pending>, events: usize) {
        let (groups, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.group, pending.reply))
            .unzip();
        let commands: usize = groups.iter().map(|group| group.members.len()).sum();
        self.counters.transactions.fetch_add(1, Ordering::Relaxed);
        self.counters
            .appends
            .fetch_add(commands as u64, Ordering::Relaxed);
        self.counters
            .requests
            .fetch_add(groups.len() as u64, Ordering::Relaxed);
        let recorded_at = self.next_recorded_at();
        match write_batch(
            &self.pool,
            &groups,
            recorded_at,
            &mut self.memory,
            &self.watch,
        )
        .await
        {
            Ok(answers) => {
                let mut written = 0;
                for (group, answer) in groups.iter().zip(&answers) {
                    // A retry answered from its stored outcome appended nothing.
                    let appended =
                        matches!(answer, Ok(outcomes) if outcomes.iter().all(|o| !o.replayed));
                    if appended {
                        written += group.event_count();
                    }
                    settle(group, appended);
                }
                self.counters
                    .events
                    .fetch_add(written as u64, Ordering::Relaxed);
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller that gave up waiting no longer needs its answer.
                    let _ = reply.send(answer);
                }
            }
            Err(error) => {
                self.counters
                    .failed_transactions
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, events, "append batch failed; callers may retry");
                for group in &groups {
                    settle(group, false);
                }
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable));
                }
            }
        }
    }

    /// Tells the watch whether another writer appended since this writer's last batch, by a
    /// plain read of the head. A failed or slow read tells nothing (the watch then ages) and
    /// holds the writer back at most a few check intervals.
    async fn check_head_while_idle(&self) {
        let before = std::time::Instant::now();
        let read = tokio::time::timeout(5 * IDLE_CHECK_EVERY, crate::read::head(&self.pool));
        match read.await {
            Ok(Ok(head)) => self
                .watch
                .observe_at(self.memory.head() != Some(head.position), before),
            Ok(Err(error)) => tracing::debug!(%error, "idle head check failed"),
            Err(_elapsed) => tracing::debug!("idle head check timed out"),
        }
    }

    /// The time stamped on a batch: now, to the microsecond PostgreSQL keeps, and never before
    /// the previous batch of this writer.
    fn next_recorded_at(&mut self) -> DateTime<Utc> {
        let now = Utc::now().trunc_subsecs(6);
        self.last_recorded_at = now.max(self.last_recorded_at);
        self.last_recorded_at
    }
}

/// Settles an append's ticket before the next batch is judged, so that appends chained after it
/// are judged on the verdict (an unsettled ticket is settled `Failed` when its append is dropped).
fn settle(group: &PreparedGroup, appended: bool) {
    let settled = if appended {
        Settled::Committed
    } else {
        Settled::Failed
    };
    for member in &group.members {
        member.ticket.settle(settled);
    }
}
