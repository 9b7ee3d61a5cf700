//! Usage rollups, part of projection `activity`: per account × UTC day × member × key × model
//! (kept), and per UTC hour for recent days (pruned after [`HOURLY_KEEP_DAYS`]). A batch is
//! aggregated in memory, then each table gets one additive upsert.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, NaiveDate, NaiveTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{Encode, FromRow, PgExecutor, Postgres, Row, Transaction, Type};
use uuid::Uuid;

use super::activity::ActivityRow;
use super::{sql, update_else_insert};
use crate::error::Result;
use crate::projection::Schema;

/// Days hourly rollups are kept.
pub const HOURLY_KEEP_DAYS: i64 = 14;

/// The key of a rollup row (the bucket is a day or an hour, as a UTC timestamp).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketKey {
    /// The account.
    pub account_id: Uuid,
    /// Start of the day or hour (UTC).
    pub bucket: DateTime<Utc>,
    /// The member.
    pub user_id: Uuid,
    /// The key.
    pub key_id: Uuid,
    /// The model.
    pub model: String,
}

/// Sums of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageSums {
    /// Usage records.
    pub requests: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// Cached tokens.
    pub cached_tokens: i64,
    /// Cost.
    pub cost: Decimal,
}

impl UsageSums {
    fn add(&mut self, row: &ActivityRow) {
        self.requests += 1;
        self.prompt_tokens += row.prompt_tokens;
        self.completion_tokens += row.completion_tokens;
        self.reasoning_tokens += row.reasoning_tokens;
        self.cached_tokens += row.cached_tokens;
        self.cost += row.cost;
    }
}

/// Day and hour buckets of usage rows, bucketed by `finished_at`.
pub(crate) type Buckets = BTreeMap<BucketKey, UsageSums>;

fn truncate(time: DateTime<Utc>, unit: TimeDelta) -> DateTime<Utc> {
    time.duration_trunc(unit).unwrap_or(time)
}

/// Aggregates rows into (daily, hourly) buckets.
pub(crate) fn aggregate<'a>(rows: impl IntoIterator<Item = &'a ActivityRow>) -> (Buckets, Buckets) {
    let (mut daily, mut hourly) = (Buckets::new(), Buckets::new());
    for row in rows {
        add_to(&mut daily, &mut hourly, row);
    }
    (daily, hourly)
}

/// Adds one row to its day's and its hour's bucket.
pub(crate) fn add_to(daily: &mut Buckets, hourly: &mut Buckets, row: &ActivityRow) {
    for (buckets, unit) in [(daily, TimeDelta::days(1)), (hourly, TimeDelta::hours(1))] {
        let key = BucketKey {
            account_id: row.account_id,
            bucket: truncate(row.finished_at, unit),
            user_id: row.user_id,
            key_id: row.key_id,
            model: row.model.clone(),
        };
        buckets.entry(key).or_default().add(row);
    }
}

/// One of the two rollup tables: usage summed per UTC day (kept) or per UTC hour (pruned).
struct Rollup {
    table: &'static str,
    /// The bucket column: a date by day, a timestamp by hour.
    column: &'static str,
    /// The bucket column's value, in SQL, from `b`, the UTC timestamp the bucket starts at.
    column_of_start: &'static str,
    /// The buckets of a query's range, `$2` and `$3`: days `from..=to`, hours `[from, until)`.
    range_sql: &'static str,
    /// The UTC timestamp a row's bucket starts at.
    start: fn(&PgRow) -> Result<DateTime<Utc>>,
}

const DAILY: Rollup = Rollup {
    table: "usage_daily",
    column: "day",
    column_of_start: "(b AT TIME ZONE 'UTC')::date",
    range_sql: "day BETWEEN $2 AND $3",
    start: |row| {
        let day: NaiveDate = row.try_get("day")?;
        Ok(day.and_time(NaiveTime::MIN).and_utc())
    },
};

const HOURLY: Rollup = Rollup {
    table: "usage_hourly",
    column: "hour",
    column_of_start: "b",
    range_sql: "hour >= $2 AND hour < $3",
    start: |row| Ok(row.try_get("hour")?),
};

impl Rollup {
    /// Every bucket of this rollup in `schema`.
    async fn all(&self, conn: &mut sqlx::PgConnection, schema: &Schema) -> Result<Buckets> {
        let rows = sqlx::query(sql(format!(
            "SELECT {}, {SUM_COLUMNS} FROM {}",
            self.column,
            schema.table(self.table)
        )))
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| self.decode(row).map(|bucket| (bucket.key, bucket.sums)))
            .collect()
    }

    /// A row read with the bucket column, then [`SUM_COLUMNS`].
    fn decode(&self, row: &PgRow) -> Result<UsageBucket> {
        Ok(UsageBucket {
            key: BucketKey {
                account_id: row.try_get("account_id")?,
                bucket: (self.start)(row)?,
                user_id: row.try_get("user_id")?,
                key_id: row.try_get("key_id")?,
                model: row.try_get("model")?,
            },
            sums: UsageSums::from_row(row)?,
        })
    }
}

pub(crate) async fn add(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    rows: &[ActivityRow],
) -> Result<()> {
    let (daily, hourly) = aggregate(rows);
    upsert(tx, schema, &DAILY, &daily).await?;
    upsert(tx, schema, &HOURLY, &hourly).await
}

