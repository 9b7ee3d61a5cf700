//! The double-entry view of money movements, part of projection `balances`.
//!
//! Each money-moving event is one movement, identified by its position, whose entries sum to
//! zero. Besides customer accounts (their uuid) there are three system accounts: `external`
//! (money paid in through purchases), `revenue` (usage billed) and `transfers` (clearing
//! between the two events of a support transfer). The balance of an account equals the sum
//! of its entries, at every position.

use chrono::{DateTime, Utc};
use ledger_domain::AccountId;
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Postgres, Row, Transaction};

use super::sql;
use crate::cursor::Cursor;
use crate::error::Result;
use crate::projection::Schema;

/// The system account money comes in from (purchases).
pub const EXTERNAL: &str = "external";
/// The system account usage is billed to.
pub const REVENUE: &str = "revenue";
/// The clearing account between the two halves of a transfer.
pub const TRANSFERS: &str = "transfers";

/// One entry of a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The movement: the position of the event that moved the money.
    pub position: i64,
    /// The ledger account: an account uuid, or `external` / `revenue` / `transfers`.
    pub account: String,
    /// Positive: credited; negative: debited. Never zero.
    pub amount: Decimal,
    /// `purchase`, `transfer_out`, `transfer_in` or `usage`.
    pub kind: String,
    /// When the event says it happened.
    pub at: DateTime<Utc>,
}

fn pair(
    position: i64,
    credited: String,
    debited: String,
    amount: Decimal,
    kind: &str,
    at: DateTime<Utc>,
) -> Vec<Entry> {
    if amount.is_zero() {
        return Vec::new();
    }
    let entry = |account, amount| Entry {
        position,
        account,
        amount,
        kind: kind.to_owned(),
        at,
    };
    vec![entry(credited, amount), entry(debited, -amount)]
}

/// Entries of a purchase: the account is credited, `external` debited.
pub(crate) fn purchase(
    account: AccountId,
    amount: Decimal,
    position: i64,
    at: DateTime<Utc>,
) -> Vec<Entry> {
    pair(
        position,
        account.to_string(),
        EXTERNAL.into(),
        amount,
        "purchase",
        at,
    )
}

/// Entries of the outgoing half of a transfer.
pub(crate) fn transfer_out(
    account: AccountId,
    amount: Decimal,
    position: i64,
    at: DateTime<Utc>,
) -> Vec<Entry> {
    pair(
        position,
        TRANSFERS.into(),
        account.to_string(),
        amount,
        "transfer_out",
        at,
    )
}

/// Entries of the incoming half of a transfer.
pub(crate) fn transfer_in(
    account: AccountId,
    amount: Decimal,
    position: i64,
    at: DateTime<Utc>,
) -> Vec<Entry> {
    pair(
        position,
        account.to_string(),
        TRANSFERS.into(),
        amount,
        "transfer_in",
        at,
    )
}

/// Entries of billed usage (none for a zero cost).
pub(crate) fn usage(
    account: AccountId,
    cost: Decimal,
    position: i64,
    at: DateTime<Utc>,
) -> Vec<Entry> {
    pair(
        position,
        REVENUE.into(),
        account.to_string(),
        cost,
        "usage",
        at,
    )
}

pub(crate) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    entries: &[Entry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query(sql(format!(
        "INSERT INTO {} (position, account, amount, kind, at) SELECT * FROM UNNEST($1::bigint[], \
         $2::text[], $3::numeric[], $4::text[], $5::timestamptz[])",
        schema.table("ledger_entries")
    )))
    .bind(entries.iter().map(|e| e.position).collect::<Vec<_>>())
    .bind(
        entries
            .iter()
            .map(|e| e.account.clone())
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|e| e.amount).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.kind.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn decode(row: &PgRow) -> Result<Entry> {
    Ok(Entry {
        position: row.try_get("position")?,
        account: row.try_get("account")?,
        amount: row.try_get("amount")?,
        kind: row.try_get("kind")?,
        at: row.try_get("at")?,
    })
}

/// A page of one ledger account's entries, oldest first, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPage {
    /// The entries.
    pub entries: Vec<Entry>,
    /// Pass back to get the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The entries of `account` (a uuid, or `external` / `revenue` / `transfers`) in position
/// order, `page_size` at most (≤ 500), after `cursor`. Served by `ledger_entries_account`.
pub async fn entries<'e>(
    executor: impl PgExecutor<'e>,
    account: &str,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<EntryPage> {
    let after = match cursor {
        Some(text) => Cursor::decode(text)?.position,
        None => 0,
    };
    let limit = super::page_size(page_size);
    let rows = sqlx::query(
        "SELECT position, account, amount, kind, at FROM ledger_entries \
         WHERE account = $1 AND position > $2 ORDER BY position LIMIT $3",
    )
    .bind(account)
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    let entries: Vec<Entry> = rows.iter().map(decode).collect::<Result<_>>()?;
    let next_cursor = (entries.len() as i64 == limit)
        .then(|| {
            entries
                .last()
                .map(|e| Cursor::at_position(e.position).encode())
        })
        .flatten();
    Ok(EntryPage {
        entries,
        next_cursor,
    })
}

/// The sum of an account's entries (equals its balance when the projection is consistent).
pub async fn entries_sum<'e>(executor: impl PgExecutor<'e>, account: &str) -> Result<Decimal> {
    let sum: Option<Decimal> =
        sqlx::query_scalar("SELECT sum(amount) FROM ledger_entries WHERE account = $1")
            .bind(account)
            .fetch_one(executor)
            .await?;
    Ok(sum.unwrap_or(Decimal::ZERO))
}

/// Every entry of `schema`, in (position, account) order (consistency check).
pub(crate) async fn all<'e>(executor: impl PgExecutor<'e>, schema: &Schema) -> Result<Vec<Entry>> {
    let rows = sqlx::query(sql(format!(
        "SELECT position, account, amount, kind, at FROM {} ORDER BY position, account",
        schema.table("ledger_entries")
    )))
    .fetch_all(executor)
    .await?;
    rows.iter().map(decode).collect()
}
