//! The consistency check: folds the log afresh (through the domain's `evolve` where the domain
//! keeps the fact, else through the projection's own fold) up to a projection's checkpoint, and
//! compares with the read model, listing the differences.
//!
//! The read model and its checkpoint are read in one REPEATABLE READ snapshot of the read
//! models' database, and the events up to that checkpoint from the log (the same database or
//! another: a position, once readable, never changes), so the check is exact while the runner
//! keeps applying.
//!
//! Memory is bounded by the number of entities (accounts, keys, users, organizations, usage
//! buckets), not by the length of the log: events are read in chunks and folded, and the tables
//! with one row per event (the activity feed, the ledger entries) are read through cursors in
//! position order and compared chunk by chunk with the events that made them.

mod expected;
mod rows;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use crate::error::{ProjectionError, Result};
use crate::models::{activity, balances, directory, keys, ledger, rollups};
use crate::pools::ReadModelPool;
use crate::projection::{Applied, Projection, Schema, decode};
use rows::RowCursor;

/// One difference between a read model and the fold of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The table (or `invariant` for a broken invariant such as a movement not summing to 0).
    pub table: &'static str,
    /// The row's key.
    pub key: String,
    /// What the fold says (`None`: the row should not exist).
    pub expected: Option<String>,
    /// What the table holds (`None`: the row is missing).
    pub actual: Option<String>,
}

/// The result of checking one projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The projection checked.
    pub projection: Projection,
    /// The checkpoint the read model was compared at.
    pub position: i64,
    /// The differences found, the first [`CheckLimits::listed`] of them.
    pub differences: Vec<Difference>,
    /// How many differences were found in all.
    pub found: u64,
}

impl CheckReport {
    /// Whether the read model equals the fold.
    pub fn is_consistent(&self) -> bool {
        self.found == 0
    }
}

/// How much of the log and the tables a check holds at once, and how much it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckLimits {
    /// Events read and folded per chunk.
    pub events_per_chunk: i64,
    /// Rows fetched per cursor round trip.
    pub rows_per_fetch: i64,
    /// Differences listed in the report (all are counted).
    pub listed: usize,
    /// PostgreSQL's `statement_timeout` for the check's queries (zero: no limit); `None`
    /// keeps the connection's.
    pub statement_timeout: Option<Duration>,
}

impl Default for CheckLimits {
    fn default() -> Self {
        Self {
            events_per_chunk: 5_000,
            rows_per_fetch: 2_000,
            listed: 1_000,
            statement_timeout: None,
        }
    }
}

/// The differences of one check: the first `listed`, and the count of all.
pub(crate) struct Differences {
    listed: Vec<Difference>,
    cap: usize,
    found: u64,
}

impl Differences {
    fn new(cap: usize) -> Self {
        Self {
            listed: Vec::new(),
            cap,
            found: 0,
        }
    }

    pub(crate) fn push(&mut self, difference: Difference) {
        self.found += 1;
        if self.listed.len() < self.cap {
            self.listed.push(difference);
        }
    }
}

/// Compares two keyed row sets; rows only in `expected` for which `may_be_missing` holds are
/// not differences (rows pruned by retention).
pub(crate) fn compare<K: Ord + Debug, V: PartialEq + Debug>(
    table: &'static str,
    expected: BTreeMap<K, V>,
    mut actual: BTreeMap<K, V>,
    may_be_missing: impl Fn(&K, &V) -> bool,
    out: &mut Differences,
) {
    for (key, want) in expected {
        match actual.remove(&key) {
            Some(got) if got == want => {}
            Some(got) => out.push(Difference {
                table,
                key: format!("{key:?}"),
                expected: Some(format!("{want:?}")),
                actual: Some(format!("{got:?}")),
            }),
            None if may_be_missing(&key, &want) => {}
            None => out.push(Difference {
                table,
                key: format!("{key:?}"),
                expected: Some(format!("{want:?}")),
                actual: None,
            }),
        }
    }
    for (key, got) in actual {
        out.push(Difference {
            table,
            key: format!("{key:?}"),
            expected: None,
            actual: Some(format!("{got:?}")),
        });
    }
}

/// A timestamp as PostgreSQL keeps it (microseconds).
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The log up to a checkpoint, a chunk at a time.
struct LogChunks {
    after: i64,
    until: i64,
    size: i64,
}

impl LogChunks {
    /// The next chunk of decoded events and the position of its last, or `None` at the end.
    async fn next(&mut self, conn: &mut PgConnection) -> Result<Option<(Vec<Arc<Applied>>, i64)>> {
        if self.after >= self.until {
            return Ok(None);
        }
        let limit = (self.until - self.after).min(self.size);
        let batch = ledger_eventstore::read_all(&mut *conn, self.after, limit).await?;
        let Some(last) = batch.last() else {
            return Ok(None);
        };
        self.after = last.position;
        Ok(Some((decode(&batch)?, last.position)))
    }
}

