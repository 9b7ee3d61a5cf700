//! `ListLedgerEntries` and `ListBookEntries`: the double-entry view of an account, or of a
//! system book, from the `balances` read model. Each entry of an account is one posting
//! against a system account: purchases and refunds against `external`, usage against
//! `revenue`, transfers and their reversals against `transfers`, support's adjustments
//! against `adjustments`.

use ledger_domain::{Action, AuthContext};
use ledger_projections::Projection;
use ledger_projections::models::ledger::{
    ADJUSTMENTS, BOOKS, EXTERNAL, Entry, EntryPage, REVENUE, TRANSFERS, TimeRange, entries_between,
};

use super::Query;
use super::projected::{optional_time, page_size, token};
use crate::app::authorized::allow;
use crate::error::AppError;
use crate::input;
use crate::pb;

/// The system account on the other side of an entry of `kind`.
fn counterpart(kind: &str) -> &'static str {
    match kind {
        "purchase" | "refund" => EXTERNAL,
        "usage" => REVENUE,
        "adjustment" => ADJUSTMENTS,
        _ => TRANSFERS,
    }
}

/// An entry of an account as a posting: a positive amount credits the account (and debits
/// the counterpart), a negative one debits it.
fn posting(entry: &Entry) -> pb::LedgerEntry {
    posted(
        entry,
        counterpart(&entry.kind).to_owned(),
        entry.account.clone(),
    )
}

/// `entry` of `book` as a posting against `other`; `account_id` names the customer account.
fn posted(entry: &Entry, other: String, account_id: String) -> pb::LedgerEntry {
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
        payment_reference: entry.payment_reference.clone().unwrap_or_default(),
        ticket: entry.ticket.clone().unwrap_or_default(),
        account_id,
    }
}

/// A page of a book's entries as postings: each against the customer account on the other
/// side of its movement.
fn book_postings(page: &EntryPage) -> Vec<pb::LedgerEntry> {
    page.entries
        .iter()
        .map(|entry| {
            posted(
                entry,
                entry.counterparty.clone(),
                entry.counterparty.clone(),
            )
        })
        .collect()
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
    let page = entries_between(
        q.app.read_models.pool(),
        &account,
        range,
        token(&req.page_token),
        size,
    )
    .await?;
    Ok(pb::ListLedgerEntriesResponse {
        entries: page.entries.iter().map(posting).collect(),
        next_page_token: page.next_cursor.unwrap_or_default(),
    })
}

/// Authorises (`ReadSystemBooks`: support, auditors), checks the book is one of [`BOOKS`],
/// waits for `min_position`, and answers one page of the book newest first, paged like
/// [`ledger_entries`].
pub async fn book_entries(
    q: Query<pb::ListBookEntriesRequest>,
) -> Result<pb::ListLedgerEntriesResponse, AppError> {
    let req = &q.req;
    let size = page_size(req.page_size)?;
    let from = optional_time("from", req.from.as_ref())?;
    let to = optional_time("to", req.to.as_ref())?;
    let book = BOOKS.into_iter().find(|b| *b == req.book).ok_or_else(|| {
        AppError::invalid(
            "book",
            "must be external, revenue, transfers or adjustments",
        )
    })?;
    allow(&q.cx.caller, Action::ReadSystemBooks, &AuthContext::GLOBAL)?;
    q.caught_up(Projection::Balances, req.min_position).await?;
    let range = TimeRange { from, to };
    let page = entries_between(
        q.app.read_models.pool(),
        book,
        range,
        token(&req.page_token),
        size,
    )
    .await?;
    Ok(pb::ListLedgerEntriesResponse {
        entries: book_postings(&page),
        next_page_token: page.next_cursor.unwrap_or_default(),
    })
}
