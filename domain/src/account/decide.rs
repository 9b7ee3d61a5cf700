//! Deciding account commands: authorization context from state, then the rules.

use super::{
    Account, AccountCommand, AccountEvent, AccountOwner, AccountState, credits, holds, keys,
};
use crate::decision::{Decision, ExpectedVersion};
use crate::error::DomainError;
use crate::event::Event;
use crate::organization::OrganizationState;
use crate::policy::{AuthContext, Caller};

/// What every account decide step needs: the account, the policy context, the caller.
pub(super) struct Ctx<'a> {
    /// The account.
    pub account: &'a Account,
    /// The policy context (scope only; key commands add the creator flag).
    pub auth: AuthContext,
    /// The caller.
    pub caller: &'a Caller,
}

/// Decides a command on one account.
///
/// `org` is the owning organization's state; it is needed (and asserted present) only for
/// dashboard callers on an organization account, to know the acting user's role. When it is
/// used, the decision carries a precondition on the organization stream.
pub fn decide(
    state: &AccountState,
    org: Option<&OrganizationState>,
    caller: &Caller,
    command: &AccountCommand,
) -> Result<Decision, DomainError> {
    let account = state.account.as_ref().ok_or(DomainError::AccountNotFound)?;
    let (auth, org_read) = auth_context(account, org, caller);
    let ctx = Ctx {
        account,
        auth,
        caller,
    };
    let events = decide_events(&ctx, command)?;
    let events = events.into_iter().map(Event::Account).collect();
    let decision = Decision::one(
        account.id.stream(),
        ExpectedVersion::at(state.version),
        events,
    );
    Ok(match org_read {
        Some(org) => decision.reading(org.stream_name(), ExpectedVersion::at(org.version)),
        None => decision,
    })
}

fn decide_events(
    ctx: &Ctx<'_>,
    command: &AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    use AccountCommand as C;
    match command {
        C::PurchaseCredits {
            amount,
            payment_reference,
            at,
        } => credits::purchase(ctx, *amount, payment_reference, *at),
        C::CreateKey { .. } => keys::create(ctx, command),
        C::RenameKey { .. }
        | C::ChangeKeyLimit { .. }
        | C::DisableKey { .. }
        | C::EnableKey { .. }
        | C::DeleteKey { .. } => keys::manage(ctx, command),
        C::PlaceHold {
            hold_id,
            key_id,
            estimate,
            ttl_s,
            at,
        } => holds::place(ctx, *hold_id, *key_id, *estimate, *ttl_s, *at),
        C::SettleHold { hold_id, usage, at } => holds::settle(ctx, *hold_id, usage, *at),
        C::VoidHold { hold_id, at } => holds::void(ctx, *hold_id, *at),
        C::ExpireHold { hold_id, at } => holds::expire(ctx, *hold_id, *at),
        C::RecordUsage { key_id, usage, at } => holds::record(ctx, *key_id, usage, *at),
    }
}

/// The policy context of `caller` on `account`, and the organization state if it was read.
pub(super) fn auth_context<'o>(
    account: &Account,
    org: Option<&'o OrganizationState>,
    caller: &Caller,
) -> (AuthContext, Option<&'o OrganizationState>) {
    match (account.owner, caller.user()) {
        (AccountOwner::User { user_id }, actor) => {
            (AuthContext::personal(actor == Some(user_id)), None)
        }
        (AccountOwner::Organization { .. }, None) => (AuthContext::organization(None), None),
        (AccountOwner::Organization { organization_id }, Some(actor)) => {
            let org =
                org.expect("organization state is required for dashboard commands on its account");
            let info = org
                .organization
                .as_ref()
                .expect("organization state of an open account");
            assert_eq!(info.id, organization_id, "state of another organization");
            assert_eq!(
                info.account_id, account.id,
                "organization of another account"
            );
            (AuthContext::organization(org.role_of(actor)), Some(org))
        }
    }
}
