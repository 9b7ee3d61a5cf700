//! Projection `activity`: the activity feed (one row per usage record: settled hold or
//! recorded usage, metadata only) and the usage rollups. A batch becomes one multi-row
//! insert for the feed and one upsert per rollup table.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::Event;
use ledger_domain::account::{AccountEvent, Usage, UsageStatus};
use rust_decimal::Decimal;
use sqlx::{PgExecutor, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::{Table, from_row, rollups, sql};
use crate::error::{ProjectionError, Result};
use crate::projection::{Applied, Schema};

pub mod feed;

/// One usage record of the activity feed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActivityRow {
    /// The account billed.
    pub account_id: Uuid,
    /// Position of the usage event (unique within the account).
    pub position: i64,
    /// The key used.
    pub key_id: Uuid,
    /// The member the usage is attributed to (the key's creator).
    pub user_id: Uuid,
    /// The hold it settled, if any.
    pub hold_id: Option<Uuid>,
    /// The provider's generation id.
    pub generation_id: String,
    /// The model.
    pub model: String,
    /// The provider.
    pub provider: String,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// Cached prompt tokens.
    pub cached_tokens: i64,
    /// Cost billed.
    pub cost: Decimal,
    /// Total latency.
    pub latency_ms: i64,
    /// Time to first token.
    pub ttft_ms: Option<i64>,
    /// `success`, `error` or `cancelled`.
    pub status: String,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// When the usage was recorded (the event's time).
    pub recorded_at: DateTime<Utc>,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn status_text(status: UsageStatus) -> &'static str {
    match status {
        UsageStatus::Success => "success",
        UsageStatus::Error => "error",
        UsageStatus::Cancelled => "cancelled",
    }
}

/// The feed row of a usage event, `None` for every other event.
pub(crate) fn row_of(e: &Applied) -> Option<ActivityRow> {
    let (account, hold, usage, at): (Uuid, Option<Uuid>, &Usage, DateTime<Utc>) = match &e.event {
        Event::Account(AccountEvent::HoldSettled(s)) => (
            s.account_id.as_uuid(),
            Some(s.hold_id.as_uuid()),
            &s.usage,
            s.at,
        ),
        Event::Account(AccountEvent::UsageRecorded(u)) => {
            (u.account_id.as_uuid(), None, &u.usage, u.at)
        }
        _ => return None,
    };
    Some(ActivityRow {
        account_id: account,
        position: e.position,
        key_id: usage.key_id.as_uuid(),
        user_id: usage.user_id.as_uuid(),
        hold_id: hold,
        generation_id: usage.generation_id.as_str().to_owned(),
        model: usage.model.as_str().to_owned(),
        provider: usage.provider.as_str().to_owned(),
        prompt_tokens: count(usage.tokens.prompt),
        completion_tokens: count(usage.tokens.completion),
        reasoning_tokens: count(usage.tokens.reasoning),
        cached_tokens: count(usage.tokens.cached),
        cost: usage.cost.amount(),
        latency_ms: count(usage.latency_ms),
        ttft_ms: usage.time_to_first_token_ms.map(count),
        status: status_text(usage.status).to_owned(),
        started_at: usage.started_at,
        finished_at: usage.finished_at,
        recorded_at: at,
    })
}

pub(crate) const COLUMNS: &str = "account_id, position, key_id, user_id, hold_id, generation_id, \
    model, provider, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost, \
    latency_ms, ttft_ms, status, started_at, finished_at, recorded_at";

/// The `activity` table.
pub(crate) const ACTIVITY: Table<ActivityRow> = Table {
    name: "activity",
    columns: COLUMNS,
    decode: from_row,
};

/// Applies a batch: one insert for the feed, one upsert per rollup table.
pub(crate) async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    events: &[Arc<Applied>],
) -> Result<()> {
    let rows: Vec<ActivityRow> = events.iter().filter_map(|e| row_of(e)).collect();
    if rows.is_empty() {
        return Ok(());
    }
    insert(tx, schema, &rows).await?;
    rollups::add(tx, schema, &rows).await
}

async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    rows: &[ActivityRow],
) -> Result<()> {
    macro_rules! col {
        ($f:ident) => {
            rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(sql(format!(
        "INSERT INTO {} ({COLUMNS}) SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::uuid[], \
         $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], \
         $11::bigint[], $12::bigint[], $13::numeric[], $14::bigint[], $15::bigint[], $16::text[], \
         $17::timestamptz[], $18::timestamptz[], $19::timestamptz[])",
        schema.table("activity")
    )))
    .bind(col!(account_id))
    .bind(col!(position))
    .bind(col!(key_id))
    .bind(col!(user_id))
    .bind(col!(hold_id))
    .bind(col!(generation_id))
    .bind(col!(model))
    .bind(col!(provider))
    .bind(col!(prompt_tokens))
    .bind(col!(completion_tokens))
    .bind(col!(reasoning_tokens))
    .bind(col!(cached_tokens))
    .bind(col!(cost))
    .bind(col!(latency_ms))
    .bind(col!(ttft_ms))
    .bind(col!(status))
    .bind(col!(started_at))
    .bind(col!(finished_at))
    .bind(col!(recorded_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes feed rows of one account finished before `now − retention_days`, at most
/// `max_rows` per call (repeat while it returns `max_rows`). Both the scan and the delete are
/// served by `activity_account_time_position`.
/// The event log keeps the financial facts; only the feed forgets.
pub async fn prune_account<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    retention_days: i32,
    now: DateTime<Utc>,
    max_rows: i64,
) -> Result<u64> {
    let cutoff = now - chrono::Duration::days(i64::from(retention_days));
    let done = sqlx::query(
        "DELETE FROM activity WHERE account_id = $1 AND (finished_at, position) IN \
         (SELECT finished_at, position FROM activity \
          WHERE account_id = $1 AND finished_at < $2 LIMIT $3)",
    )
    .bind(account_id)
    .bind(cutoff)
    .bind(max_rows.clamp(1, 100_000))
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// The retention of every account: organizations' setting, and the default
/// (`DEFAULT_RETENTION_DAYS`) for personal accounts.
pub(crate) async fn retentions<'e>(executor: impl PgExecutor<'e>) -> Result<Vec<(Uuid, i32)>> {
    let default = i32::try_from(ledger_domain::organization::DEFAULT_RETENTION_DAYS)
        .map_err(|_| ProjectionError::Malformed("default retention".into()))?;
    let rows = sqlx::query(
        "SELECT account_id, retention_days FROM organizations \
         UNION ALL SELECT personal_account_id, $1 FROM users",
    )
    .bind(default)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Prunes every account's feed per its retention, then hourly rollups older than
/// [`rollups::HOURLY_KEEP_DAYS`]. Returns the feed rows deleted.
pub async fn prune(pool: &PgPool, now: DateTime<Utc>) -> Result<u64> {
    let mut deleted = 0;
    for (account, days) in retentions(pool).await? {
        loop {
            let n = prune_account(pool, account, days, now, 10_000).await?;
            deleted += n;
            if n < 10_000 {
                break;
            }
        }
    }
    rollups::prune_hourly(pool, now).await?;
    Ok(deleted)
}
