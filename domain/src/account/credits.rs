//! Credits in: purchases (owner or organization admin) and support transfers
//! personal → organization.

use super::command::TransferCredits;
use super::decide::Ctx;
use super::event::{CreditsPurchased, TransferredIn, TransferredOut};
use super::{AccountEvent, AccountOwner, AccountState};
use crate::decision::{Decision, ExpectedVersion};
use crate::error::{DomainError, Field, InputError};
use crate::event::Event;
use crate::money::Credits;
use crate::organization::OrganizationState;
use crate::policy::{Action, AuthContext, Caller, authorize};
use crate::text::PaymentReference;
use chrono::{DateTime, Utc};

/// Buys credits for the account.
pub(super) fn purchase(
    ctx: &Ctx<'_>,
    amount: Credits,
    payment_reference: &PaymentReference,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::PurchaseCredits, &ctx.auth)?;
    let purchased_by = ctx.caller.acting_user(Action::PurchaseCredits)?;
    Ok(vec![AccountEvent::CreditsPurchased(CreditsPurchased {
        account_id: ctx.account.id,
        amount,
        payment_reference: payment_reference.clone(),
        purchased_by,
        at,
    })])
}

/// Transfers credits from a personal account to an organization account (support only).
///
/// The personal owner must be a member of the target organization (read from `target_org`,
/// which becomes a precondition; [`DomainError::OrganizationStateRequired`] without it), and the source's available balance must cover the amount:
/// a transfer never takes the source below zero.
pub fn transfer(
    source: &AccountState,
    target: &AccountState,
    target_org: &OrganizationState,
    caller: &Caller,
    cmd: &TransferCredits,
) -> Result<Decision, DomainError> {
    authorize(caller, Action::TransferCredits, &AuthContext::GLOBAL)?;
    let staff = caller.acting_staff(Action::TransferCredits)?;
    if cmd.from == cmd.to {
        return Err(DomainError::invalid(
            Field::TransferTarget,
            InputError::SameAccount,
        ));
    }
    let from = source
        .account
        .as_ref()
        .ok_or(DomainError::AccountNotFound)?;
    let to = target
        .account
        .as_ref()
        .ok_or(DomainError::AccountNotFound)?;
    assert_eq!(
        (from.id, to.id),
        (cmd.from, cmd.to),
        "states of other accounts"
    );
    let (AccountOwner::User { user_id: owner }, AccountOwner::Organization { organization_id }) =
        (from.owner, to.owner)
    else {
        return Err(DomainError::TransferDirection);
    };
    target_org.owner_of(organization_id, to.id)?;
    if target_org.role_of(owner).is_none() {
        return Err(DomainError::OwnerNotMemberOfTarget);
    }
    let (available, requested) = (from.available(), cmd.amount.amount());
    if available < requested {
        return Err(DomainError::InsufficientAvailableBalance {
            available,
            requested,
        });
    }
    let out = AccountEvent::TransferredOut(TransferredOut {
        account_id: from.id,
        transfer_id: cmd.transfer_id,
        to_account_id: to.id,
        amount: cmd.amount,
        reason: cmd.reason.clone(),
        ticket: cmd.ticket.clone(),
        staff_id: staff,
        at: cmd.at,
    });
    let into = AccountEvent::TransferredIn(TransferredIn {
        account_id: to.id,
        transfer_id: cmd.transfer_id,
        from_account_id: from.id,
        amount: cmd.amount,
        reason: cmd.reason.clone(),
        ticket: cmd.ticket.clone(),
        staff_id: staff,
        at: cmd.at,
    });
    Ok(Decision::one(
        from.id.stream(),
        ExpectedVersion::at(source.version),
        vec![Event::Account(out)],
    )
    .with(
        to.id.stream(),
        ExpectedVersion::at(target.version),
        vec![Event::Account(into)],
    )
    .reading(
        organization_id.stream(),
        ExpectedVersion::at(target_org.version),
    ))
}
