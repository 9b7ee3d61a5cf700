//! `GatewayService`: the hot path. Keys are authenticated from the in-memory index and the
//! cached account state; holds, settlements and usage are account-stream commands. The `Bill`
//! stream (`bill.rs`) answers each of its items with the handlers here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use ledger_domain::account::AccountCommand;
use ledger_domain::{AccountId, Action, AuthContext, CommandId, Credits, HoldId};
use prost::Message;
use tokio::task::JoinSet;
use tonic::{Request, Response, Status, Streaming};
use tonic_types::StatusExt;

use super::bill::{self, BillStream};
use super::{AccountRequest, CommandRequest, Query, Shared, now, on_account};
use crate::app::keyindex::IndexedSecret;
use crate::app::{AccountView, App, Done, GroupItem, allow};
use crate::auth::CallContext;
use crate::commands::{AuthorizeAndHold, HeldForKey, OnAccount};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::secrets::KeyHasher;

/// Most items in a batch.
pub const MAX_BATCH_ITEMS: usize = 100;

/// The gateway service.
pub struct Gateway {
    shared: Shared,
    /// Most items of one `Bill` stream taken and not yet answered.
    bill_in_flight: usize,
}

impl Gateway {
    /// The gateway service; each `Bill` stream has at most `bill_in_flight` items in flight.
    pub fn new(shared: Shared, bill_in_flight: usize) -> Self {
        Self {
            shared,
            bill_in_flight: bill_in_flight.max(1),
        }
    }
}

fn hold_id(text: &str) -> Result<HoldId, AppError> {
    input::id("hold_id", text, HoldId::from_uuid)
}

/// The place-hold command of a request (alone or a batch item).
pub(super) fn place(req: &pb::PlaceHoldRequest) -> Result<AccountCommand, AppError> {
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

/// The void command of a request (alone or a batch item).
pub(super) fn void(req: &pb::VoidHoldRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::VoidHold {
        hold_id: hold_id(&req.hold_id)?,
        at: now(),
    })
}

/// The settle command of a request (alone or a batch item).
pub(super) fn settle(req: &pb::SettleHoldRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::SettleHold {
        hold_id: hold_id(&req.hold_id)?,
        usage: input::usage("usage", req.usage.as_ref())?,
        at: now(),
    })
}

/// The record-usage command of a request (alone or a batch item).
pub(super) fn record(req: &pb::RecordUsageRequest) -> Result<AccountCommand, AppError> {
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
            let error = item_error(error);
            pb::BatchItemResult {
                command_id,
                position: 0,
                code: error.code,
                message: error.message,
                reason: error.reason,
            }
        }
    }
}

