//! `GatewayService`: the hot path. Keys are authenticated from the in-memory index and the
//! cached account state; holds, settlements and usage are account-stream commands.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use ledger_domain::account::{AccountCommand, KeyStatus};
use ledger_domain::{Action, AuthContext, Credits, DomainError, HoldId};
use tokio::task::JoinSet;
use tonic::{Request, Response, Status};

use super::keys::status_pb;
use super::{AccountRequest, CommandRequest, Query, Shared, now, on_account, submit};
use crate::app::{App, Done, allow};
use crate::auth::CallContext;
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::secrets::KeyHasher;

/// Most items in a batch.
pub const MAX_BATCH_ITEMS: usize = 100;

/// The gateway service.
pub struct Gateway(pub Shared);

fn hold_id(text: &str) -> Result<HoldId, AppError> {
    input::id("hold_id", text, HoldId::from_uuid)
}

fn place(req: &pb::PlaceHoldRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::PlaceHold {
        hold_id: hold_id(&req.hold_id)?,
        key_id: input::key_id(&req.key_id)?,
        estimate: Credits::hold_estimate(req.estimate.as_str()).at("estimate")?,
        ttl_s: req.ttl_s,
        at: now(),
    })
}

impl From<Done<()>> for pb::PlaceHoldResponse {
    fn from(done: Done<()>) -> Self {
        Self {
            position: done.position,
        }
    }
}

fn void(req: &pb::VoidHoldRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::VoidHold {
        hold_id: hold_id(&req.hold_id)?,
        at: now(),
    })
}

/// The settle command of a request (alone or a batch item).
fn settle(req: &pb::SettleHoldRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::SettleHold {
        hold_id: hold_id(&req.hold_id)?,
        usage: input::usage("usage", req.usage.as_ref())?,
        at: now(),
    })
}

/// The record-usage command of a request (alone or a batch item).
fn record(req: &pb::RecordUsageRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::RecordUsage {
        key_id: input::key_id(&req.key_id)?,
        usage: input::usage("usage", req.usage.as_ref())?,
        at: now(),
    })
}

fn item_result(command_id: String, result: Result<i64, AppError>) -> pb::BatchItemResult {
    match result {
        Ok(position) => pb::BatchItemResult {
            command_id,
            position,
            ..Default::default()
        },
        Err(error) => {
            let reason = crate::status::app_reason(&error).to_owned();
            let status = Status::from(error);
            pb::BatchItemResult {
                command_id,
                position: 0,
                code: status.code() as i32,
                message: status.message().to_owned(),
                reason,
            }
        }
    }
}

fn check_batch(len: usize) -> Result<(), AppError> {
    if len == 0 || len > MAX_BATCH_ITEMS {
        return Err(AppError::invalid(
            "items",
            format!("must hold 1 to {MAX_BATCH_ITEMS} items"),
        ));
    }
    Ok(())
}

/// Runs batch items, each the account command `command` makes of it, concurrently (so they
/// share group commits) and answers in order. A caller who may not do `action` at all is
/// refused for the whole batch, before any item runs.
async fn run_batch<R: CommandRequest + AccountRequest>(
    app: Arc<App>,
    cx: CallContext,
    action: Action,
    items: Vec<R>,
    command: fn(&R) -> Result<AccountCommand, AppError>,
) -> Result<pb::BatchResponse, AppError> {
    allow(&cx.caller, action, &AuthContext::GLOBAL)?;
    check_batch(items.len())?;
    let mut tasks = JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let (app, cx) = (Arc::clone(&app), cx.clone());
        tasks.spawn(async move {
            let done = submit(&app, &cx, &item, |req, _| on_account(req, command)).await;
            let result = done.map(|done| done.position);
            (index, item_result(item.command_id().to_owned(), result))
        });
    }
    let mut results = vec![pb::BatchItemResult::default(); tasks.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(|e| AppError::Internal(e.to_string()))?;
        results[index] = result;
    }
    Ok(pb::BatchResponse { results })
}

/// `AuthenticateKey`: the key of a secret, answered from the cached state the writer vouches
/// for unless the caller asks to read its own write.
async fn authenticate(
    q: Query<pb::AuthenticateKeyRequest>,
) -> Result<pb::AuthenticateKeyResponse, AppError> {
    let (app, req) = (&q.app, &q.req);
    allow(&q.cx.caller, Action::AuthenticateKey, &AuthContext::GLOBAL)?;
    if !KeyHasher::well_formed(&req.secret) {
        return Err(AppError::invalid(
            "secret",
            "is not an API key secret (ark_ and 43 base64url characters)",
        ));
    }
    let hash = app.hasher.hash(&req.secret);
    let (account_id, key_id) = app
        .keys
        .find(&app.pool, &hash)
        .await?
        .ok_or(AppError::UnknownKey)?;
    let view = if req.min_position > 0 {
        app.account(account_id).await?
    } else {
        app.account_for_auth(account_id).await?
    };
    let account = view.state.account.as_ref().ok_or(AppError::UnknownKey)?;
    let key = account.keys.get(&key_id).ok_or(AppError::UnknownKey)?;
    app.key_rate
        .check(&key_id, Instant::now())
        .map_err(|wait| AppError::RateLimited {
            what: "this API key",
            wait,
        })?;
    let now = Utc::now();
    match key.status {
        KeyStatus::Deleted => return Err(DomainError::KeyDeleted(key_id).into()),
        KeyStatus::Disabled => return Err(DomainError::KeyDisabled(key_id).into()),
        KeyStatus::Active => {}
    }
    if let Some(expires_at) = key.expires_at.filter(|e| *e <= now) {
        return Err(DomainError::KeyExpired { key_id, expires_at }.into());
    }
    Ok(pb::AuthenticateKeyResponse {
        key_id: key_id.to_string(),
        account_id: account_id.to_string(),
        status: status_pb(key.status).into(),
        remaining_limit: account
            .remaining_limit(key, now)
            .map(|r| r.normalize().to_string()),
        available_balance: account.available().normalize().to_string(),
        expired: false,
        created_by: key.created_by.to_string(),
    })
}

#[tonic::async_trait]
impl pb::gateway_service_server::GatewayService for Gateway {
    async fn authenticate_key(
        &self,
        request: Request<pb::AuthenticateKeyRequest>,
    ) -> Result<Response<pb::AuthenticateKeyResponse>, Status> {
        self.0.query(request, authenticate).await
    }

    async fn place_hold(
        &self,
        request: Request<pb::PlaceHoldRequest>,
    ) -> Result<Response<pb::PlaceHoldResponse>, Status> {
        self.0.account_command(request, place).await
    }

    async fn settle_hold(
        &self,
        request: Request<pb::SettleHoldRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, settle).await
    }

    async fn void_hold(
        &self,
        request: Request<pb::VoidHoldRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, void).await
    }

    async fn record_usage(
        &self,
        request: Request<pb::RecordUsageRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, record).await
    }

    async fn settle_batch(
        &self,
        request: Request<pb::SettleBatchRequest>,
    ) -> Result<Response<pb::BatchResponse>, Status> {
        self.0
            .query(request, |q| {
                run_batch(q.app, q.cx, Action::SettleHold, q.req.items, settle)
            })
            .await
    }

    async fn record_usage_batch(
        &self,
        request: Request<pb::RecordUsageBatchRequest>,
    ) -> Result<Response<pb::BatchResponse>, Status> {
        self.0
            .query(request, |q| {
                run_batch(q.app, q.cx, Action::RecordUsage, q.req.items, record)
            })
            .await
    }
}
