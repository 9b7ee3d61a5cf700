//! API key commands: create, rename, change limit, disable, enable, delete; and disabling
//! every key of a member who leaves or is removed.

use super::decide::Ctx;
use super::event::{
    DisableCause, KeyChanged, KeyCreated, KeyDisabled, KeyLimitChanged, KeyRenamed,
};
use super::{
    Account, AccountCommand, AccountEvent, KeyStatus, MAX_KEYS_EVER, MAX_KEYS_PER_ACCOUNT,
};
use crate::error::{DomainError, Field, InputError};
use crate::ids::UserId;
use crate::policy::{Action, authorize};
use chrono::{DateTime, Utc};

fn actor(ctx: &Ctx<'_>) -> UserId {
    ctx.caller
        .user()
        .expect("the policy lets only dashboard users manage keys")
}

/// Creates a key for the acting user.
pub(super) fn create(
    ctx: &Ctx<'_>,
    command: &AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    let AccountCommand::CreateKey {
        key_id,
        name,
        secret_hash,
        prefix,
        limit,
        expires_at,
        at,
    } = command
    else {
        unreachable!("create is called with CreateKey")
    };
    authorize(ctx.caller, Action::CreateKey, &ctx.auth)?;
    let account = ctx.account;
    if account.keys.contains_key(key_id) {
        return Err(DomainError::KeyAlreadyExists(*key_id));
    }
    if account.live_keys >= MAX_KEYS_PER_ACCOUNT {
        return Err(DomainError::TooManyKeys {
            max: MAX_KEYS_PER_ACCOUNT,
        });
    }
    if account.keys.len() >= MAX_KEYS_EVER {
        return Err(DomainError::TooManyKeys { max: MAX_KEYS_EVER });
    }
    if expires_at.is_some_and(|e| e <= *at) {
        return Err(DomainError::invalid(
            Field::ExpiresAt,
            InputError::NotInFuture,
        ));
    }
    Ok(vec![AccountEvent::KeyCreated(KeyCreated {
        account_id: account.id,
        key_id: *key_id,
        created_by: actor(ctx),
        name: name.clone(),
        secret_hash: secret_hash.clone(),
        prefix: prefix.clone(),
        limit: *limit,
        expires_at: *expires_at,
        at: *at,
    })])
}

/// Rename, change limit, disable, enable, delete: members their own keys, admins all.
pub(super) fn manage(
    ctx: &Ctx<'_>,
    command: &AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    use AccountCommand as C;
    let key_id = match command {
        C::RenameKey { key_id, .. }
        | C::ChangeKeyLimit { key_id, .. }
        | C::DisableKey { key_id, .. }
        | C::EnableKey { key_id, .. }
        | C::DeleteKey { key_id, .. } => *key_id,
        _ => unreachable!("manage is called with key management commands"),
    };
    let key = ctx.account.keys.get(&key_id);
    // Authorize before revealing whether the key exists: a member asking about a key they
    // did not create is told so, whether or not it exists.
    let created_by_actor = key.is_some_and(|k| Some(k.created_by) == ctx.caller.user());
    authorize(
        ctx.caller,
        Action::ManageKey,
        &ctx.auth.with_key_creator(created_by_actor),
    )?;
    let key = key.ok_or(DomainError::KeyNotFound(key_id))?;
    if key.status == KeyStatus::Deleted {
        return Err(DomainError::KeyDeleted(key_id));
    }
    let account_id = ctx.account.id;
    let by = actor(ctx);
    let event = match command {
        C::RenameKey { name, at, .. } => AccountEvent::KeyRenamed(KeyRenamed {
            account_id,
            key_id,
            name: name.clone(),
            by,
            at: *at,
        }),
        C::ChangeKeyLimit { limit, at, .. } => AccountEvent::KeyLimitChanged(KeyLimitChanged {
            account_id,
            key_id,
            limit: *limit,
            by,
            at: *at,
        }),
        C::DisableKey { at, .. } => {
            if key.status == KeyStatus::Disabled {
                return Err(DomainError::KeyDisabled(key_id));
            }
            let cause = DisableCause::Manual;
            AccountEvent::KeyDisabled(KeyDisabled {
                account_id,
                key_id,
                cause,
                by,
                at: *at,
            })
        }
        C::EnableKey { at, .. } => {
            if key.status == KeyStatus::Active {
                return Err(DomainError::KeyAlreadyEnabled(key_id));
            }
            AccountEvent::KeyEnabled(KeyChanged {
                account_id,
                key_id,
                by,
                at: *at,
            })
        }
        C::DeleteKey { at, .. } => AccountEvent::KeyDeleted(KeyChanged {
            account_id,
            key_id,
            by,
            at: *at,
        }),
        _ => unreachable!("matched above"),
    };
    Ok(vec![event])
}

/// `key_disabled` events for every active key `member` created in `account`.
pub(crate) fn disable_keys_created_by(
    account: &Account,
    member: UserId,
    cause: DisableCause,
    by: UserId,
    at: DateTime<Utc>,
) -> Vec<AccountEvent> {
    account
        .keys
        .iter()
        .filter(|(_, k)| k.created_by == member && k.status == KeyStatus::Active)
        .map(|(key_id, _)| {
            AccountEvent::KeyDisabled(KeyDisabled {
                account_id: account.id,
                key_id: *key_id,
                cause,
                by,
                at,
            })
        })
        .collect()
}
