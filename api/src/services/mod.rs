//! The gRPC services, one file per service, over the shared application state.

pub mod activity;
pub mod analytics;
pub mod audit;
pub mod bill;
pub mod credits;
pub mod directory;
pub mod export;
pub mod gateway;
pub mod keys;
pub mod ledger;
pub mod notifications;
pub mod organizations;
pub mod projected;
pub mod readmodels;
pub mod receipt;
pub mod report;
pub mod request;
pub mod settings;
pub mod spending;
pub mod support;
pub mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_domain::account::AccountCommand;
use ledger_domain::organization::OrganizationCommand;
use ledger_domain::organization::OrganizationState;
use ledger_domain::{AccountId, Action, CommandId};
use ledger_projections::Projection;
use tonic::{Request, Response, Status};

use crate::app::{AccountInContext, App, Done, LedgerCommand};
use crate::auth::CallContext;
use crate::commands::{OnAccount, OnOrganization};
use crate::error::AppError;
use crate::input;
use crate::pb;

pub use request::{AccountRequest, CommandRequest, OrganizationRequest, ReadsAt};

/// What every service holds.
#[derive(Clone)]
pub struct Shared {
    /// The application state.
    pub app: Arc<App>,
}

/// What a read answers from (and a command whose reply needs more than its outcome): the
/// request of an authenticated caller.
pub struct Query<R> {
    /// The application state (owned, so an export can stream from a task of its own).
    pub app: Arc<App>,
    /// Who asks.
    pub cx: CallContext,
    /// The request message.
    pub req: R,
    /// How long the read may wait for a read model to reach `min_position`.
    pub budget: Duration,
}

impl<R: OrganizationRequest> Query<R> {
    /// The organization the request names, once the policy lets the caller do `action` on it.
    pub async fn organization(&self, action: Action) -> Result<Arc<OrganizationState>, AppError> {
        let id = input::organization_id(self.req.organization_id())?;
        self.app.authorized_org(&self.cx.caller, id, action).await
    }
}

impl<R: AccountRequest> Query<R> {
    /// The account the request names, once the policy lets the caller do `action` on it; with
    /// the caller's context on it, for finer decisions.
    pub async fn account(&self, action: Action) -> Result<(AccountId, AccountInContext), AppError> {
        let id = input::account_id("account_id", self.req.account_id())?;
        let account = self
            .app
            .authorized_account(&self.cx.caller, id, action)
            .await?;
        Ok((id, account))
    }
}

impl<R> Query<R> {
    /// Waits, within the request's budget, until `projection` has applied `min_position`.
    pub async fn caught_up(
        &self,
        projection: Projection,
        min_position: i64,
    ) -> Result<(), AppError> {
        projected::caught_up(&self.app.read_models, projection, min_position, self.budget).await
    }
}

