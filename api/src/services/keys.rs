//! `KeysService`: create (the secret is shown once), rename, limit, disable, enable, delete,
//! and the key listings answered from the account state.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ledger_domain::account::{AccountCommand, Key, KeyStatus, key_auth_context};
use ledger_domain::text::{KeyName, KeyPrefix, SecretHash};
use ledger_domain::{AccountId, Action, CommandId, DomainError, KeyId, LimitPeriod};
use ledger_projections::Projection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::projected::optional_time;
use super::request::CommandRequest;
use super::{Query, Shared, now, submit};
use crate::app::{AccountInContext, AccountView, allow};
use crate::app::{Done, LedgerCommand};
use crate::commands::{OnAccount, RotateKey};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::secrets::KeyHasher;

/// The keys service.
pub struct Keys(pub Shared);

/// The proto form of a limit period.
pub fn period_pb(period: LimitPeriod) -> pb::LimitPeriod {
    match period {
        LimitPeriod::Daily => pb::LimitPeriod::Daily,
        LimitPeriod::Weekly => pb::LimitPeriod::Weekly,
        LimitPeriod::Monthly => pb::LimitPeriod::Monthly,
        LimitPeriod::Lifetime => pb::LimitPeriod::Lifetime,
    }
}

/// The proto form of a key status.
pub fn status_pb(status: KeyStatus) -> pb::KeyStatus {
    match status {
        KeyStatus::Active => pb::KeyStatus::Active,
        KeyStatus::Disabled => pb::KeyStatus::Disabled,
        KeyStatus::Deleted => pb::KeyStatus::Deleted,
    }
}

/// The proto form of a key, as of `now`; `last_used_at` comes from the `keys` read model.
fn api_key(
    view: &AccountView,
    id: KeyId,
    key: &Key,
    last_used_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> pb::ApiKey {
    let account = view.state.account.as_ref();
    let label = view.labels.get(&id);
    let period = key.limit.map_or(LimitPeriod::Lifetime, |l| l.reset);
    pb::ApiKey {
        key_id: id.to_string(),
        account_id: account.map(|a| a.id.to_string()).unwrap_or_default(),
        created_by: key.created_by.to_string(),
        name: label.map(|l| l.name.clone()).unwrap_or_default(),
        prefix: label.map(|l| l.prefix.clone()).unwrap_or_default(),
        status: status_pb(key.status).into(),
        limit: key.limit.map(|l| pb::KeyLimit {
            amount: l.amount.amount().normalize().to_string(),
            reset: period_pb(l.reset).into(),
        }),
        remaining_limit: account
            .and_then(|a| a.remaining_limit(key, now))
            .map(|r| r.normalize().to_string()),
        expires_at: key.expires_at.map(input::timestamp),
        held: key.held.normalize().to_string(),
        created_at: label.map(|l| input::timestamp(l.created_at)),
        last_used_at: last_used_at.map(input::timestamp),
        lifetime_spend: key.spend.lifetime.normalize().to_string(),
        current_period_spend: key.spend.spent_in(period, now).normalize().to_string(),
        secret_generation: key.secret_generation,
        previous_secret_valid_until: key.previous_secret_until.map(input::timestamp),
    }
}

/// When the keys `ids` were last used, from the `keys` read model once it has reached
/// `min_position`.
async fn last_used<R>(
    q: &Query<R>,
    min_position: i64,
    ids: &[KeyId],
) -> Result<HashMap<Uuid, DateTime<Utc>>, AppError> {
    q.caught_up(Projection::Keys, min_position).await?;
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    Ok(ledger_projections::models::keys::last_used(q.app.read_models.pool(), &ids).await?)
}

impl Keys {
    /// Disable, enable and delete: a key command that names only the key.
    async fn manage(
        &self,
        request: Request<pb::KeyCommandRequest>,
        make: fn(KeyId, chrono::DateTime<Utc>) -> AccountCommand,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let account = input::account_id("account_id", &req.account_id)?;
                let command = make(input::key_id(&req.key_id)?, now());
                Ok(OnAccount::new(account, command))
            })
            .await
    }
}

