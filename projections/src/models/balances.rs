//! Projection `balances`: one row per account (balance, holds, totals), the open holds, and
//! the double-entry ledger. A batch loads the touched rows, folds the events in memory and
//! writes each table back with one statement.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::Event;
use ledger_domain::account::{AccountEvent, AccountOwner};
use ledger_domain::{AccountId, OrganizationId, UserId};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Postgres, Row, Transaction};
use uuid::Uuid;

use super::ledger::{self, Entry, Money, Movement};
use super::{Table, from_row, sql, update_else_insert};
use crate::error::{ProjectionError, Result};
use crate::projection::{Applied, Schema};

/// An account's credits as the `account_balances` table holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The account.
    pub account_id: AccountId,
    /// Its owner (user or organization).
    pub owner: AccountOwner,
    /// Credits; negative only through usage recorded without a hold.
    pub balance: Decimal,
    /// Sum of open holds.
    pub held: Decimal,
    /// Number of open holds.
    pub open_holds: i64,
    /// All purchases.
    pub purchased: Decimal,
    /// All transfers in.
    pub transferred_in: Decimal,
    /// All transfers out.
    pub transferred_out: Decimal,
    /// All settled and recorded usage.
    pub used: Decimal,
    /// Support adjustments: credits less debits.
    pub adjusted: Decimal,
    /// When the account opened.
    pub opened_at: DateTime<Utc>,
    /// Position of the last event that changed this row.
    pub last_position: i64,
}

impl Balance {
    /// Balance minus open holds.
    pub fn available(&self) -> Decimal {
        self.balance - self.held
    }
}

/// An open hold as the `open_holds` table holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenHoldRow {
    /// The hold.
    pub hold_id: Uuid,
    /// Its account.
    pub account_id: Uuid,
    /// The key it was placed for.
    pub key_id: Uuid,
    /// The estimate held.
    pub amount: Decimal,
    /// When the expiry task may release it.
    pub expires_at: DateTime<Utc>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Position of its `hold_placed` event.
    pub position: i64,
}

const BALANCE_COLUMNS: &str = "account_id, owner_kind, owner_id, balance, held, open_holds, \
    purchased, transferred_in, transferred_out, used, opened_at, last_position, adjusted";
const HOLD_COLUMNS: &str = "hold_id, account_id, key_id, amount, expires_at, placed_at, position";

pub(crate) fn owner_parts(owner: AccountOwner) -> (&'static str, Uuid) {
    match owner {
        AccountOwner::User { user_id } => ("user", user_id.as_uuid()),
        AccountOwner::Organization { organization_id } => {
            ("organization", organization_id.as_uuid())
        }
    }
}

fn decode_balance(row: &PgRow) -> Result<Balance> {
    let kind: String = row.try_get("owner_kind")?;
    let owner_id: Uuid = row.try_get("owner_id")?;
    let owner = match kind.as_str() {
        "user" => AccountOwner::User {
            user_id: UserId::from_uuid(owner_id),
        },
        "organization" => AccountOwner::Organization {
            organization_id: OrganizationId::from_uuid(owner_id),
        },
        other => return Err(ProjectionError::Malformed(format!("owner kind {other}"))),
    };
    Ok(Balance {
        account_id: AccountId::from_uuid(row.try_get("account_id")?),
        owner,
        balance: row.try_get("balance")?,
        held: row.try_get("held")?,
        open_holds: row.try_get("open_holds")?,
        purchased: row.try_get("purchased")?,
        transferred_in: row.try_get("transferred_in")?,
        transferred_out: row.try_get("transferred_out")?,
        used: row.try_get("used")?,
        adjusted: row.try_get("adjusted")?,
        opened_at: row.try_get("opened_at")?,
        last_position: row.try_get("last_position")?,
    })
}

/// The `account_balances` table.
pub(crate) const ACCOUNT_BALANCES: Table<Balance> = Table {
    name: "account_balances",
    columns: BALANCE_COLUMNS,
    decode: decode_balance,
};

/// The `open_holds` table.
pub(crate) const OPEN_HOLDS: Table<OpenHoldRow> = Table {
    name: "open_holds",
    columns: HOLD_COLUMNS,
    decode: from_row,
};