/// Checks one projection in `read_models` against a fresh fold of the log (read through `log`)
/// up to its checkpoint.
pub async fn check(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
) -> Result<CheckReport> {
    check_within(log, read_models, projection, CheckLimits::default()).await
}

/// [`check`] holding at most `limits` at once.
#[tracing::instrument(skip(log, read_models), err)]
pub async fn check_within(
    log: &PgPool,
    read_models: &ReadModelPool,
    projection: Projection,
    limits: CheckLimits,
) -> Result<CheckReport> {
    let mut conn = read_models.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    local_statement_timeout(&mut tx, limits).await?;
    let position = crate::checkpoint::checkpoint(&mut *tx, projection).await?;
    // The events up to `position` are read beside the snapshot, in a transaction of the log's
    // own (its statement timeout, like the snapshot's, ends with it).
    let mut log_tx = log.begin().await?;
    local_statement_timeout(&mut log_tx, limits).await?;
    // A log on a standby may not have replayed what the projector read on the primary: fold
    // nothing short of the checkpoint, or every missing event would read as a difference.
    let head = ledger_eventstore::head(&mut *log_tx).await?.position;
    if head < position {
        return Err(ProjectionError::LogBehindCheckpoint {
            projection: projection.name(),
            head,
            checkpoint: position,
        });
    }
    let mut chunks = LogChunks {
        after: 0,
        until: position,
        size: limits.events_per_chunk.max(1),
    };
    let fetch = limits.rows_per_fetch.max(1);
    let mut out = Differences::new(limits.listed);
    let live = Schema::live();
    match projection {
        Projection::Balances => {
            let mut fold = expected::Balances::default();
            let mut entries = RowCursor::open(
                &mut tx,
                &ledger::LEDGER_ENTRIES,
                "position, account",
                |e| e.position,
                fetch,
            )
            .await?;
            while let Some((events, upto)) = chunks.next(&mut log_tx).await? {
                let stored = entries.up_to(&mut tx, upto).await?;
                fold.chunk(&events, stored, &mut out);
            }
            entries.beyond(&mut tx, position, &mut out).await?;
            let actual = balances::ACCOUNT_BALANCES.all(&mut *tx, &live).await?;
            let holds = balances::OPEN_HOLDS.all(&mut *tx, &live).await?;
            fold.finish(actual, holds, &mut out);
        }
        Projection::Keys => {
            let mut fold = expected::Keys::default();
            while let Some((events, _)) = chunks.next(&mut log_tx).await? {
                fold.chunk(&events)?;
            }
            let actual = keys::API_KEYS.all(&mut *tx, &live).await?;
            fold.finish(actual, &mut out);
        }
        Projection::Directory => {
            let mut fold = expected::Directory::default();
            while let Some((events, _)) = chunks.next(&mut log_tx).await? {
                fold.chunk(&events);
            }
            let actual = directory::queries::all(&mut tx, &live).await?;
            fold.finish(actual, &mut out);
        }
        Projection::Activity => {
            let retention: BTreeMap<_, _> =
                activity::retentions(&mut *tx).await?.into_iter().collect();
            let now = Utc::now();
            let pruned = |row: &activity::ActivityRow| {
                let days = retention.get(&row.account_id).copied().unwrap_or(i32::MAX);
                i64::from(days) < 36_500 && row.finished_at < now - TimeDelta::days(i64::from(days))
            };
            let mut fold =
                expected::Activity::new(now - TimeDelta::days(rollups::HOURLY_KEEP_DAYS));
            let mut feed = RowCursor::open(
                &mut tx,
                &activity::ACTIVITY,
                "position, account_id",
                |r| r.position,
                fetch,
            )
            .await?;
            while let Some((events, upto)) = chunks.next(&mut log_tx).await? {
                let stored = feed.up_to(&mut tx, upto).await?;
                fold.chunk(&events, stored, &pruned, &mut out);
            }
            feed.beyond(&mut tx, position, &mut out).await?;
            let (daily, hourly) = rollups::all(&mut tx, &live).await?;
            fold.finish(daily, hourly, &mut out);
        }
    }
    tx.rollback().await?;
    log_tx.rollback().await?;
    Ok(CheckReport {
        projection,
        position,
        differences: out.listed,
        found: out.found,
    })
}

/// Sets the check's statement timeout, if any, for the rest of the transaction on `conn`.
async fn local_statement_timeout(conn: &mut PgConnection, limits: CheckLimits) -> Result<()> {
    if let Some(timeout) = limits.statement_timeout {
        sqlx::query("SELECT set_config('statement_timeout', $1, true)")
            .bind(format!("{}ms", timeout.as_millis()))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Checks every projection.
pub async fn check_all(log: &PgPool, read_models: &ReadModelPool) -> Result<Vec<CheckReport>> {
    let mut reports = Vec::new();
    for projection in Projection::ALL {
        reports.push(check(log, read_models, projection).await?);
    }
    Ok(reports)
}