/// The create-key command of a request, with the secret it shows once: derived from the
/// command id and the key id, never stored, so a retry derives it again.
fn create_key(
    hasher: &KeyHasher,
    req: &pb::CreateKeyRequest,
    command_id: CommandId,
) -> Result<(OnAccount, Shown), AppError> {
    let account = input::account_id("account_id", &req.account_id)?;
    let key_id = input::key_id(&req.key_id)?;
    let name = KeyName::parse(&req.name).at("name")?;
    let limit = input::key_limit("limit", req.limit.as_ref())?;
    let expires_at = optional_time("expires_at", req.expires_at.as_ref())?;
    let secret = hasher.derive_secret(command_id.as_uuid(), key_id.as_uuid());
    let command = AccountCommand::CreateKey {
        key_id,
        name,
        secret_hash: SecretHash::parse(&hasher.hash(&secret))
            .map_err(|e| AppError::Internal(e.to_string()))?,
        prefix: KeyPrefix::parse(&KeyHasher::prefix(&secret))
            .map_err(|e| AppError::Internal(e.to_string()))?,
        limit,
        expires_at,
        at: now(),
    };
    let shown = Shown {
        account,
        key_id,
        secret,
    };
    Ok((OnAccount::new(account, command), shown))
}

fn rename(req: &pb::RenameKeyRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::RenameKey {
        key_id: input::key_id(&req.key_id)?,
        name: KeyName::parse(&req.name).at("name")?,
        at: now(),
    })
}

fn change_limit(req: &pb::ChangeKeyLimitRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::ChangeKeyLimit {
        key_id: input::key_id(&req.key_id)?,
        limit: input::key_limit("limit", req.limit.as_ref())?,
        at: now(),
    })
}

/// What a created key's reply shows once.
struct Shown {
    account: AccountId,
    key_id: KeyId,
    secret: String,
}

/// `CreateKey`: the command runs, and the reply shows the secret its request derived (on a
/// retry, only while the caller may still have it: `App::may_show_key_secret_again`).
async fn created_key(q: Query<pb::CreateKeyRequest>) -> Result<pb::CreateKeyResponse, AppError> {
    let (done, shown) = submit_with_secret(&q, create_key).await?;
    Ok(pb::CreateKeyResponse {
        position: done.position,
        key_id: shown.key_id.to_string(),
        prefix: KeyHasher::prefix(&shown.secret),
        secret: shown.secret,
    })
}

/// Builds a key command and the secret it shows from a request (`create_key`, `rotate_key`).
type DeriveWithSecret<R, C> = fn(&KeyHasher, &R, CommandId) -> Result<(C, Shown), AppError>;

/// Runs a command whose request derives a new key secret, and returns its outcome with the
/// secret to show. On a retry the secret is shown again only while the caller may still have
/// it (`App::may_show_key_secret_again`).
async fn submit_with_secret<R, C>(
    q: &Query<R>,
    derive: DeriveWithSecret<R, C>,
) -> Result<(Done<C::Reply>, Shown), AppError>
where
    R: CommandRequest,
    C: LedgerCommand,
{
    let mut shown = None;
    let done = submit(&q.app, &q.cx, &q.req, |req, command_id| {
        let (command, secret) = derive(&q.app.hasher, req, command_id)?;
        shown = Some(secret);
        Ok(command)
    })
    .await?;
    let shown =
        shown.ok_or_else(|| AppError::Internal("a key command without its secret".into()))?;
    if done.replayed {
        q.app
            .may_show_key_secret_again(
                &q.cx.caller,
                shown.account,
                shown.key_id,
                done.position,
                now(),
            )
            .await?;
    }
    Ok((done, shown))
}

/// `GetKey`: one key, to whoever the policy lets view it.
async fn key(q: Query<pb::GetKeyRequest>) -> Result<pb::ApiKey, AppError> {
    let key_id = input::key_id(&q.req.key_id)?;
    let id = input::account_id("account_id", &q.req.account_id)?;
    let caller = &q.cx.caller;
    let AccountInContext { view, context, .. } = q
        .app
        .account_in_context(caller, id, Action::ViewKey)
        .await?;
    let key = view.key(key_id);
    // Existence is not revealed before authorization (a member asking about another's or a
    // missing key is told NotKeyCreator).
    allow(
        caller,
        Action::ViewKey,
        &key_auth_context(context, key, caller),
    )?;
    let key = key.ok_or(DomainError::KeyNotFound(key_id))?;
    let used = last_used(&q, q.req.min_position, &[key_id]).await?;
    let last_used_at = used.get(&key_id.as_uuid()).copied();
    Ok(api_key(&view, key_id, key, last_used_at, Utc::now()))
}

