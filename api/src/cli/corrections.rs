//! Support's money corrections: adjustments and transfer reversals. Each prints the command id
//! first (to retry safely), then the position reached and the balance read at it.

use serde_json::json;

use crate::cli::args::{AdjustArgs, DirectionArg, ReverseTransferArgs};
use crate::cli::connect::{Clients, unary};
use crate::cli::output::Output;
use crate::cli::support::{balance_json, balance_table, get_balance};
use crate::cli::{CliError, command_id};
use crate::pb;

/// `adjust`: AdjustCredits, then the account's balance read at the position reached.
pub async fn adjust(c: &mut Clients, out: &Output, a: AdjustArgs) -> Result<(), CliError> {
    let command_id = command_id(a.command_id);
    let direction = match a.direction {
        DirectionArg::Credit => pb::AdjustmentDirection::Credit,
        DirectionArg::Debit => pb::AdjustmentDirection::Debit,
    };
    let reply = c
        .support
        .adjust_credits(unary(pb::AdjustCreditsRequest {
            command_id: command_id.clone(),
            adjustment_id: String::new(),
            account_id: a.account.clone(),
            direction: direction.into(),
            amount: a.amount.clone(),
            reason: a.record.reason,
            ticket: a.record.ticket,
            recovery: a.recovery,
        }))
        .await?
        .into_inner();
    let balance = get_balance(c, &a.account, reply.position)
        .await
        .inspect_err(|_| applied_but_unread("adjustment", reply.position))?;
    let direction = format!("{:?}", a.direction).to_lowercase();
    if out.json {
        return out.json_line(&json!({
            "command_id": command_id,
            "position": reply.position,
            "direction": direction,
            "amount": a.amount,
            "account": balance_json(&balance),
        }));
    }
    out.fields(&[
        ("command id", command_id),
        ("position", reply.position.to_string()),
        ("direction", direction),
        ("amount", a.amount),
    ])?;
    out.line("")?;
    balance_table(out, &[("after", &balance)])
}

/// `reverse-transfer`: ReverseTransfer, then the organization account's balance read at the
/// position reached (`balance` shows the personal account's).
pub async fn reverse_transfer(
    c: &mut Clients,
    out: &Output,
    a: ReverseTransferArgs,
) -> Result<(), CliError> {
    let command_id = command_id(a.command_id);
    let reply = c
        .support
        .reverse_transfer(unary(pb::ReverseTransferRequest {
            command_id: command_id.clone(),
            transfer_id: a.transfer.clone(),
            account_id: a.account.clone(),
            reason: a.record.reason,
            ticket: a.record.ticket,
        }))
        .await?
        .into_inner();
    let organization = get_balance(c, &a.account, reply.position)
        .await
        .inspect_err(|_| applied_but_unread("reversal", reply.position))?;
    if out.json {
        return out.json_line(&json!({
            "command_id": command_id,
            "position": reply.position,
            "transfer_id": a.transfer,
            "account": balance_json(&organization),
        }));
    }
    out.fields(&[
        ("command id", command_id),
        ("position", reply.position.to_string()),
        ("transfer id", a.transfer),
    ])?;
    out.line("")?;
    balance_table(out, &[("after", &organization)])
}

fn applied_but_unread(what: &str, position: i64) {
    eprintln!("the {what} was applied at position {position}, but reading the balance failed:");
}
