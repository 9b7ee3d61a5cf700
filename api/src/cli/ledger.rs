//! `ledger`: an account's postings, newest first, each with the book on the other side.

use crate::cli::CliError;
use crate::cli::args::LedgerArgs;
use crate::cli::connect::{Clients, unary};
use crate::cli::output::Output;
use crate::cli::usage::timestamp;
use crate::pb;

/// Postings per ListLedgerEntries page (the server's maximum).
const PAGE: i32 = 500;

/// An RFC 3339 time, or `-`.
fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// `ledger`: the newest `--limit` postings of an account within `--from`..`--to`: `in` when
/// the account is credited, `out` when it is debited, with the counterpart.
pub async fn ledger(c: &mut Clients, out: &Output, a: LedgerArgs) -> Result<(), CliError> {
    let limit = a.limit as usize;
    let mut entries = Vec::new();
    let mut page_token = String::new();
    while entries.len() < limit {
        let want = i32::try_from(limit - entries.len()).unwrap_or(PAGE);
        let reply = c
            .credits
            .list_ledger_entries(unary(pb::ListLedgerEntriesRequest {
                account_id: a.account.clone(),
                min_position: 0,
                page_size: want.min(PAGE),
                page_token: page_token.clone(),
                from: a.from.map(timestamp),
                to: a.to.map(timestamp),
            }))
            .await?
            .into_inner();
        entries.extend(reply.entries);
        if reply.next_page_token.is_empty() {
            break;
        }
        page_token = reply.next_page_token;
    }
    entries.truncate(limit);
    let header = [
        "position",
        "at",
        "kind",
        "direction",
        "amount",
        "counterpart",
    ];
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let (direction, counterpart) = if e.credit_account.eq_ignore_ascii_case(&a.account) {
                ("in", &e.debit_account)
            } else {
                ("out", &e.credit_account)
            };
            vec![
                e.position.to_string(),
                time(e.at.as_ref()),
                e.kind.clone(),
                direction.to_owned(),
                e.amount.clone(),
                counterpart.clone(),
            ]
        })
        .collect();
    out.table(&header, &rows)
}
