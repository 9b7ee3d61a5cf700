//! The consistency check: folds the log afresh in memory (through the domain's `evolve` where
//! the domain keeps the fact, else through the projection's own in-memory fold) up to a
//! projection's checkpoint, and compares with the read model, listing every difference.
//!
//! The read model and its checkpoint are read in one REPEATABLE READ snapshot, with the events
//! up to the checkpoint, so the check is exact while the runner keeps applying.

mod expected;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use crate::error::Result;
use crate::models::{activity, balances, directory, keys, ledger, rollups};
use crate::projection::{Applied, Projection, Schema, decode};

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
    /// Every difference found; empty when the read model equals the fold.
    pub differences: Vec<Difference>,
}

impl CheckReport {
    /// Whether the read model equals the fold.
    pub fn is_consistent(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Compares two keyed row sets; rows only in `expected` for which `may_be_missing` holds are
/// not differences (rows pruned by retention).
pub(crate) fn compare<K: Ord + Debug, V: PartialEq + Debug>(
    table: &'static str,
    expected: BTreeMap<K, V>,
    mut actual: BTreeMap<K, V>,
    may_be_missing: impl Fn(&K, &V) -> bool,
    out: &mut Vec<Difference>,
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

async fn events_up_to(conn: &mut PgConnection, position: i64) -> Result<Vec<Arc<Applied>>> {
    let mut all = Vec::new();
    let mut after = 0;
    while after < position {
        let batch =
            ledger_eventstore::read_all(&mut *conn, after, (position - after).min(10_000)).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        all.extend(decode(&batch)?);
    }
    Ok(all)
}

/// Checks one projection against a fresh fold of the log up to its checkpoint.
#[tracing::instrument(skip(pool), err)]
pub async fn check(pool: &PgPool, projection: Projection) -> Result<CheckReport> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let position = crate::checkpoint::checkpoint(&mut *tx, projection).await?;
    let events = events_up_to(&mut tx, position).await?;
    let live = Schema::live();
    let mut out = Vec::new();
    match projection {
        Projection::Balances => {
            let actual = balances::ACCOUNT_BALANCES.all(&mut *tx, &live).await?;
            let holds = balances::OPEN_HOLDS.all(&mut *tx, &live).await?;
            let entries = ledger::LEDGER_ENTRIES.all(&mut *tx, &live).await?;
            expected::balances(&events, actual, holds, entries, &mut out);
        }
        Projection::Keys => {
            let actual = keys::API_KEYS.all(&mut *tx, &live).await?;
            expected::keys(&events, actual, &mut out)?;
        }
        Projection::Directory => {
            let actual = directory::queries::all(&mut tx, &live).await?;
            expected::directory(&events, actual, &mut out);
        }
        Projection::Activity => {
            let rows = activity::ACTIVITY.all(&mut *tx, &live).await?;
            let (daily, hourly) = rollups::all(&mut tx, &live).await?;
            let retention: BTreeMap<_, _> =
                activity::retentions(&mut *tx).await?.into_iter().collect();
            let now = Utc::now();
            let pruned = |row: &activity::ActivityRow| {
                let days = retention.get(&row.account_id).copied().unwrap_or(i32::MAX);
                i64::from(days) < 36_500 && row.finished_at < now - TimeDelta::days(i64::from(days))
            };
            let hourly_cutoff = now - TimeDelta::days(rollups::HOURLY_KEEP_DAYS);
            expected::activity(
                &events,
                rows,
                daily,
                hourly,
                &pruned,
                hourly_cutoff,
                &mut out,
            );
        }
    }
    tx.rollback().await?;
    Ok(CheckReport {
        projection,
        position,
        differences: out,
    })
}

/// Checks every projection.
pub async fn check_all(pool: &PgPool) -> Result<Vec<CheckReport>> {
    let mut reports = Vec::new();
    for projection in Projection::ALL {
        reports.push(check(pool, projection).await?);
    }
    Ok(reports)
}
