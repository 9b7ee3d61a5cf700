//! The gateway's hot path: place, settle, void and expire holds; record usage without a hold.

use super::decide::Ctx;
use super::event::{HoldClosed, HoldPlaced, HoldSettled, UsageRecorded};
use super::{
    AccountEvent, KeyStatus, MAX_HOLD_TTL_S, MAX_OPEN_HOLDS, OpenHold, Usage, UsageReport, spending,
};
use crate::error::{DomainError, Field, InputError};
use crate::ids::{HoldId, KeyId};
use crate::money::Credits;
use crate::policy::{Action, authorize};
use chrono::{DateTime, Duration, Utc};

/// Places a hold, refusing with a distinct reason when it cannot be covered.
pub(super) fn place(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    key_id: KeyId,
    estimate: Credits,
    ttl_s: u32,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::PlaceHold, &ctx.auth)?;
    let account = ctx.account;
    if ttl_s == 0 || ttl_s > MAX_HOLD_TTL_S {
        let range = InputError::OutOfRange {
            min: 1,
            max: u64::from(MAX_HOLD_TTL_S),
        };
        return Err(DomainError::invalid(Field::TtlS, range));
    }
    let key = account.key(key_id)?;
    match key.status {
        KeyStatus::Deleted => return Err(DomainError::KeyDeleted(key_id)),
        KeyStatus::Disabled => return Err(DomainError::KeyDisabled(key_id)),
        KeyStatus::Active => {}
    }
    if let Some(expires_at) = key.expires_at.filter(|e| at >= *e) {
        return Err(DomainError::KeyExpired { key_id, expires_at });
    }
    if account.holds.contains_key(&hold_id) {
        return Err(DomainError::HoldAlreadyExists(hold_id));
    }
    if account.holds.len() >= MAX_OPEN_HOLDS {
        return Err(DomainError::TooManyOpenHolds {
            max: MAX_OPEN_HOLDS,
        });
    }
    let requested = estimate.amount();
    let available = account.available();
    if available < requested {
        return Err(DomainError::InsufficientAvailableBalance {
            available,
            requested,
        });
    }
    if let Some(remaining) = account.remaining_limit(key, at).filter(|r| *r < requested) {
        return Err(DomainError::KeyLimitExceeded {
            key_id,
            remaining,
            requested,
        });
    }
    spending::check_hold(account, key, requested, at)?;
    let expires_at = at + Duration::seconds(i64::from(ttl_s));
    Ok(vec![AccountEvent::HoldPlaced(HoldPlaced {
        account_id: account.id,
        hold_id,
        key_id,
        estimate,
        expires_at,
        at,
    })])
}

/// The open hold `hold_id`, once the policy lets the caller do `action` on the account.
fn authorized_hold<'a>(
    ctx: &'a Ctx<'_>,
    action: Action,
    hold_id: HoldId,
) -> Result<&'a OpenHold, DomainError> {
    authorize(ctx.caller, action, &ctx.auth)?;
    ctx.account
        .holds
        .get(&hold_id)
        .ok_or(DomainError::HoldNotOpen(hold_id))
}

/// The usage `report` bills to `key_id`, attributed to the key's creator.
fn usage_of(ctx: &Ctx<'_>, key_id: KeyId, report: &UsageReport) -> Result<Usage, DomainError> {
    let key = ctx.account.key(key_id)?;
    report.validate()?;
    Ok(report.clone().into_usage(key_id, key.created_by))
}

fn closed(ctx: &Ctx<'_>, hold_id: HoldId, at: DateTime<Utc>) -> HoldClosed {
    HoldClosed {
        account_id: ctx.account.id,
        hold_id,
        at,
    }
}

/// Bills the actual cost (which may differ from, even exceed, the estimate) and closes the hold.
pub(super) fn settle(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    report: &UsageReport,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let hold = authorized_hold(ctx, Action::SettleHold, hold_id)?;
    let usage = usage_of(ctx, hold.key_id, report)?;
    let notices = spending::usage_notices(ctx.account, usage.cost.amount(), at);
    let settled = AccountEvent::HoldSettled(HoldSettled {
        account_id: ctx.account.id,
        hold_id,
        usage,
        at,
    });
    Ok(std::iter::once(settled).chain(notices).collect())
}

/// Releases a hold without billing.
pub(super) fn void(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorized_hold(ctx, Action::VoidHold, hold_id)?;
    Ok(vec![AccountEvent::HoldVoided(closed(ctx, hold_id, at))])
}

/// Releases a hold whose TTL has passed.
pub(super) fn expire(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let hold = authorized_hold(ctx, Action::ExpireHold, hold_id)?;
    if at < hold.expires_at {
        return Err(DomainError::HoldNotExpired {
            expires_at: hold.expires_at,
        });
    }
    Ok(vec![AccountEvent::HoldExpired(closed(ctx, hold_id, at))])
}

/// Bills usage without a hold: accepted for any key of the account, whatever its status,
/// limit or the balance (the request already ran).
pub(super) fn record(
    ctx: &Ctx<'_>,
    key_id: KeyId,
    report: &UsageReport,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::RecordUsage, &ctx.auth)?;
    let usage = usage_of(ctx, key_id, report)?;
    let notices = spending::usage_notices(ctx.account, usage.cost.amount(), at);
    let recorded = AccountEvent::UsageRecorded(UsageRecorded {
        account_id: ctx.account.id,
        usage,
        at,
    });
    Ok(std::iter::once(recorded).chain(notices).collect())
}