/// The balance of one account, `None` if no such account has been projected.
#[tracing::instrument(skip_all, fields(account = %account_id), err)]
pub async fn balance<'e>(
    executor: impl PgExecutor<'e>,
    account_id: AccountId,
) -> Result<Option<Balance>> {
    ACCOUNT_BALANCES
        .find(executor, "account_id", account_id.as_uuid())
        .await
}

/// Where a scan of expired holds stands: the last hold it returned, in (expires_at, hold_id)
/// order.
pub type HoldCursor = (DateTime<Utc>, Uuid);

/// Open holds whose TTL has passed at `now`, after `after` in (expires_at, hold_id) order, at
/// most `limit` (≤ 500): the work list of the hold-expiry task. The scan pages by cursor, so
/// holds that cannot be expired yet (their settlement is in the log but not yet projected) never
/// hide the ones behind them.
pub async fn expired_holds<'e>(
    executor: impl PgExecutor<'e>,
    now: DateTime<Utc>,
    after: Option<HoldCursor>,
    limit: u32,
) -> Result<Vec<OpenHoldRow>> {
    let (after_expiry, after_hold) = after.unzip();
    let rows = sqlx::query(sql(format!(
        "SELECT {HOLD_COLUMNS} FROM open_holds WHERE expires_at <= $1 \
         AND ($2::timestamptz IS NULL OR (expires_at, hold_id) > ($2, $3)) \
         ORDER BY expires_at, hold_id LIMIT $4"
    )))
    .bind(now)
    .bind(after_expiry)
    .bind(after_hold)
    .bind(super::page_size(limit))
    .fetch_all(executor)
    .await?;
    rows.iter().map(from_row).collect()
}

/// A hold as the read model keys it: (account, hold). A hold id is unique only within its
/// account, so two accounts may each hold one with the same id.
pub(crate) type HoldKey = (Uuid, Uuid);

/// The in-memory state of a batch: touched rows, holds opened and closed, ledger entries.
#[derive(Default)]
pub(crate) struct BalanceFold {
    pub(crate) accounts: BTreeMap<Uuid, Balance>,
    pub(crate) holds: HashMap<HoldKey, OpenHoldRow>,
    pub(crate) closed_holds: HashSet<HoldKey>,
    pub(crate) entries: Vec<Entry>,
    dirty: HashSet<Uuid>,
}

impl BalanceFold {
    fn account(&mut self, id: AccountId, position: i64) -> Result<&mut Balance> {
        self.dirty.insert(id.as_uuid());
        let row = self.accounts.get_mut(&id.as_uuid()).ok_or_else(|| {
            ProjectionError::Malformed(format!("event at {position} for unknown account {id}"))
        })?;
        row.last_position = position;
        Ok(row)
    }

    fn close_hold(&mut self, account: AccountId, hold: Uuid, position: i64) -> Result<()> {
        let key = (account.as_uuid(), hold);
        let removed = self.holds.remove(&key).ok_or_else(|| {
            ProjectionError::Malformed(format!("event at {position} closes unknown hold {hold}"))
        })?;
        self.closed_holds.insert(key);
        let row = self.account(account, position)?;
        row.held -= removed.amount;
        row.open_holds -= 1;
        Ok(())
    }

    /// Books money moved in or out of an account: its balance, the running total the
    /// movement counts towards, and the movement's ledger entries.
    fn book(&mut self, money: &Money, position: i64) -> Result<()> {
        let row = self.account(money.account, position)?;
        // (the balance's sign, the total it counts towards, that total's sign): refunds and
        // reversals net out of the purchases and transfers they undo.
        let (sign, total, total_sign) = match money.movement {
            Movement::Purchase => (1, &mut row.purchased, 1),
            Movement::TransferIn => (1, &mut row.transferred_in, 1),
            Movement::TransferOut => (-1, &mut row.transferred_out, 1),
            Movement::Usage => (-1, &mut row.used, 1),
            Movement::AdjustmentCredit => (1, &mut row.adjusted, 1),
            Movement::AdjustmentDebit => (-1, &mut row.adjusted, -1),
            Movement::TransferReversalOut => (-1, &mut row.transferred_in, -1),
            Movement::TransferReversalIn => (1, &mut row.transferred_out, -1),
            Movement::Refund => (-1, &mut row.purchased, -1),
        };
        *total += Decimal::from(total_sign) * money.amount;
        row.balance += Decimal::from(sign) * money.amount;
        self.entries.extend(money.entries(position));
        Ok(())
    }

