//! The double-entry view of money movements, part of projection `balances`.
//!
//! Each money-moving event is one movement, identified by its position, whose entries sum to
//! zero. Besides customer accounts (their uuid) there are four system accounts (books):
//! `external` (money paid in through purchases, and out through refunds), `revenue` (usage
//! billed), `transfers` (clearing between the two events of a support transfer or of its
//! reversal) and `adjustments` (support's credits and debits). The balance of an account
//! equals the sum of its entries, at every position. Entries carry the payment provider's
//! reference (purchases, refunds) or the support ticket (transfers, reversals, adjustments).

use chrono::{DateTime, Utc};
use ledger_domain::AccountId;
use ledger_domain::account::{AccountEvent, AdjustmentDirection};
use rust_decimal::Decimal;
use sqlx::{PgExecutor, Postgres, Transaction};

use super::{Table, fetch_page, from_row, sql};
use crate::cursor::{Cursor, position_after};
use crate::error::Result;
use crate::projection::Schema;

/// The system account money comes in from (purchases).
pub const EXTERNAL: &str = "external";
/// The system account usage is billed to.
pub const REVENUE: &str = "revenue";
/// The clearing account between the two halves of a transfer (and of its reversal).
pub const TRANSFERS: &str = "transfers";
/// The system account support's adjustments are booked against.
pub const ADJUSTMENTS: &str = "adjustments";
/// Every system account (book), as `ListBookEntries` accepts them.
pub const BOOKS: [&str; 4] = [EXTERNAL, REVENUE, TRANSFERS, ADJUSTMENTS];

/// One entry of a movement.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    /// The movement: the position of the event that moved the money.
    pub position: i64,
    /// The ledger account: an account uuid, or `external` / `revenue` / `transfers`.
    pub account: String,
    /// Positive: credited; negative: debited. Never zero.
    pub amount: Decimal,
    /// `purchase`, `transfer_out`, `transfer_in`, `usage`, `adjustment`,
    /// `transfer_reversal_out`, `transfer_reversal_in` or `refund`.
    pub kind: String,
    /// When the event says it happened.
    pub at: DateTime<Utc>,
    /// The payment provider's reference (purchases and refunds).
    pub payment_reference: Option<String>,
    /// The support ticket (transfers, their reversals, adjustments).
    pub ticket: Option<String>,
    /// The ledger account on the other side of the movement: a book's entry names its
    /// customer account, a customer's entry its book.
    pub counterparty: String,
}

/// What moved money, which decides the ledger accounts each side of the movement is booked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Movement {
    /// Credits bought: the account is credited, `external` debited.
    Purchase,
    /// The outgoing half of a transfer: `transfers` is credited, the account debited.
    TransferOut,
    /// The incoming half of a transfer: the account is credited, `transfers` debited.
    TransferIn,
    /// Usage billed: `revenue` is credited, the account debited.
    Usage,
    /// Support credited the account: the account is credited, `adjustments` debited.
    AdjustmentCredit,
    /// Support debited the account: `adjustments` is credited, the account debited.
    AdjustmentDebit,
    /// A reversed transfer leaves the account it went to: `transfers` credited, account debited.
    TransferReversalOut,
    /// A reversed transfer comes back to its source: the account credited, `transfers` debited.
    TransferReversalIn,
    /// A purchase refunded: `external` is credited, the account debited.
    Refund,
}

impl Movement {
    /// The entry kind stored for it.
    fn kind(self) -> &'static str {
        match self {
            Movement::Purchase => "purchase",
            Movement::TransferOut => "transfer_out",
            Movement::TransferIn => "transfer_in",
            Movement::Usage => "usage",
            Movement::AdjustmentCredit | Movement::AdjustmentDebit => "adjustment",
            Movement::TransferReversalOut => "transfer_reversal_out",
            Movement::TransferReversalIn => "transfer_reversal_in",
            Movement::Refund => "refund",
        }
    }
}

/// Money an account event moves: how, for which account, how much and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Money {
    /// How it moved.
    pub(crate) movement: Movement,
    /// The customer account it moved in or out of.
    pub(crate) account: AccountId,
    /// The amount, never negative.
    pub(crate) amount: Decimal,
    /// When the event says it happened.
    pub(crate) at: DateTime<Utc>,
    /// The payment provider's reference, for purchases and refunds.
    pub(crate) payment_reference: Option<String>,
    /// The support ticket, for transfers, reversals and adjustments.
    pub(crate) ticket: Option<String>,
}

impl Money {
    /// The money `event` moves; `None` for an event that moves none.
    pub(crate) fn moved_by(event: &AccountEvent) -> Option<Money> {
        use AccountEvent as E;
        let paid = |r: &ledger_domain::text::PaymentReference| (Some(r.as_str().to_owned()), None);
        let ticketed =
            |t: &ledger_domain::text::TicketReference| (None, Some(t.as_str().to_owned()));
        let (movement, amount, at, (payment_reference, ticket)) = match event {
            E::CreditsPurchased(p) => (
                Movement::Purchase,
                p.amount.amount(),
                p.at,
                paid(&p.payment_reference),
            ),
            E::TransferredOut(t) => (
                Movement::TransferOut,
                t.amount.amount(),
                t.at,
                ticketed(&t.ticket),
            ),
            E::TransferredIn(t) => (
                Movement::TransferIn,
                t.amount.amount(),
                t.at,
                ticketed(&t.ticket),
            ),
            E::HoldSettled(s) => (Movement::Usage, s.usage.cost.amount(), s.at, (None, None)),
            E::UsageRecorded(u) => (Movement::Usage, u.usage.cost.amount(), u.at, (None, None)),
            E::CreditsAdjusted(a) => (
                match a.direction {
                    AdjustmentDirection::Credit => Movement::AdjustmentCredit,
                    AdjustmentDirection::Debit => Movement::AdjustmentDebit,
                },
                a.amount.amount(),
                a.at,
                ticketed(&a.ticket),
            ),
            E::TransferReversedOut(r) => (
                Movement::TransferReversalOut,
                r.amount.amount(),
                r.at,
                ticketed(&r.ticket),
            ),
            E::TransferReversedIn(r) => (
                Movement::TransferReversalIn,
                r.amount.amount(),
                r.at,
                ticketed(&r.ticket),
            ),
            E::PurchaseRefunded(r) => (
                Movement::Refund,
                r.amount.amount(),
                r.at,
                paid(&r.payment_reference),
            ),
            _ => return None,
        };
        Some(Money {
            movement,
            account: event.account_id(),
            amount,
            at,
            payment_reference,
            ticket,
        })
    }

