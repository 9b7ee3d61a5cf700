//! Projection `keys`: API keys with their spend per period, request count and last use.
//! A batch loads the touched keys, folds the events in memory (spend through the domain's
//! `KeySpend`, so periods reset exactly as the domain decides), and upserts them at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::account::{AccountEvent, KeyLimit, KeyStatus, Usage};
use ledger_domain::period::{KeySpend, PeriodSpend};
use ledger_domain::{Event, LimitPeriod};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Postgres, Row, Transaction};
use uuid::Uuid;

use super::{Table, fetch_page, sql, update_else_insert};
use crate::cursor::{Cursor, position_after};
use crate::error::{ProjectionError, Result};
use crate::projection::{Applied, Schema};

/// An API key as the `api_keys` table holds it. Never the secret: its keyed hash only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key.
    pub key_id: Uuid,
    /// The account it bills (its owner account).
    pub account_id: Uuid,
    /// Its creator.
    pub created_by: Uuid,
    /// Its name.
    pub name: String,
    /// Display prefix.
    pub prefix: String,
    /// Keyed hash of the secret (hex).
    pub secret_hash: String,
    /// Active, disabled or deleted.
    pub status: KeyStatus,
    /// Spend limit amount, if limited.
    pub limit_amount: Option<Decimal>,
    /// The limit's reset period, if limited.
    pub limit_period: Option<LimitPeriod>,
    /// Spend per period kind (day, ISO week, month, lifetime).
    pub spend: KeySpend,
    /// Usage records billed through it.
    pub request_count: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (the usage event's time).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Position of its `key_created` event (listing order).
    pub created_position: i64,
    /// Position of the last event that changed it.
    pub last_position: i64,
}

impl ApiKey {
    /// Spend in the limit period containing `now` (lifetime spend for an unlimited key).
    pub fn spend_in_current_period(&self, now: DateTime<Utc>) -> Decimal {
        self.spend
            .spent_in(self.limit_period.unwrap_or(LimitPeriod::Lifetime), now)
    }

    /// Total spend since creation.
    pub fn total_spend(&self) -> Decimal {
        self.spend.lifetime
    }
}

const COLUMNS: &str = "key_id, account_id, created_by, name, prefix, secret_hash, status, \
    limit_amount, limit_period, spend_day_start, spend_day, spend_week_start, spend_week, \
    spend_month_start, spend_month, total_spend, request_count, created_at, last_used_at, \
    expires_at, created_position, last_position";

pub(crate) fn status_text(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "active",
        KeyStatus::Disabled => "disabled",
        KeyStatus::Deleted => "deleted",
    }
}

pub(crate) fn period_text(period: LimitPeriod) -> &'static str {
    match period {
        LimitPeriod::Daily => "daily",
        LimitPeriod::Weekly => "weekly",
        LimitPeriod::Monthly => "monthly",
        LimitPeriod::Lifetime => "lifetime",
    }
}

fn decode(row: &PgRow) -> Result<ApiKey> {
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "active" => KeyStatus::Active,
        "disabled" => KeyStatus::Disabled,
        "deleted" => KeyStatus::Deleted,
        other => return Err(ProjectionError::Malformed(format!("key status {other}"))),
    };
    let period: Option<String> = row.try_get("limit_period")?;
    let limit_period = match period.as_deref() {
        None => None,
        Some("daily") => Some(LimitPeriod::Daily),
        Some("weekly") => Some(LimitPeriod::Weekly),
        Some("monthly") => Some(LimitPeriod::Monthly),
        Some("lifetime") => Some(LimitPeriod::Lifetime),
        Some(other) => return Err(ProjectionError::Malformed(format!("limit period {other}"))),
    };
    let spend = |start: &str, spent: &str| -> Result<PeriodSpend> {
        Ok(PeriodSpend {
            start: row.try_get::<Option<NaiveDate>, _>(start)?,
            spent: row.try_get(spent)?,
        })
    };
    Ok(ApiKey {
        key_id: row.try_get("key_id")?,
        account_id: row.try_get("account_id")?,
        created_by: row.try_get("created_by")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        secret_hash: row.try_get("secret_hash")?,
        status,
        limit_amount: row.try_get("limit_amount")?,
        limit_period,
        spend: KeySpend {
            day: spend("spend_day_start", "spend_day")?,
            week: spend("spend_week_start", "spend_week")?,
            month: spend("spend_month_start", "spend_month")?,
            lifetime: row.try_get("total_spend")?,
        },
        request_count: row.try_get("request_count")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        created_position: row.try_get("created_position")?,
        last_position: row.try_get("last_position")?,
    })
}

/// The `api_keys` table.
pub(crate) const API_KEYS: Table<ApiKey> = Table {
    name: "api_keys",
    columns: COLUMNS,
    decode,
};

/// One key by id.
pub async fn key<'e>(executor: impl PgExecutor<'e>, key_id: Uuid) -> Result<Option<ApiKey>> {
    API_KEYS.find(executor, "key_id", key_id).await
}

