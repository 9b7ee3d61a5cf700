//! The gRPC services, one file per service, over the shared application state.

pub mod activity;
pub mod analytics;
pub mod audit;
pub mod credits;
pub mod directory;
pub mod export;
pub mod gateway;
pub mod keys;
pub mod ledger;
pub mod organizations;
pub mod projected;
pub mod readmodels;
pub mod report;
pub mod settings;
pub mod support;
pub mod users;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::CommandId;
use tonic::{Request, Response, Status};

use crate::app::{App, Done, LedgerCommand};
use crate::auth::{CallContext, Credentials};
use crate::error::AppError;
use crate::input;
use crate::pb;

/// What every service holds.
#[derive(Clone)]
pub struct Shared {
    /// The application state.
    pub app: Arc<App>,
    /// The credentials in force.
    pub auth: Arc<Credentials>,
}

impl Shared {
    /// Authenticates the caller of a request.
    pub fn caller<T>(&self, request: &Request<T>) -> Result<CallContext, Status> {
        self.auth
            .authenticate(request.metadata())
            .map_err(Status::from)
    }

    /// Runs the command a request carries, made by `command` from the request and its
    /// command id, and answers with what `reply` makes of the outcome.
    pub async fn run<R, C, P>(
        &self,
        request: Request<R>,
        command: impl FnOnce(&R, CommandId) -> Result<C, AppError> + Send,
        reply: impl FnOnce(Done<C::Reply>) -> P + Send,
    ) -> Result<Response<P>, Status>
    where
        R: CommandRequest,
        C: LedgerCommand,
    {
        let cx = self.caller(&request)?;
        let req = request.into_inner();
        answer(submit(&self.app, &cx, &req, command).await.map(reply))
    }

    /// Runs the command a request carries and answers with the position it reached.
    pub async fn command<R, C>(
        &self,
        request: Request<R>,
        command: impl FnOnce(&R, CommandId) -> Result<C, AppError> + Send,
    ) -> Result<Response<pb::CommandResponse>, Status>
    where
        R: CommandRequest,
        C: LedgerCommand,
    {
        self.run(request, command, |done| pb::CommandResponse {
            position: done.position,
        })
        .await
    }
}

/// A request message that carries a command id.
pub trait CommandRequest: prost::Message + Send + Sync + 'static {
    /// The command id as sent.
    fn command_id(&self) -> &str;
}

macro_rules! command_requests {
    ($($request:ident),+ $(,)?) => {
        $(impl CommandRequest for pb::$request {
            fn command_id(&self) -> &str {
                &self.command_id
            }
        })+
    };
}

command_requests!(
    RegisterUserRequest,
    VerifyEmailRequest,
    CreateOrganizationRequest,
    RenameOrganizationRequest,
    UpdateOrganizationDetailsRequest,
    InviteMemberRequest,
    RevokeInvitationRequest,
    AcceptInvitationRequest,
    RemoveMemberRequest,
    ChangeMemberRoleRequest,
    LeaveOrganizationRequest,
    PurchaseCreditsRequest,
    CreateKeyRequest,
    RenameKeyRequest,
    ChangeKeyLimitRequest,
    KeyCommandRequest,
    PlaceHoldRequest,
    SettleHoldRequest,
    VoidHoldRequest,
    RecordUsageRequest,
    TransferCreditsRequest,
    SetMemberLimitRequest,
    SetPrivacySettingsRequest,
    SetBillingSettingsRequest,
);

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
pub fn answer<T>(result: Result<T, AppError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

/// The time a command is stamped with: now, at receipt.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
