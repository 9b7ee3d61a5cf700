//! Money corrections: support's adjustments, the reversal of a transfer, and the refund of a
//! purchase. Each is its own event; the double-entry view books each against a system account
//! so the books still sum to zero.

use super::command::ReverseTransfer;
use super::decide::Ctx;
use super::event::{
    AdjustmentDirection, CreditsAdjusted, PurchaseRefunded, TransferReversedIn, TransferReversedOut,
};
use super::{AccountEvent, AccountState};
use crate::decision::{Decision, ExpectedVersion};
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::AdjustmentId;
use crate::money::Credits;
use crate::policy::{Action, AuthContext, Caller, authorize};
use crate::text::{PaymentReference, TicketReference, TransferReason};
use chrono::{DateTime, Utc};

/// What a support adjustment asks for.
pub(super) struct Adjustment<'a> {
    pub adjustment_id: AdjustmentId,
    pub direction: AdjustmentDirection,
    pub amount: Credits,
    pub reason: &'a TransferReason,
    pub ticket: &'a TicketReference,
    pub recovery: bool,
}

/// Credits or debits the account by hand (support only). A debit never takes the available
/// balance (balance − open holds) below zero unless flagged as a recovery: open holds stay
/// covered, as they are for a transfer out. A recovery debit may go below zero (credits owed).
pub(super) fn adjust(
    ctx: &Ctx<'_>,
    adjustment: Adjustment<'_>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::AdjustCredits, &ctx.auth)?;
    let staff_id = ctx.caller.acting_staff(Action::AdjustCredits)?;
    let (available, requested) = (ctx.account.available(), adjustment.amount.amount());
    if adjustment.direction == AdjustmentDirection::Debit
        && !adjustment.recovery
        && available < requested
    {
        return Err(DomainError::AdjustmentBelowZero {
            available,
            requested,
        });
    }
    Ok(vec![AccountEvent::CreditsAdjusted(CreditsAdjusted {
        account_id: ctx.account.id,
        adjustment_id: adjustment.adjustment_id,
        direction: adjustment.direction,
        amount: adjustment.amount,
        reason: adjustment.reason.clone(),
        ticket: adjustment.ticket.clone(),
        recovery: adjustment.recovery,
        staff_id,
        at,
    })])
}

/// Records the payment provider's refund of the purchase credited under `payment_reference`
/// (who may purchase may record it). The whole purchase is refunded, once. The refund already
/// happened at the provider, so it is accepted even when it takes the balance below zero
/// (as usage without a hold is): holds are then refused until credits come in.
pub(super) fn refund(
    ctx: &Ctx<'_>,
    payment_reference: &PaymentReference,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::RefundPurchase, &ctx.auth)?;
    let refunded_by = ctx.caller.acting_user(Action::RefundPurchase)?;
    let purchase = ctx
        .account
        .purchases
        .get(payment_reference.as_str())
        .ok_or_else(|| DomainError::PurchaseNotFound(payment_reference.clone()))?;
    if purchase.refunded {
        return Err(DomainError::PurchaseAlreadyRefunded(
            payment_reference.clone(),
        ));
    }
    Ok(vec![AccountEvent::PurchaseRefunded(PurchaseRefunded {
        account_id: ctx.account.id,
        payment_reference: payment_reference.clone(),
        amount: purchase.amount,
        refunded_by,
        at,
    })])
}

/// Reverses a transfer (support only): the organization account it went to (`target`) gives
/// the whole amount back to its personal source (`source`), in two compensating events linked
/// to the transfer by its id. Refused when the transfer was reversed already, or when the
/// organization's available balance no longer covers it. The source's owner need not still be
/// a member of the organization. `source` must be the state of the transfer's source
/// ([`DomainError::AccountStateRequired`] otherwise, as for a `target` of another account).
pub fn reverse_transfer(
    target: &AccountState,
    source: &AccountState,
    caller: &Caller,
    cmd: &ReverseTransfer,
) -> Result<Decision, DomainError> {
    authorize(caller, Action::ReverseTransfer, &AuthContext::GLOBAL)?;
    let staff_id = caller.acting_staff(Action::ReverseTransfer)?;
    let to = target
        .account
        .as_ref()
        .ok_or(DomainError::AccountNotFound)?;
    if to.id != cmd.account {
        return Err(DomainError::AccountStateRequired);
    }
    let transfer = to
        .transfers_in
        .get(&cmd.transfer_id)
        .ok_or(DomainError::TransferNotFound(cmd.transfer_id))?;
    if transfer.reversed {
        return Err(DomainError::TransferAlreadyReversed(cmd.transfer_id));
    }
    let from = source
        .account
        .as_ref()
        .filter(|a| a.id == transfer.from)
        .ok_or(DomainError::AccountStateRequired)?;
    let (available, requested) = (to.available(), transfer.amount.amount());
    if available < requested {
        return Err(DomainError::InsufficientAvailableBalance {
            available,
            requested,
        });
    }
    let out = AccountEvent::TransferReversedOut(TransferReversedOut {
        account_id: to.id,
        transfer_id: cmd.transfer_id,
        to_account_id: from.id,
        amount: transfer.amount,
        reason: cmd.reason.clone(),
        ticket: cmd.ticket.clone(),
        staff_id,
        at: cmd.at,
    });
    let back = AccountEvent::TransferReversedIn(TransferReversedIn {
        account_id: from.id,
        transfer_id: cmd.transfer_id,
        from_account_id: to.id,
        amount: transfer.amount,
        reason: cmd.reason.clone(),
        ticket: cmd.ticket.clone(),
        staff_id,
        at: cmd.at,
    });
    Ok(Decision::one(
        to.id.stream(),
        ExpectedVersion::at(target.version),
        vec![Event::Account(out)],
    )
    .with(
        from.id.stream(),
        ExpectedVersion::at(source.version),
        vec![Event::Account(back)],
    ))
}