    /// The two entries of this movement at `position`, summing to zero; none for a zero
    /// amount.
    pub(crate) fn entries(&self, position: i64) -> Vec<Entry> {
        if self.amount.is_zero() {
            return Vec::new();
        }
        let account = self.account.to_string();
        let (credited, debited) = match self.movement {
            Movement::Purchase => (account, EXTERNAL.to_owned()),
            Movement::TransferOut => (TRANSFERS.to_owned(), account),
            Movement::TransferIn => (account, TRANSFERS.to_owned()),
            Movement::Usage => (REVENUE.to_owned(), account),
            Movement::AdjustmentCredit => (account, ADJUSTMENTS.to_owned()),
            Movement::AdjustmentDebit => (ADJUSTMENTS.to_owned(), account),
            Movement::TransferReversalOut => (TRANSFERS.to_owned(), account),
            Movement::TransferReversalIn => (account, TRANSFERS.to_owned()),
            Movement::Refund => (EXTERNAL.to_owned(), account),
        };
        let entry = |account: &String, counterparty: &String, amount| Entry {
            position,
            account: account.clone(),
            counterparty: counterparty.clone(),
            amount,
            kind: self.movement.kind().to_owned(),
            at: self.at,
            payment_reference: self.payment_reference.clone(),
            ticket: self.ticket.clone(),
        };
        vec![
            entry(&credited, &debited, self.amount),
            entry(&debited, &credited, -self.amount),
        ]
    }
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
        "INSERT INTO {} ({ENTRY_COLUMNS}) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::numeric[], $4::text[], \
         $5::timestamptz[], $6::text[], $7::text[], $8::text[])",
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
    .bind(
        entries
            .iter()
            .map(|e| e.payment_reference.clone())
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|e| e.ticket.clone()).collect::<Vec<_>>())
    .bind(
        entries
            .iter()
            .map(|e| e.counterparty.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The columns of an [`Entry`], in `INSERT` and `SELECT` order.
const ENTRY_COLUMNS: &str =
    "position, account, amount, kind, at, payment_reference, ticket, counterparty";

/// The `ledger_entries` table.
pub(crate) const LEDGER_ENTRIES: Table<Entry> = Table {
    name: "ledger_entries",
    columns: ENTRY_COLUMNS,
    decode: from_row,
};

/// A page of one ledger account's entries, newest first, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPage {
    /// The entries.
    pub entries: Vec<Entry>,
    /// Pass back to get the next (older) page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The entries of `account` (a uuid, or a book of [`BOOKS`]) newest first
/// (descending position), `page_size` at most (≤ 500), before `cursor`. Served by
/// the primary key `(account, position)`, scanned backwards.
pub async fn entries<'e>(
    executor: impl PgExecutor<'e>,
    account: &str,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<EntryPage> {
    entries_between(executor, account, TimeRange::default(), cursor, page_size).await
}

/// A time range of entries: `from` inclusive, `to` exclusive; either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// The earliest time included.
    pub from: Option<DateTime<Utc>>,
    /// The first time excluded.
    pub to: Option<DateTime<Utc>>,
}

/// [`entries`] within `range`, filtered in the query, so every page but the last is full and
/// the cursor goes on below the last entry returned.
pub async fn entries_between<'e>(
    executor: impl PgExecutor<'e>,
    account: &str,
    range: TimeRange,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<EntryPage> {
    let before = match cursor {
        Some(_) => position_after(cursor)?,
        None => i64::MAX,
    };
    let query = sqlx::query(sql(format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries \
         WHERE account = $1 AND position < $2 \
           AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4) \
         ORDER BY position DESC LIMIT $5"
    )))
    .bind(account)
    .bind(before)
    .bind(range.from)
    .bind(range.to);
    let (entries, next_cursor) = fetch_page(executor, query, page_size, from_row, |e: &Entry| {
        Cursor::at_position(e.position)
    })
    .await?;
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

/// The entries `account` booked under the payment provider's `payment_reference` (its
/// purchase, and its refund if any), oldest first; at most a few. Served by
/// `ledger_entries_payment`.
pub async fn payment_entries<'e>(
    executor: impl PgExecutor<'e>,
    account: AccountId,
    payment_reference: &str,
) -> Result<Vec<Entry>> {
    let rows = sqlx::query(sql(format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries \
         WHERE account = $1 AND payment_reference = $2 ORDER BY position LIMIT 10"
    )))
    .bind(account.as_uuid().to_string())
    .bind(payment_reference)
    .fetch_all(executor)
    .await?;
    rows.iter().map(from_row).collect()
}