/// The key whose current secret hashes to `secret_hash` (unique index `api_keys_secret_hash`;
/// a rotated-out secret is no longer found here: the gateway authenticates from the log's key
/// index, which knows every secret). The caller checks status and expiry.
pub async fn key_by_secret_hash<'e>(
    executor: impl PgExecutor<'e>,
    secret_hash: &str,
) -> Result<Option<ApiKey>> {
    API_KEYS
        .find(executor, "secret_hash", secret_hash.to_ascii_lowercase())
        .await
}

/// The names of the keys among `key_ids` that bill `account_id`, by key id, in one query
/// (an export names the keys of a page of records at once).
pub async fn key_names<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    key_ids: &[Uuid],
) -> Result<HashMap<Uuid, String>> {
    let rows =
        sqlx::query("SELECT key_id, name FROM api_keys WHERE account_id = $1 AND key_id = ANY($2)")
            .bind(account_id)
            .bind(key_ids)
            .fetch_all(executor)
            .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("key_id")?, row.try_get("name")?)))
        .collect()
}

/// Filter of a key listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only keys created by this user (a member sees only their own keys).
    pub created_by: Option<Uuid>,
    /// Include deleted keys (tombstones).
    pub include_deleted: bool,
}

/// A page of keys and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys, in creation order.
    pub keys: Vec<ApiKey>,
    /// Pass back to get the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The keys of an account in creation order, `page_size` at most (≤ 500), after `cursor`.
/// Served by `api_keys_account` / `api_keys_account_creator`.
pub async fn list_keys<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    filter: &KeyFilter,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<KeyPage> {
    let query = sqlx::query(sql(format!(
        "SELECT {COLUMNS} FROM api_keys WHERE account_id = $1 AND created_position > $2 \
         AND ($3::uuid IS NULL OR created_by = $3) AND ($4 OR status <> 'deleted') \
         ORDER BY created_position LIMIT $5"
    )))
    .bind(account_id)
    .bind(position_after(cursor)?)
    .bind(filter.created_by)
    .bind(filter.include_deleted);
    let (keys, next_cursor) = fetch_page(executor, query, page_size, decode, |k| {
        Cursor::at_position(k.created_position)
    })
    .await?;
    Ok(KeyPage { keys, next_cursor })
}

/// Keys touched by a batch, folded in memory.
#[derive(Default)]
pub(crate) struct KeyFold {
    pub(crate) keys: BTreeMap<Uuid, ApiKey>,
    dirty: HashSet<Uuid>,
}

impl KeyFold {
    fn key(&mut self, key_id: Uuid, position: i64) -> Result<&mut ApiKey> {
        self.dirty.insert(key_id);
        let key = self.keys.get_mut(&key_id).ok_or_else(|| {
            ProjectionError::Malformed(format!("event at {position} for unknown key {key_id}"))
        })?;
        key.last_position = position;
        Ok(key)
    }

    fn set_limit(key: &mut ApiKey, limit: Option<KeyLimit>) {
        key.limit_amount = limit.map(|l| l.amount.amount());
        key.limit_period = limit.map(|l| l.reset);
    }

    fn used(&mut self, usage: &Usage, at: DateTime<Utc>, position: i64) -> Result<()> {
        let key = self.key(usage.key_id.as_uuid(), position)?;
        key.spend.add(at, usage.cost.amount());
        key.request_count += 1;
        key.last_used_at = key.last_used_at.max(Some(at));
        Ok(())
    }

    /// Folds one event (events other than key events and usage are ignored).
    pub(crate) fn apply(&mut self, e: &Applied) -> Result<()> {
        let Event::Account(event) = &e.event else {
            return Ok(());
        };
        let position = e.position;
        match event {
            AccountEvent::KeyCreated(k) => {
                let id = k.key_id.as_uuid();
                self.dirty.insert(id);
                let mut key = ApiKey {
                    key_id: id,
                    account_id: k.account_id.as_uuid(),
                    created_by: k.created_by.as_uuid(),
                    name: k.name.as_str().to_owned(),
                    prefix: k.prefix.as_str().to_owned(),
                    secret_hash: k.secret_hash.as_str().to_owned(),
                    status: KeyStatus::Active,
                    limit_amount: None,
                    limit_period: None,
                    spend: KeySpend::default(),
                    request_count: 0,
                    created_at: k.at,
                    last_used_at: None,
                    expires_at: k.expires_at,
                    created_position: position,
                    last_position: position,
                };
                Self::set_limit(&mut key, k.limit);
                self.keys.insert(id, key);
            }
            AccountEvent::KeyRenamed(k) => {
                self.key(k.key_id.as_uuid(), position)?.name = k.name.as_str().to_owned();
            }
            AccountEvent::KeyLimitChanged(k) => {
                Self::set_limit(self.key(k.key_id.as_uuid(), position)?, k.limit);
            }
            AccountEvent::KeyDisabled(k) => {
                self.key(k.key_id.as_uuid(), position)?.status = KeyStatus::Disabled;
            }
            AccountEvent::KeyEnabled(k) => {
                self.key(k.key_id.as_uuid(), position)?.status = KeyStatus::Active;
            }
            AccountEvent::KeyDeleted(k) => {
                self.key(k.key_id.as_uuid(), position)?.status = KeyStatus::Deleted;
            }
            AccountEvent::HoldSettled(s) => self.used(&s.usage, s.at, position)?,
            AccountEvent::UsageRecorded(u) => self.used(&u.usage, u.at, position)?,
            AccountEvent::KeyRotated(k) => {
                let key = self.key(k.key_id.as_uuid(), position)?;
                key.secret_hash = k.secret_hash.as_str().to_owned();
                key.prefix = k.prefix.as_str().to_owned();
            }
            AccountEvent::KeyExpiryChanged(k) => {
                self.key(k.key_id.as_uuid(), position)?.expires_at = k.expires_at;
            }
            _ => {}
        }
        Ok(())
    }
}

