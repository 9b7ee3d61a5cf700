//! API key commands: create, rename, change limit, disable, enable, delete; and disabling
//! every key of a member who leaves or is removed.

use super::decide::{Ctx, key_auth_context};
use super::event::{
    DisableCause, KeyChanged, KeyCreated, KeyDisabled, KeyExpiryChanged, KeyLimitChanged,
    KeyRenamed, KeyRotated,
};
use super::{
    Account, AccountEvent, KeyLimit, KeyStatus, MAX_KEYS_EVER, MAX_KEYS_PER_ACCOUNT,
    MAX_ROTATION_GRACE_S, spending,
};
use crate::error::{DomainError, Field, InputError};
use crate::ids::{KeyId, UserId};
use crate::policy::{Action, authorize};
use crate::text::{KeyName, KeyPrefix, SecretHash};
use chrono::{DateTime, Utc};

/// What a new key is created with (the fields of `AccountCommand::CreateKey` but its time).
pub(super) struct NewKey<'a> {
    pub key_id: KeyId,
    pub name: &'a KeyName,
    pub secret_hash: &'a SecretHash,
    pub prefix: &'a KeyPrefix,
    pub limit: Option<KeyLimit>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key for the acting user.
pub(super) fn create(
    ctx: &Ctx<'_>,
    key: NewKey<'_>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    authorize(ctx.caller, Action::CreateKey, &ctx.auth)?;
    let created_by = ctx.caller.acting_user(Action::CreateKey)?;
    let account = ctx.account;
    if account.keys.contains_key(&key.key_id) {
        return Err(DomainError::KeyAlreadyExists(key.key_id));
    }
    if account.live_keys >= MAX_KEYS_PER_ACCOUNT {
        return Err(DomainError::TooManyKeys {
            max: MAX_KEYS_PER_ACCOUNT,
        });
    }
    if account.keys.len() >= MAX_KEYS_EVER {
        return Err(DomainError::TooManyKeys { max: MAX_KEYS_EVER });
    }
    if key.expires_at.is_some_and(|e| e <= at) {
        return Err(DomainError::invalid(
            Field::ExpiresAt,
            InputError::NotInFuture,
        ));
    }
    let limit = spending::new_key_limit(ctx, key.limit)?;
    Ok(vec![AccountEvent::KeyCreated(KeyCreated {
        account_id: account.id,
        key_id: key.key_id,
        created_by,
        name: key.name.clone(),
        secret_hash: key.secret_hash.clone(),
        prefix: key.prefix.clone(),
        limit,
        expires_at: key.expires_at,
        at,
    })])
}

/// What a key management command changes.
pub(super) enum KeyChange<'a> {
    Rename(&'a KeyName),
    Limit(Option<KeyLimit>),
    Disable,
    Enable,
    Delete,
    Rotate(NewSecret<'a>),
    Expiry(Option<DateTime<Utc>>),
}

/// The new secret of a rotation (its hash and prefix) and the old one's grace period.
pub(super) struct NewSecret<'a> {
    pub secret_hash: &'a SecretHash,
    pub prefix: &'a KeyPrefix,
    pub grace_s: u32,
}

/// Rename, change limit, disable, enable, delete: members their own keys, admins all.
pub(super) fn manage(
    ctx: &Ctx<'_>,
    key_id: KeyId,
    change: KeyChange<'_>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let key = ctx.account.keys.get(&key_id);
    // Authorize before revealing whether the key exists: a member asking about a key they
    // did not create is told so, whether or not it exists.
    let auth = key_auth_context(ctx.auth, key, ctx.caller);
    authorize(ctx.caller, Action::ManageKey, &auth)?;
    let by = ctx.caller.acting_user(Action::ManageKey)?;
    let key = key.ok_or(DomainError::KeyNotFound(key_id))?;
    if key.status == KeyStatus::Deleted {
        return Err(DomainError::KeyDeleted(key_id));
    }
    if let KeyChange::Limit(limit) = change {
        spending::check_changed_limit(ctx, limit)?;
    }
    let account_id = ctx.account.id;
    let changed = KeyChanged {
        account_id,
        key_id,
        by,
        at,
    };
    let event = match change {
        KeyChange::Rename(name) => AccountEvent::KeyRenamed(KeyRenamed {
            account_id,
            key_id,
            name: name.clone(),
            by,
            at,
        }),
        KeyChange::Limit(limit) => AccountEvent::KeyLimitChanged(KeyLimitChanged {
            account_id,
            key_id,
            limit,
            by,
            at,
        }),
        KeyChange::Disable if key.status == KeyStatus::Disabled => {
            return Err(DomainError::KeyDisabled(key_id));
        }
        KeyChange::Disable => AccountEvent::KeyDisabled(KeyDisabled {
            account_id,
            key_id,
            cause: DisableCause::Manual,
            by,
            at,
        }),
        KeyChange::Enable if key.status == KeyStatus::Active => {
            return Err(DomainError::KeyAlreadyEnabled(key_id));
        }
        KeyChange::Enable => AccountEvent::KeyEnabled(changed),
        KeyChange::Delete => AccountEvent::KeyDeleted(changed),
        KeyChange::Rotate(secret) => rotated(&changed, key.secret_generation, secret)?,
        KeyChange::Expiry(Some(expires_at)) if expires_at <= at => {
            return Err(DomainError::invalid(
                Field::ExpiresAt,
                InputError::NotInFuture,
            ));
        }
        KeyChange::Expiry(expires_at) => AccountEvent::KeyExpiryChanged(KeyExpiryChanged {
            account_id,
            key_id,
            expires_at,
            by,
            at,
        }),
    };
    Ok(vec![event])
}

/// The rotation of the key `changed` names, whose current secret is of `generation`: the
/// new secret is the next generation, the current one works for `grace_s` more seconds.
fn rotated(
    changed: &KeyChanged,
    generation: u32,
    secret: NewSecret<'_>,
) -> Result<AccountEvent, DomainError> {
    if secret.grace_s > MAX_ROTATION_GRACE_S {
        let range = InputError::OutOfRange {
            min: 0,
            max: u64::from(MAX_ROTATION_GRACE_S),
        };
        return Err(DomainError::invalid(Field::GraceS, range));
    }
    let generation = generation
        .checked_add(1)
        .ok_or(DomainError::TooManyRotations {
            key_id: changed.key_id,
        })?;
    Ok(AccountEvent::KeyRotated(KeyRotated {
        account_id: changed.account_id,
        key_id: changed.key_id,
        secret_hash: secret.secret_hash.clone(),
        prefix: secret.prefix.clone(),
        generation,
        previous_valid_until: changed.at + chrono::Duration::seconds(i64::from(secret.grace_s)),
        by: changed.by,
        at: changed.at,
    }))
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