/// The refusal of one item of a batch or a stream, as its unary RPC's status would carry it.
pub(super) fn item_error(error: AppError) -> pb::ItemError {
    let reason = crate::status::app_reason(&error).to_owned();
    let status = Status::from(error);
    let field = status
        .get_details_bad_request()
        .and_then(|bad| bad.field_violations.into_iter().next())
        .map(|violation| violation.field)
        .unwrap_or_default();
    pb::ItemError {
        code: status.code() as i32,
        message: status.message().to_owned(),
        reason,
        field,
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

/// Runs batch items, each the account command `command` makes of it, and answers in order. A
/// caller who may not do `action` at all is refused for the whole batch, before any item runs.
/// The items are grouped by account: each account's items are decided in one pass, in the
/// batch's order, and appended as one request ([`App::run_group`]); the accounts' groups run
/// concurrently, so they share group commits. Each item is answered as its unary RPC would be.
async fn run_batch<R: CommandRequest + AccountRequest>(
    app: Arc<App>,
    cx: CallContext,
    action: Action,
    items: Vec<R>,
    command: fn(&R) -> Result<AccountCommand, AppError>,
) -> Result<pb::BatchResponse, AppError> {
    allow(&cx.caller, action, &AuthContext::GLOBAL)?;
    check_batch(items.len())?;
    let mut results: Vec<Option<Result<i64, AppError>>> = items.iter().map(|_| None).collect();
    let mut groups: Vec<(AccountId, Vec<Numbered>)> = Vec::new();
    let mut group_of: HashMap<AccountId, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        match group_item(item, command) {
            Ok(grouped) => {
                let account = grouped.command.account;
                let group = *group_of.entry(account).or_insert_with(|| {
                    groups.push((account, Vec::new()));
                    groups.len() - 1
                });
                groups[group].1.push((index, grouped));
            }
            Err(error) => results[index] = Some(Err(error)),
        }
    }
    let mut tasks = JoinSet::new();
    for (account, members) in groups {
        let (app, cx) = (Arc::clone(&app), cx.clone());
        tasks.spawn(async move {
            let (indexes, items): (Vec<usize>, Vec<_>) = members.into_iter().unzip();
            let done = app.run_group(&cx, account, items).await;
            indexes.into_iter().zip(done).collect::<Vec<_>>()
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let answered = joined.map_err(|e| AppError::Internal(e.to_string()))?;
        for (index, done) in answered {
            results[index] = Some(done.map(|done| done.position));
        }
    }
    let results = items
        .iter()
        .zip(results)
        .map(|(item, result)| {
            let result =
                result.unwrap_or_else(|| Err(AppError::Internal("an item went unanswered".into())));
            item_result(item.command_id().to_owned(), result)
        })
        .collect();
    Ok(pb::BatchResponse { results })
}

/// A batch item as a command of its account's group, with its place in the batch.
type Numbered = (usize, GroupItem<OnAccount>);

/// A batch item as a command of its account's group, read as [`super::submit`] reads a unary
/// request: the command id first, then the command's fields, then the account.
fn group_item<R: CommandRequest + AccountRequest>(
    req: &R,
    command: fn(&R) -> Result<AccountCommand, AppError>,
) -> Result<GroupItem<OnAccount>, AppError> {
    let command_id = input::id("command_id", req.command_id(), CommandId::from_uuid)?;
    Ok(GroupItem {
        command_id,
        message: req.encode_to_vec(),
        command: on_account(req, command)?,
    })
}

/// The key a secret names, found by the secret's keyed hash.
struct SecretKey {
    /// The keyed hash of the secret.
    hash: String,
    /// The key, its account and which of its secrets this is.
    named: IndexedSecret,
}

/// The key `secret` names: INVALID_ARGUMENT for what is not a secret at all (before any
/// query), UNKNOWN_KEY for a secret no key has, RATE_LIMITED past the key's rate.
async fn key_of_secret(app: &App, secret: &str) -> Result<SecretKey, AppError> {
    if !KeyHasher::well_formed(secret) {
        return Err(AppError::invalid(
            "secret",
            "is not an API key secret (ark_ and 43 base64url characters)",
        ));
    }
    let hash = app.hasher.hash(secret);
    let named = app
        .keys
        .find(&app.log, &hash)
        .await?
        .ok_or(AppError::UnknownKey)?;
    app.key_rate
        .check(&named.key, Instant::now())
        .map_err(|wait| AppError::RateLimited {
            what: "this API key",
            wait,
        })?;
    Ok(SecretKey { hash, named })
}

/// What the gateway reads about a presented secret before it answers or holds: the key the
/// secret names, the account state, and the owning organization's prompt-logging flag (false
/// for a personal account). `AuthenticateKey` and `AuthorizeAndHold` both start here.
struct Presented {
    found: SecretKey,
    view: Arc<AccountView>,
    prompt_logging: bool,
}

/// Reads what [`Presented`] holds: from the cached states the writer vouches for, or, when
/// `current`, from the log (read-your-writes).
async fn presented(app: &App, secret: &str, current: bool) -> Result<Presented, AppError> {
    let found = key_of_secret(app, secret).await?;
    let account = found.named.account;
    let (view, organization) = if current {
        app.account_and_owner(account).await?
    } else {
        let view = app.account_for_auth(account).await?;
        let organization = app.owner_organization_for_auth(&view).await?;
        (view, organization)
    };
    let prompt_logging = organization
        .as_ref()
        .and_then(|state| state.organization.as_ref())
        .is_some_and(|o| o.privacy.prompt_logging);
    Ok(Presented {
        found,
        view,
        prompt_logging,
    })
}

/// `AuthenticateKey`: the key of a secret, answered from the cached state the writer vouches
/// for unless the caller asks to read its own write. Refused as `Account::authenticate`
/// refuses (deleted, disabled, expired, or a secret rotated out past its grace period), so the
/// deprecated `status` and `expired` are always ACTIVE and false.
#[allow(deprecated)] // `status` and `expired` are filled for clients built against them.
pub(super) async fn authenticate(
    q: Query<pb::AuthenticateKeyRequest>,
) -> Result<pb::AuthenticateKeyResponse, AppError> {
    let (app, req) = (&q.app, &q.req);
    allow(&q.cx.caller, Action::AuthenticateKey, &AuthContext::GLOBAL)?;
    let Presented {
        found,
        view,
        prompt_logging,
    } = presented(app, &req.secret, req.min_position > 0).await?;
    let IndexedSecret {
        account: account_id,
        key: key_id,
        generation,
    } = found.named;
    let account = view.state.account.as_ref().ok_or(AppError::UnknownKey)?;
    let now = Utc::now();
    let key = account.authenticate(key_id, generation, now)?;
    Ok(pb::AuthenticateKeyResponse {
        key_id: key_id.to_string(),
        account_id: account_id.to_string(),
        status: pb::KeyStatus::Active.into(),
        expired: false,
        remaining_limit: account
            .remaining_limit(key, now)
            .map(|r| r.normalize().to_string()),
        available_balance: account.available().normalize().to_string(),
        created_by: key.created_by.to_string(),
        prompt_logging,
    })
}

/// `AuthorizeAndHold`: the key of a secret (refused as `AuthenticateKey` refuses), then a hold
/// on its account decided as `PlaceHold` decides, with the organization's prompt-logging flag
/// read beforehand. The request is hashed for retries with the secret replaced by its keyed
/// hash, so the command record holds nothing derived from the secret alone.
pub(super) async fn authorize_and_hold(
    q: Query<pb::AuthorizeAndHoldRequest>,
) -> Result<pb::AuthorizeAndHoldResponse, AppError> {
    let (app, req, cx) = (&q.app, &q.req, &q.cx);
    allow(&cx.caller, Action::AuthenticateKey, &AuthContext::GLOBAL)?;
    allow(&cx.caller, Action::PlaceHold, &AuthContext::GLOBAL)?;
    let command_id = input::id("command_id", &req.command_id, CommandId::from_uuid)?;
    let hold_id = hold_id(&req.hold_id)?;
    let estimate = Credits::hold_estimate(req.estimate.as_str()).at("estimate")?;
    let Presented {
        found,
        prompt_logging,
        ..
    } = presented(app, &req.secret, false).await?;
    let command = AuthorizeAndHold {
        account: found.named.account,
        key: found.named.key,
        secret_generation: found.named.generation,
        hold_id,
        estimate,
        ttl_s: req.ttl_s,
        prompt_logging,
        at: now(),
    };
    let hashed = pb::AuthorizeAndHoldRequest {
        secret: found.hash,
        ..req.clone()
    };
    let done = app
        .run(cx, command_id, &hashed.encode_to_vec(), command)
        .await?;
    Ok(done.into())
}

impl From<Done<HeldForKey>> for pb::AuthorizeAndHoldResponse {
    fn from(done: Done<HeldForKey>) -> Self {
        let held = done.reply;
        Self {
            position: done.position,
            key_id: held.key.to_string(),
            account_id: held.account.to_string(),
            remaining_limit: held.remaining_limit.map(|r| r.normalize().to_string()),
            available_balance: held.available_balance.normalize().to_string(),
            created_by: held.created_by.to_string(),
            prompt_logging: held.prompt_logging,
        }
    }
}

#[tonic::async_trait]
impl pb::gateway_service_server::GatewayService for Gateway {
    async fn authenticate_key(
        &self,
        request: Request<pb::AuthenticateKeyRequest>,
    ) -> Result<Response<pb::AuthenticateKeyResponse>, Status> {
        self.shared.query(request, authenticate).await
    }

    async fn place_hold(
        &self,
        request: Request<pb::PlaceHoldRequest>,
    ) -> Result<Response<pb::PlaceHoldResponse>, Status> {
        self.shared.account_command(request, place).await
    }

    async fn settle_hold(
        &self,
        request: Request<pb::SettleHoldRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.shared.account_command(request, settle).await
    }

    async fn void_hold(
        &self,
        request: Request<pb::VoidHoldRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.shared.account_command(request, void).await
    }

    async fn record_usage(
        &self,
        request: Request<pb::RecordUsageRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.shared.account_command(request, record).await
    }

    async fn settle_batch(
        &self,
        request: Request<pb::SettleBatchRequest>,
    ) -> Result<Response<pb::BatchResponse>, Status> {
        self.shared
            .query(request, |q| {
                run_batch(q.app, q.cx, Action::SettleHold, q.req.items, settle)
            })
            .await
    }

    async fn record_usage_batch(
        &self,
        request: Request<pb::RecordUsageBatchRequest>,
    ) -> Result<Response<pb::BatchResponse>, Status> {
        self.shared
            .query(request, |q| {
                run_batch(q.app, q.cx, Action::RecordUsage, q.req.items, record)
            })
            .await
    }

    async fn place_hold_batch(
        &self,
        request: Request<pb::PlaceHoldBatchRequest>,
    ) -> Result<Response<pb::BatchResponse>, Status> {
        self.shared
            .query(request, |q| {
                run_batch(q.app, q.cx, Action::PlaceHold, q.req.items, place)
            })
            .await
    }

    async fn void_hold_batch(
        &self,
        request: Request<pb::VoidHoldBatchRequest>,
    ) -> Result<Response<pb::BatchResponse>, Status> {
        self.shared
            .query(request, |q| {
                run_batch(q.app, q.cx, Action::VoidHold, q.req.items, void)
            })
            .await
    }

    async fn authorize_and_hold(
        &self,
        request: Request<pb::AuthorizeAndHoldRequest>,
    ) -> Result<Response<pb::AuthorizeAndHoldResponse>, Status> {
        self.shared.query(request, authorize_and_hold).await
    }

    async fn bill(
        &self,
        request: Request<Streaming<pb::BillRequest>>,
    ) -> Result<Response<BillStream>, Status> {
        bill::open(&self.shared, request, self.bill_in_flight).map(Response::new)
    }
}