fn touched_key(event: &AccountEvent) -> Option<Uuid> {
    let id = match event {
        AccountEvent::KeyRenamed(k) => k.key_id,
        AccountEvent::KeyLimitChanged(k) => k.key_id,
        AccountEvent::KeyDisabled(k) => k.key_id,
        AccountEvent::KeyEnabled(k) | AccountEvent::KeyDeleted(k) => k.key_id,
        AccountEvent::HoldSettled(s) => s.usage.key_id,
        AccountEvent::UsageRecorded(u) => u.usage.key_id,
        AccountEvent::KeyRotated(k) => k.key_id,
        AccountEvent::KeyExpiryChanged(k) => k.key_id,
        _ => return None,
    };
    Some(id.as_uuid())
}

/// Applies a batch: load the touched keys, fold, upsert them in one statement.
pub(crate) async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    events: &[Arc<Applied>],
) -> Result<()> {
    let mut touched = HashSet::new();
    let mut any = false;
    for e in events {
        if let Event::Account(event) = &e.event {
            if let Some(id) = touched_key(event) {
                touched.insert(id);
            }
            any |= matches!(event, AccountEvent::KeyCreated(_));
        }
    }
    if touched.is_empty() && !any {
        return Ok(());
    }
    let mut fold = KeyFold::default();
    if !touched.is_empty() {
        let ids: Vec<Uuid> = touched.into_iter().collect();
        for key in API_KEYS.any_of(&mut **tx, schema, "key_id", &ids).await? {
            fold.keys.insert(key.key_id, key);
        }
    }
    for e in events {
        fold.apply(e)?;
    }
    let rows: Vec<&ApiKey> = fold
        .dirty
        .iter()
        .filter_map(|id| fold.keys.get(id))
        .collect();
    upsert(tx, schema, &rows).await
}

async fn upsert(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    rows: &[&ApiKey],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&ApiKey) -> Option<NaiveDate>| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let dec = |f: fn(&ApiKey) -> Decimal| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let input = format!(
        "SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], \
           $4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::text[], \
           $10::date[], $11::numeric[], $12::date[], $13::numeric[], $14::date[], $15::numeric[], \
           $16::numeric[], $17::bigint[], $18::timestamptz[], $19::timestamptz[], \
           $20::timestamptz[], $21::bigint[], $22::bigint[]) AS x({COLUMNS})"
    );
    sqlx::query(sql(update_else_insert(
        &schema.table("api_keys"),
        &input,
        COLUMNS,
        &["key_id"],
        "name = input.name, status = input.status, prefix = input.prefix, \
         secret_hash = input.secret_hash, expires_at = input.expires_at, \
         limit_amount = input.limit_amount, limit_period = input.limit_period, \
         spend_day_start = input.spend_day_start, spend_day = input.spend_day, \
         spend_week_start = input.spend_week_start, spend_week = input.spend_week, \
         spend_month_start = input.spend_month_start, spend_month = input.spend_month, \
         total_spend = input.total_spend, request_count = input.request_count, \
         last_used_at = input.last_used_at, last_position = input.last_position",
    )))
    .bind(rows.iter().map(|r| r.key_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.account_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_by).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.prefix.clone()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.secret_hash.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| status_text(r.status))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.limit_amount).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.limit_period.map(period_text))
            .collect::<Vec<_>>(),
    )
    .bind(col(|r| r.spend.day.start))
    .bind(dec(|r| r.spend.day.spent))
    .bind(col(|r| r.spend.week.start))
    .bind(dec(|r| r.spend.week.spent))
    .bind(col(|r| r.spend.month.start))
    .bind(dec(|r| r.spend.month.spent))
    .bind(dec(|r| r.spend.lifetime))
    .bind(rows.iter().map(|r| r.request_count).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.last_used_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.expires_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_position).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.last_position).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// When each key among `key_ids` was last used (its latest settlement or usage record), for
/// the keys used at least once, in one query. The command path writes nothing for this: the
/// projection derives it from the usage events.
pub async fn last_used<'e>(
    executor: impl PgExecutor<'e>,
    key_ids: &[Uuid],
) -> Result<HashMap<Uuid, DateTime<Utc>>> {
    let rows = sqlx::query(
        "SELECT key_id, last_used_at FROM api_keys \
         WHERE key_id = ANY($1) AND last_used_at IS NOT NULL",
    )
    .bind(key_ids)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("key_id")?, row.try_get("last_used_at")?)))
        .collect()
}
