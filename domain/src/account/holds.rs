//! The gateway's hot path: place, settle, void and expire holds; record usage without a hold.

use super::decide::Ctx;
use super::event::{HoldClosed, HoldPlaced, HoldSettled, UsageRecorded};
use super::{AccountEvent, KeyStatus, MAX_HOLD_TTL_S, MAX_OPEN_HOLDS, OpenHold, UsageReport};
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

fn open_hold<'a>(ctx: &'a Ctx<'_>, hold_id: HoldId) -> Result<&'a OpenHold, DomainError> {
    ctx.account
        .holds
        .get(&hold_id)
        .ok_or(DomainError::HoldNotOpen(hold_id))
}

/// Bills the actual cost (which may differ from, even exceed, the estimate) and closes the hold.
pub(super) fn settle(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    usage: &UsageReport,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::SettleHold, &ctx.auth)?;
    let hold = open_hold(ctx, hold_id)?;
    usage.validate()?;
    let key = ctx.account.key(hold.key_id)?;
    let usage = usage.clone().into_usage(hold.key_id, key.created_by);
    Ok(vec![AccountEvent::HoldSettled(HoldSettled {
        account_id: ctx.account.id,
        hold_id,
        usage,
        at,
    })])
}

/// Releases a hold without billing.
pub(super) fn void(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::VoidHold, &ctx.auth)?;
    open_hold(ctx, hold_id)?;
    Ok(vec![AccountEvent::HoldVoided(HoldClosed {
        account_id: ctx.account.id,
        hold_id,
        at,
    })])
}

/// Releases a hold whose TTL has passed.
pub(super) fn expire(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::ExpireHold, &ctx.auth)?;
    let hold = open_hold(ctx, hold_id)?;
    if at < hold.expires_at {
        return Err(DomainError::HoldNotExpired {
            expires_at: hold.expires_at,
        });
    }
    Ok(vec![AccountEvent::HoldExpired(HoldClosed {
        account_id: ctx.account.id,
        hold_id,
        at,
    })])
}

/// Bills usage without a hold: accepted for any key of the account, whatever its status,
/// limit or the balance (the request already ran).
pub(super) fn record(
    ctx: &Ctx<'_>,
    key_id: KeyId,
    usage: &UsageReport,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::RecordUsage, &ctx.auth)?;
    let key = ctx.account.key(key_id)?;
    usage.validate()?;
    let usage = usage.clone().into_usage(key_id, key.created_by);
    Ok(vec![AccountEvent::UsageRecorded(UsageRecorded {
        account_id: ctx.account.id,
        usage,
        at,
    })])
}
