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
pub mod reads;
pub mod report;
pub mod settings;
pub mod support;
pub mod users;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::account::{AccountCommand, decide as decide_account};
use ledger_domain::organization::{OrganizationCommand, decide as decide_org};
use ledger_domain::{AccountId, OrganizationId};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::app::{App, Decided, Executed, RetryCheck};
use crate::auth::{CallContext, Credentials};
use crate::error::AppError;

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
}

/// Converts a handler's result into the gRPC answer (errors mapped in `status.rs`).
pub fn answer<T>(result: Result<T, AppError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

/// The command id of a request.
pub fn command_id(text: &str) -> Result<Uuid, AppError> {
    crate::input::uuid("command_id", text)
}

impl App {
    /// Runs a command on one account, pipelined (with its organization read for dashboard
    /// callers).
    pub async fn account_command(
        &self,
        cx: &CallContext,
        rpc: &str,
        message: &impl prost::Message,
        command_id: Uuid,
        account_id: AccountId,
        command: AccountCommand,
    ) -> Result<Executed, AppError> {
        let command = &command;
        self.execute_on_account(cx, rpc, message, command_id, account_id, |view| {
            Box::pin(async move {
                let org = match cx.caller.user() {
                    Some(_) => self.owner_organization(&view).await?,
                    None => None,
                };
                let decision = decide_account(&view.state, org.as_deref(), &cx.caller, command)?;
                Ok(Decided::new(decision))
            })
        })
        .await
    }

    /// Runs a command on one organization stream.
    pub async fn organization_command(
        &self,
        cx: &CallContext,
        rpc: &str,
        message: &impl prost::Message,
        command_id: Uuid,
        organization_id: OrganizationId,
        command: OrganizationCommand,
    ) -> Result<Executed, AppError> {
        let command = &command;
        self.execute(
            cx,
            rpc,
            message,
            command_id,
            &[organization_id.stream()],
            RetryCheck::AtAppend,
            || {
                Box::pin(async move {
                    let state = self.organization(organization_id).await?;
                    Ok(Decided::new(decide_org(&state, &cx.caller, command)?))
                })
            },
        )
        .await
    }
}

/// The time a command is stamped with: now, at receipt.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The reply of every command RPC: the log position the command reached (pass it as
/// `min_position` to read your own write).
pub(crate) fn command_response(done: crate::app::Executed) -> crate::pb::CommandResponse {
    crate::pb::CommandResponse {
        position: done.position,
    }
}