/// `ListKeys`: the account's keys the policy lets the caller view, a page at a time.
async fn keys(q: Query<pb::ListKeysRequest>) -> Result<pb::ListKeysResponse, AppError> {
    let page = input::page(q.req.page_size, &q.req.page_token)?;
    let (_, AccountInContext { view, context, .. }) = q.account(Action::ListKeys).await?;
    let account = view
        .state
        .account
        .as_ref()
        .ok_or(DomainError::AccountNotFound)?;
    let caller = &q.cx.caller;
    // The policy decides per key which ones the caller may see.
    let visible: Vec<_> = account
        .keys
        .iter()
        .filter(|(_, k)| q.req.include_deleted || k.status != KeyStatus::Deleted)
        .filter(|(_, k)| {
            allow(
                caller,
                Action::ViewKey,
                &key_auth_context(context, Some(k), caller),
            )
            .is_ok()
        })
        .collect();
    let (keys, next_page_token) = input::page_of(visible.into_iter(), page, |entry| entry);
    let ids: Vec<KeyId> = keys.iter().map(|(id, _)| **id).collect();
    let used = last_used(&q, q.req.min_position, &ids).await?;
    let now = Utc::now();
    let keys = keys
        .into_iter()
        .map(|(id, key)| api_key(&view, *id, key, used.get(&id.as_uuid()).copied(), now))
        .collect();
    Ok(pb::ListKeysResponse {
        keys,
        next_page_token,
    })
}

/// The rotate-key command of a request, with the new secret it shows once: derived from the
/// rotation's command id and the key id, like a created key's.
fn rotate_key(
    hasher: &KeyHasher,
    req: &pb::RotateKeyRequest,
    command_id: CommandId,
) -> Result<(RotateKey, Shown), AppError> {
    let account = input::account_id("account_id", &req.account_id)?;
    let key_id = input::key_id(&req.key_id)?;
    let secret = hasher.derive_secret(command_id.as_uuid(), key_id.as_uuid());
    let command = RotateKey {
        account,
        key_id,
        secret_hash: SecretHash::parse(&hasher.hash(&secret))
            .map_err(|e| AppError::Internal(e.to_string()))?,
        prefix: KeyPrefix::parse(&KeyHasher::prefix(&secret))
            .map_err(|e| AppError::Internal(e.to_string()))?,
        grace_s: req.grace_s,
        at: now(),
    };
    let shown = Shown {
        account,
        key_id,
        secret,
    };
    Ok((command, shown))
}

/// `RotateKey`: the command runs, and the reply shows the new secret (on a retry, only while
/// the caller may still have it and it is still the key's current secret).
async fn rotated_key(q: Query<pb::RotateKeyRequest>) -> Result<pb::RotateKeyResponse, AppError> {
    let (done, shown) = submit_with_secret(&q, rotate_key).await?;
    if done.replayed {
        let current = q.app.account(shown.account).await?;
        if current.key(shown.key_id).map(|k| k.secret_generation) != Some(done.reply.generation) {
            return Err(AppError::SecretNoLongerShown(
                "the key was rotated again since",
            ));
        }
    }
    Ok(pb::RotateKeyResponse {
        position: done.position,
        key_id: shown.key_id.to_string(),
        prefix: KeyHasher::prefix(&shown.secret),
        secret: shown.secret,
        secret_generation: done.reply.generation,
        previous_secret_valid_until: Some(input::timestamp(done.reply.previous_valid_until)),
    })
}

fn change_expiry(req: &pb::ChangeKeyExpiryRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::ChangeKeyExpiry {
        key_id: input::key_id(&req.key_id)?,
        expires_at: optional_time("expires_at", req.expires_at.as_ref())?,
        at: now(),
    })
}

#[tonic::async_trait]
impl pb::keys_service_server::KeysService for Keys {
    async fn create_key(
        &self,
        request: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreateKeyResponse>, Status> {
        self.0.query(request, created_key).await
    }

    async fn rename_key(
        &self,
        request: Request<pb::RenameKeyRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, rename).await
    }

    async fn change_key_limit(
        &self,
        request: Request<pb::ChangeKeyLimitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, change_limit).await
    }

    async fn disable_key(
        &self,
        request: Request<pb::KeyCommandRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.manage(request, |key_id, at| AccountCommand::DisableKey {
            key_id,
            at,
        })
        .await
    }

    async fn enable_key(
        &self,
        request: Request<pb::KeyCommandRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.manage(request, |key_id, at| AccountCommand::EnableKey {
            key_id,
            at,
        })
        .await
    }

    async fn delete_key(
        &self,
        request: Request<pb::KeyCommandRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.manage(request, |key_id, at| AccountCommand::DeleteKey {
            key_id,
            at,
        })
        .await
    }

    async fn get_key(
        &self,
        request: Request<pb::GetKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        self.0.query(request, key).await
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        self.0.query(request, keys).await
    }

    async fn rotate_key(
        &self,
        request: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::RotateKeyResponse>, Status> {
        self.0.query(request, rotated_key).await
    }

    async fn change_key_expiry(
        &self,
        request: Request<pb::ChangeKeyExpiryRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, change_expiry).await
    }
}