    /// Folds one event (non-account events are ignored).
    pub(crate) fn apply(&mut self, e: &Applied) -> Result<()> {
        let Event::Account(event) = &e.event else {
            return Ok(());
        };
        let position = e.position;
        match event {
            AccountEvent::Opened(o) => {
                self.dirty.insert(o.account_id.as_uuid());
                self.accounts.insert(
                    o.account_id.as_uuid(),
                    Balance {
                        account_id: o.account_id,
                        owner: o.owner,
                        balance: Decimal::ZERO,
                        held: Decimal::ZERO,
                        open_holds: 0,
                        purchased: Decimal::ZERO,
                        transferred_in: Decimal::ZERO,
                        transferred_out: Decimal::ZERO,
                        used: Decimal::ZERO,
                        adjusted: Decimal::ZERO,
                        opened_at: o.at,
                        last_position: position,
                    },
                );
            }
            AccountEvent::HoldPlaced(h) => {
                let amount = h.estimate.amount();
                let row = self.account(h.account_id, position)?;
                row.held += amount;
                row.open_holds += 1;
                let key = (h.account_id.as_uuid(), h.hold_id.as_uuid());
                self.closed_holds.remove(&key);
                self.holds.insert(
                    key,
                    OpenHoldRow {
                        hold_id: h.hold_id.as_uuid(),
                        account_id: h.account_id.as_uuid(),
                        key_id: h.key_id.as_uuid(),
                        amount,
                        expires_at: h.expires_at,
                        placed_at: h.at,
                        position,
                    },
                );
            }
            AccountEvent::HoldSettled(s) => {
                self.close_hold(s.account_id, s.hold_id.as_uuid(), position)?;
            }
            AccountEvent::HoldVoided(c) | AccountEvent::HoldExpired(c) => {
                self.close_hold(c.account_id, c.hold_id.as_uuid(), position)?;
            }
            // Money only: booked below.
            AccountEvent::CreditsPurchased(_)
            | AccountEvent::TransferredOut(_)
            | AccountEvent::TransferredIn(_)
            | AccountEvent::UsageRecorded(_)
            | AccountEvent::CreditsAdjusted(_)
            | AccountEvent::TransferReversedOut(_)
            | AccountEvent::TransferReversedIn(_)
            | AccountEvent::PurchaseRefunded(_) => {}
            AccountEvent::KeyCreated(_)
            | AccountEvent::KeyRenamed(_)
            | AccountEvent::KeyLimitChanged(_)
            | AccountEvent::KeyDisabled(_)
            | AccountEvent::KeyEnabled(_)
            | AccountEvent::KeyDeleted(_)
            | AccountEvent::KeyRotated(_)
            | AccountEvent::KeyExpiryChanged(_) => {}
            // Spending controls and budget notices: no balance row changes.
            AccountEvent::BudgetSet(_)
            | AccountEvent::MemberSpendCapSet(_)
            | AccountEvent::DefaultKeyLimitSet(_)
            | AccountEvent::BudgetThresholdReached(_)
            | AccountEvent::LowBalanceThresholdSet(_) => {}
        }
        match Money::moved_by(event) {
            Some(money) => self.book(&money, position),
            None => Ok(()),
        }
    }
}