async fn upsert(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    rollup: &Rollup,
    buckets: &Buckets,
) -> Result<()> {
    let table = schema.table(rollup.table);
    let (bucket, bucket_expr) = (rollup.column, rollup.column_of_start);
    let sums = |f: fn(&UsageSums) -> i64| buckets.values().map(f).collect::<Vec<_>>();
    let input = format!(
        "SELECT a AS account_id, {bucket_expr} AS {bucket}, u AS user_id, k AS key_id, \
           m AS model, r AS requests, p AS prompt_tokens, c AS completion_tokens, \
           re AS reasoning_tokens, ca AS cached_tokens, co AS cost FROM UNNEST( \
           $1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::text[], $6::bigint[], \
           $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[]) \
           AS x(a, b, u, k, m, r, p, c, re, ca, co)"
    );
    sqlx::query(sql(update_else_insert(
        &table,
        &input,
        &format!(
            "account_id, {bucket}, user_id, key_id, model, requests, prompt_tokens, \
             completion_tokens, reasoning_tokens, cached_tokens, cost"
        ),
        &["account_id", bucket, "user_id", "key_id", "model"],
        "requests = t.requests + input.requests, \
         prompt_tokens = t.prompt_tokens + input.prompt_tokens, \
         completion_tokens = t.completion_tokens + input.completion_tokens, \
         reasoning_tokens = t.reasoning_tokens + input.reasoning_tokens, \
         cached_tokens = t.cached_tokens + input.cached_tokens, cost = t.cost + input.cost",
    )))
    .bind(buckets.keys().map(|k| k.account_id).collect::<Vec<_>>())
    .bind(buckets.keys().map(|k| k.bucket).collect::<Vec<_>>())
    .bind(buckets.keys().map(|k| k.user_id).collect::<Vec<_>>())
    .bind(buckets.keys().map(|k| k.key_id).collect::<Vec<_>>())
    .bind(buckets.keys().map(|k| k.model.clone()).collect::<Vec<_>>())
    .bind(sums(|s| s.requests))
    .bind(sums(|s| s.prompt_tokens))
    .bind(sums(|s| s.completion_tokens))
    .bind(sums(|s| s.reasoning_tokens))
    .bind(sums(|s| s.cached_tokens))
    .bind(buckets.values().map(|s| s.cost).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes hourly rollups older than [`HOURLY_KEEP_DAYS`] before `now`.
pub async fn prune_hourly<'e>(executor: impl PgExecutor<'e>, now: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query("DELETE FROM usage_hourly WHERE hour < $1")
        .bind(now - TimeDelta::days(HOURLY_KEEP_DAYS))
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

/// Filters of a rollup query; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupFilter {
    /// Only this member's usage (members see only their own keys').
    pub user_id: Option<Uuid>,
    /// Only this key.
    pub key_id: Option<Uuid>,
    /// Only this model.
    pub model: Option<String>,
}

/// One rollup row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    /// The bucket's key (day buckets start at 00:00 UTC).
    pub key: BucketKey,
    /// Its sums.
    pub sums: UsageSums,
}

const SUM_COLUMNS: &str = "account_id, user_id, key_id, model, requests, prompt_tokens, \
    completion_tokens, reasoning_tokens, cached_tokens, cost";

fn filter_sql(first_param: usize) -> String {
    let (u, k, m) = (first_param, first_param + 1, first_param + 2);
    format!(
        "(${u}::uuid IS NULL OR user_id = ${u}) AND (${k}::uuid IS NULL OR key_id = ${k}) \
         AND (${m}::text IS NULL OR model = ${m})"
    )
}

/// Daily rollups of an account for days in `from..=to`, at most 500 rows, by day then member,
/// key and model. Served by the primary key (account_id, day, ...).
pub async fn usage_by_day<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    filter: &RollupFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<UsageBucket>> {
    usage_in(executor, &DAILY, account_id, filter, (from, to)).await
}

/// Hourly rollups of an account for hours in `[from, until)`, at most 500 rows.
pub async fn usage_by_hour<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    filter: &RollupFilter,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<UsageBucket>> {
    usage_in(executor, &HOURLY, account_id, filter, (from, until)).await
}

/// Rollups of an account in `range` (see `Rollup::range_sql`), at most 500 rows, by bucket
/// then member, key and model.
async fn usage_in<'e, B>(
    executor: impl PgExecutor<'e>,
    rollup: &Rollup,
    account_id: Uuid,
    filter: &RollupFilter,
    (from, to): (B, B),
) -> Result<Vec<UsageBucket>>
where
    B: for<'b> Encode<'b, Postgres> + Type<Postgres>,
{
    let (table, bucket) = (rollup.table, rollup.column);
    let rows = sqlx::query(sql(format!(
        "SELECT {bucket}, {SUM_COLUMNS} FROM {table} WHERE account_id = $1 AND {} AND {} \
         ORDER BY {bucket}, user_id, key_id, model LIMIT 500",
        rollup.range_sql,
        filter_sql(4)
    )))
    .bind(account_id)
    .bind(from)
    .bind(to)
    .bind(filter.user_id)
    .bind(filter.key_id)
    .bind(filter.model.clone())
    .fetch_all(executor)
    .await?;
    rows.iter().map(|row| rollup.decode(row)).collect()
}

/// Every rollup row of `schema`: (daily, hourly) (consistency check).
pub(crate) async fn all(
    conn: &mut sqlx::PgConnection,
    schema: &Schema,
) -> Result<(Buckets, Buckets)> {
    let daily = DAILY.all(&mut *conn, schema).await?;
    let hourly = HOURLY.all(&mut *conn, schema).await?;
    Ok((daily, hourly))
}
