//! Deciding account commands: authorization context from state, then the rules.

use super::{
    Account, AccountCommand, AccountEvent, AccountOwner, AccountState, Key, corrections, credits,
    holds, keys, spending,
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
    /// The owning organization's state, when the decision was given it.
    pub org: Option<&'a OrganizationState>,
}

/// Decides a command on one account.
///
/// `org` is the owning organization's state; it is needed only for dashboard callers on an
/// organization account, to know the acting user's role (without it the decision is
/// [`DomainError::OrganizationStateRequired`]). When it is used, the decision carries a
/// precondition on the organization stream.
pub fn decide(
    state: &AccountState,
    org: Option<&OrganizationState>,
    caller: &Caller,
    command: &AccountCommand,
) -> Result<Decision, DomainError> {
    let account = state.account.as_ref().ok_or(DomainError::AccountNotFound)?;
    let (auth, org_read) = context_and_read(account, org, caller)?;
    let ctx = Ctx {
        account,
        auth,
        caller,
        org,
    };
    let events = decide_events(&ctx, command)?;
    let events = events.into_iter().map(Event::Account).collect();
    let decision = Decision::one(
        account.id.stream(),
        ExpectedVersion::at(state.version),
        events,
    );
    Ok(match org_read {
        Some((stream, version)) => decision.reading(stream, ExpectedVersion::at(version)),
        None => decision,
    })
}

fn decide_events(
    ctx: &Ctx<'_>,
    command: &AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    use AccountCommand as C;
    use keys::KeyChange;
    match command {
        C::PurchaseCredits {
            amount,
            payment_reference,
            at,
        } => credits::purchase(ctx, *amount, payment_reference, *at),
        C::CreateKey {
            key_id,
            name,
            secret_hash,
            prefix,
            limit,
            expires_at,
            at,
        } => keys::create(
            ctx,
            keys::NewKey {
                key_id: *key_id,
                name,
                secret_hash,
                prefix,
                limit: *limit,
                expires_at: *expires_at,
            },
            *at,
        ),
        C::RenameKey { key_id, name, at } => {
            keys::manage(ctx, *key_id, KeyChange::Rename(name), *at)
        }
        C::ChangeKeyLimit { key_id, limit, at } => {
            keys::manage(ctx, *key_id, KeyChange::Limit(*limit), *at)
        }
        C::DisableKey { key_id, at } => keys::manage(ctx, *key_id, KeyChange::Disable, *at),
        C::EnableKey { key_id, at } => keys::manage(ctx, *key_id, KeyChange::Enable, *at),
        C::DeleteKey { key_id, at } => keys::manage(ctx, *key_id, KeyChange::Delete, *at),
        C::RotateKey {
            key_id,
            secret_hash,
            prefix,
            grace_s,
            at,
        } => keys::manage(
            ctx,
            *key_id,
            KeyChange::Rotate(keys::NewSecret {
                secret_hash,
                prefix,
                grace_s: *grace_s,
            }),
            *at,
        ),
        C::ChangeKeyExpiry {
            key_id,
            expires_at,
            at,
        } => keys::manage(ctx, *key_id, KeyChange::Expiry(*expires_at), *at),
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
        C::SetBudget { budget, at } => spending::set_budget(ctx, *budget, *at),
        C::SetMemberSpendCap { member, cap, at } => {
            spending::set_member_cap(ctx, *member, *cap, *at)
        }
        C::SetDefaultKeyLimit { limit, at } => spending::set_default_key_limit(ctx, *limit, *at),
        C::AdjustCredits {
            adjustment_id,
            direction,
            amount,
            reason,
            ticket,
            recovery,
            at,
        } => corrections::adjust(
            ctx,
            corrections::Adjustment {
                adjustment_id: *adjustment_id,
                direction: *direction,
                amount: *amount,
                reason,
                ticket,
                recovery: *recovery,
            },
            *at,
        ),
        C::RefundPurchase {
            payment_reference,
            at,
        } => corrections::refund(ctx, payment_reference, *at),
        C::SetLowBalanceThreshold { threshold, at } => {
            spending::set_low_balance_threshold(ctx, *threshold, *at)
        }
    }
}

/// The policy context of `caller` on `account`: the owner flag of a personal account, or the
/// acting user's role in the organization that owns it (read from `org`, needed for
/// dashboard callers only). Decide functions and the API's reads derive it here alike.
pub fn auth_context(
    account: &Account,
    org: Option<&OrganizationState>,
    caller: &Caller,
) -> Result<AuthContext, DomainError> {
    context_and_read(account, org, caller).map(|(context, _)| context)
}

/// The context of a key action: `context` marked with whether `caller` created `key` (a
/// missing key was created by nobody, so existence is not revealed before authorization).
pub fn key_auth_context(context: AuthContext, key: Option<&Key>, caller: &Caller) -> AuthContext {
    context.with_key_creator(key.is_some_and(|k| Some(k.created_by) == caller.user()))
}

/// [`auth_context`], and the stream and version of the organization state it read.
fn context_and_read(
    account: &Account,
    org: Option<&OrganizationState>,
    caller: &Caller,
) -> Result<(AuthContext, Option<(String, u64)>), DomainError> {
    match (account.owner, caller.user()) {
        (AccountOwner::User { user_id }, actor) => {
            Ok((AuthContext::personal(actor == Some(user_id)), None))
        }
        (AccountOwner::Organization { .. }, None) => Ok((AuthContext::organization(None), None)),
        (AccountOwner::Organization { organization_id }, Some(actor)) => {
            let state = org.ok_or(DomainError::OrganizationStateRequired)?;
            state.owner_of(organization_id, account.id)?;
            let read = (organization_id.stream(), state.version);
            Ok((AuthContext::organization(state.role_of(actor)), Some(read)))
        }
    }
}
