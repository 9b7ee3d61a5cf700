//! `ListLedgerEntries`: the double-entry view of an account from the `balances` read model.
//! Each entry of the account is one posting against a system account: purchases against
//! `external`, usage against `revenue`, transfers against `transfers`.

use ledger_domain::Action;
use ledger_projections::Projection;
use ledger_projections::models::ledger::{
    EXTERNAL, Entry, REVENUE, TRANSFERS, TimeRange, entries_between,
};

use super::Query;
use super::projected::{optional_time, page_size, token};
use crate::error::AppError;
use crate::input;
use crate::pb;

/// The system account on the other side of an entry of `kind`.
fn counterpart(kind: &str) -> &'static str {
    match kind {
        "purchase" => EXTERNAL,
        "usage" => REVENUE,
        _ => TRANSFERS,
    }
}

/// An entry of an account as a posting: a positive amount credits the account (and debits
/// the counterpart), a negative one debits it.
fn posting(entry: &Entry) -> pb::LedgerEntry {
    let other = counterpart(&entry.kind).to_owned();
    let (debit_account, credit_account) = if entry.amount.is_sign_positive() {
        (other, entry.account.clone())
    } else {
        (entry.account.clone(), other)
    };
    pb::LedgerEntry {
        position: entry.position,
        debit_account,
        credit_account,
        amount: entry.amount.abs().normalize().to_string(),
        kind: entry.kind.clone(),
        at: Some(input::timestamp(entry.at)),
    }
}

/// Authorises (`ReadLedgerEntries`: the owner, organization admins, support, auditors), waits for
/// `min_position`, and answers one page newest first (descending position). `from` / `to`
/// filter in the query, so every page but the last is full; `next_page_token` goes on with
/// older entries and is empty after the last page.
pub async fn ledger_entries(
    q: Query<pb::ListLedgerEntriesRequest>,
) -> Result<pb::ListLedgerEntriesResponse, AppError> {
    let req = &q.req;
    let size = page_size(req.page_size)?;
    let from = optional_time("from", req.from.as_ref())?;
    let to = optional_time("to", req.to.as_ref())?;
    let (account, _) = q.account(Action::ReadLedgerEntries).await?;
    q.caught_up(Projection::Balances, req.min_position).await?;
    let account = account.as_uuid().to_string();
    let range = TimeRange { from, to };
    let page = entries_between(&q.app.pool, &account, range, token(&req.page_token), size).await?;
    Ok(pb::ListLedgerEntriesResponse {
        entries: page.entries.iter().map(posting).collect(),
        next_page_token: page.next_cursor.unwrap_or_default(),
    })
}