impl Shared {
    /// The caller of a request, as the authentication layer admitted it
    /// ([`crate::auth::layer`]); a request that did not pass the layer has none.
    fn caller<T>(&self, request: &Request<T>) -> Result<CallContext, Status> {
        request
            .extensions()
            .get::<CallContext>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("missing bearer token"))
    }

    /// Answers with what `read` makes of a request; the caller is authenticated before `read`
    /// looks at it. On a read-only `ledgerd` the replica's log reaches the request's
    /// `min_position` first (within the wait budget).
    pub async fn query<R, T, F>(
        &self,
        request: Request<R>,
        read: impl FnOnce(Query<R>) -> F,
    ) -> Result<Response<T>, Status>
    where
        R: ReadsAt,
        F: Future<Output = Result<T, AppError>>,
    {
        let cx = self.caller(&request)?;
        let budget = projected::wait_budget(request.metadata());
        if self.app.read_only {
            let started = std::time::Instant::now();
            projected::log_caught_up(&self.app.log, request.get_ref().min_position(), budget)
                .await
                .map_err(Status::from)?;
            // What the log wait took is not the read models' to spend again.
            let budget = budget.saturating_sub(started.elapsed());
            return self.answer_query(cx, request, budget, read).await;
        }
        self.answer_query(cx, request, budget, read).await
    }

    /// [`Shared::query`] once the caller is known and the wait budget set.
    async fn answer_query<R, T, F>(
        &self,
        cx: CallContext,
        request: Request<R>,
        budget: Duration,
        read: impl FnOnce(Query<R>) -> F,
    ) -> Result<Response<T>, Status>
    where
        F: Future<Output = Result<T, AppError>>,
    {
        let query = Query {
            app: Arc::clone(&self.app),
            cx,
            req: request.into_inner(),
            budget,
        };
        answer(read(query).await)
    }

    /// Runs the command a request carries, made by `command` from the request and its
    /// command id, and answers with the reply the outcome converts into.
    pub async fn command<R, C, P>(
        &self,
        request: Request<R>,
        command: impl FnOnce(&R, CommandId) -> Result<C, AppError> + Send,
    ) -> Result<Response<P>, Status>
    where
        R: CommandRequest,
        C: LedgerCommand,
        P: From<Done<C::Reply>>,
    {
        let cx = self.caller(&request)?;
        let req = request.into_inner();
        answer(submit(&self.app, &cx, &req, command).await.map(P::from))
    }

    /// Runs the account command `command` makes of a request on the account its `account_id`
    /// names, and answers with the reply its position converts into.
    pub async fn account_command<R, P>(
        &self,
        request: Request<R>,
        command: impl FnOnce(&R) -> Result<AccountCommand, AppError> + Send,
    ) -> Result<Response<P>, Status>
    where
        R: CommandRequest + AccountRequest,
        P: From<Done<()>>,
    {
        self.command(request, |req, _| on_account(req, command))
            .await
    }

    /// Runs the organization command `command` makes of a request on the organization its
    /// `organization_id` names (read after the command's own fields, as in [`on_account`]),
    /// and answers with the reply its position converts into.
    pub async fn organization_command<R, P>(
        &self,
        request: Request<R>,
        command: impl FnOnce(&R) -> Result<OrganizationCommand, AppError> + Send,
    ) -> Result<Response<P>, Status>
    where
        R: CommandRequest + OrganizationRequest,
        P: From<Done<()>>,
    {
        self.command(request, |req, _| {
            let command = command(req)?;
            Ok(OnOrganization::new(
                input::organization_id(req.organization_id())?,
                command,
            ))
        })
        .await
    }
}

/// The reply of a command whose outcome is its position alone.
impl From<Done<()>> for pb::CommandResponse {
    fn from(done: Done<()>) -> Self {
        Self {
            position: done.position,
        }
    }
}

/// The account command `command` makes of `req`, on the account its `account_id` names. The
/// command's own fields are read first, so their errors are the ones reported.
pub fn on_account<R: AccountRequest>(
    req: &R,
    command: impl FnOnce(&R) -> Result<AccountCommand, AppError>,
) -> Result<OnAccount, AppError> {
    let command = command(req)?;
    Ok(OnAccount::new(
        input::account_id("account_id", req.account_id())?,
        command,
    ))
}

/// Runs the command `req` carries for `cx`: the command id is read first (a request without a
/// valid one changes nothing), then `command` builds the command from the request, and the
/// request's bytes are what a retry must repeat.
pub async fn submit<R, C>(
    app: &App,
    cx: &CallContext,
    req: &R,
    command: impl FnOnce(&R, CommandId) -> Result<C, AppError>,
) -> Result<Done<C::Reply>, AppError>
where
    R: CommandRequest,
    C: LedgerCommand,
{
    let command_id = input::id("command_id", req.command_id(), CommandId::from_uuid)?;
    let command = command(req, command_id)?;
    app.run(cx, command_id, &req.encode_to_vec(), command).await
}

/// Converts a handler's result into the gRPC answer (errors mapped in `status.rs`).
fn answer<T>(result: Result<T, AppError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

/// The time a command is stamped with: now, at receipt.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