/// Applies a batch: load the touched accounts and holds, fold, write back (≤ 5 statements).
pub(crate) async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    events: &[Arc<Applied>],
) -> Result<()> {
    let mut accounts = HashSet::new();
    let mut holds = HashSet::new();
    for e in events {
        if let Event::Account(event) = &e.event {
            accounts.insert(event.account_id().as_uuid());
            match event {
                AccountEvent::HoldSettled(s) => {
                    holds.insert((s.account_id.as_uuid(), s.hold_id.as_uuid()));
                }
                AccountEvent::HoldVoided(c) | AccountEvent::HoldExpired(c) => {
                    holds.insert((c.account_id.as_uuid(), c.hold_id.as_uuid()));
                }
                _ => {}
            }
        }
    }
    if accounts.is_empty() {
        return Ok(());
    }
    let mut fold = BalanceFold::default();
    let ids: Vec<Uuid> = accounts.into_iter().collect();
    let balances = ACCOUNT_BALANCES
        .any_of(&mut **tx, schema, "account_id", &ids)
        .await?;
    for balance in balances {
        fold.accounts.insert(balance.account_id.as_uuid(), balance);
    }
    let existing_holds: HashSet<HoldKey>;
    if holds.is_empty() {
        existing_holds = HashSet::new();
    } else {
        let (accounts, ids): (Vec<Uuid>, Vec<Uuid>) = holds.iter().copied().unzip();
        // By the primary key (account, hold). Pairs that were not asked for can come back too
        // (one account's hold id with another account); only the closed ones count.
        let select = OPEN_HOLDS.select(schema, " WHERE account_id = ANY($1) AND hold_id = ANY($2)");
        for hold in OPEN_HOLDS
            .fetch(
                &mut **tx,
                sqlx::query(sql(select)).bind(&accounts).bind(&ids),
            )
            .await?
        {
            let key = (hold.account_id, hold.hold_id);
            if holds.contains(&key) {
                fold.holds.insert(key, hold);
            }
        }
        existing_holds = fold.holds.keys().copied().collect();
    }
    for e in events {
        fold.apply(e)?;
    }
    write_balances(tx, schema, &fold).await?;
    let (closed_accounts, closed_holds): (Vec<Uuid>, Vec<Uuid>) = fold
        .closed_holds
        .iter()
        .filter(|h| existing_holds.contains(h))
        .copied()
        .unzip();
    if !closed_holds.is_empty() {
        sqlx::query(sql(format!(
            "DELETE FROM {} WHERE (account_id, hold_id) IN \
             (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))",
            schema.table("open_holds")
        )))
        .bind(&closed_accounts)
        .bind(&closed_holds)
        .execute(&mut **tx)
        .await?;
    }
    let opened: Vec<&OpenHoldRow> = fold
        .holds
        .iter()
        .filter(|(key, _)| !existing_holds.contains(key))
        .map(|(_, hold)| hold)
        .collect();
    insert_holds(tx, schema, &opened).await?;
    ledger::insert(tx, schema, &fold.entries).await
}

async fn write_balances(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    fold: &BalanceFold,
) -> Result<()> {
    let rows: Vec<&Balance> = fold
        .dirty
        .iter()
        .filter_map(|id| fold.accounts.get(id))
        .collect();
    let (kinds, owners): (Vec<&str>, Vec<Uuid>) = rows.iter().map(|r| owner_parts(r.owner)).unzip();
    let input = format!(
        "SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::numeric[], $5::numeric[], \
           $6::bigint[], $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[], \
           $11::timestamptz[], $12::bigint[], $13::numeric[]) AS x({BALANCE_COLUMNS})"
    );
    sqlx::query(sql(update_else_insert(
        &schema.table("account_balances"),
        &input,
        BALANCE_COLUMNS,
        &["account_id"],
        "balance = input.balance, held = input.held, open_holds = input.open_holds, \
         purchased = input.purchased, transferred_in = input.transferred_in, \
         transferred_out = input.transferred_out, used = input.used, \
         last_position = input.last_position, adjusted = input.adjusted",
    )))
    .bind(
        rows.iter()
            .map(|r| r.account_id.as_uuid())
            .collect::<Vec<_>>(),
    )
    .bind(kinds)
    .bind(owners)
    .bind(rows.iter().map(|r| r.balance).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.held).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.open_holds).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.purchased).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.transferred_in).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.transferred_out).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.used).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.opened_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.last_position).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.adjusted).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_holds(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    holds: &[&OpenHoldRow],
) -> Result<()> {
    if holds.is_empty() {
        return Ok(());
    }
    sqlx::query(sql(format!(
        "INSERT INTO {} ({HOLD_COLUMNS}) SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], \
         $4::numeric[], $5::timestamptz[], $6::timestamptz[], $7::bigint[])",
        schema.table("open_holds")
    )))
    .bind(holds.iter().map(|h| h.hold_id).collect::<Vec<_>>())
    .bind(holds.iter().map(|h| h.account_id).collect::<Vec<_>>())
    .bind(holds.iter().map(|h| h.key_id).collect::<Vec<_>>())
    .bind(holds.iter().map(|h| h.amount).collect::<Vec<_>>())
    .bind(holds.iter().map(|h| h.expires_at).collect::<Vec<_>>())
    .bind(holds.iter().map(|h| h.placed_at).collect::<Vec<_>>())
    .bind(holds.iter().map(|h| h.position).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
