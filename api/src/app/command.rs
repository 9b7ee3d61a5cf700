//! What a command is to the application: a type that names its RPC and its streams, loads the
//! state it decides on, decides purely, and has a typed reply. [`App::run`] does the rest
//! (request hashing, locks, pipelining, retries, idempotent replays) the same way for all.

use std::future::Future;
use std::sync::Arc;

use ledger_domain::organization::OrganizationState;
use ledger_domain::user::UserState;
use ledger_domain::{AccountId, Caller, Decision, OrganizationId, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{AccountView, App};
use crate::error::AppError;

/// How a command learns that it is the retry of one already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCheck {
    /// Look the command id up before deciding: for commands that write outside the log
    /// (personal data), which must not run again for a retry.
    BeforeDeciding,
    /// Let the append tell: the store answers a recorded command id with its stored outcome
    /// and appends nothing (and a decision that fails looks the id up). One database round
    /// trip less per command; for commands that only read and decide.
    AtAppend,
}

/// Where a command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// On one account, pipelined: decided on the state the account's previous command of this
    /// process leaves, and queued right behind it (the gateway's hot path). The command may
    /// only append to that account (it may read others as preconditions).
    Account(AccountId),
    /// Under this process's locks of these streams (the streams it expects to write; none for
    /// a command that creates its streams), decided on the log.
    Streams(Vec<String>),
}

/// What a command decided: the events per stream, and the reply a retry gets again.
#[derive(Debug)]
pub struct Decided<R> {
    /// The events per stream, appended atomically.
    pub decision: Decision,
    /// Stored with the command; never a secret.
    pub reply: R,
}

impl Decided<()> {
    /// A decision whose reply is its position alone.
    pub fn events(decision: Decision) -> Self {
        Self {
            decision,
            reply: (),
        }
    }
}

/// What a command reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Done<R> {
    /// The last position the command reached (the head, when it appended nothing): pass it as
    /// `min_position` to read your own write.
    pub position: i64,
    /// The command's reply, as first decided.
    pub reply: R,
    /// Whether this was answered from the stored outcome of an earlier identical request.
    pub replayed: bool,
}

/// A command the application runs. Implementations live in `crate::commands`, one file per
/// group; a service turns a request into one and [`App::run`] executes it.
pub trait LedgerCommand: Send + Sync {
    /// The reply, stored with the command for retries (so never a secret).
    type Reply: Serialize + DeserializeOwned + Send;
    /// What [`LedgerCommand::decide`] needs, read by [`LedgerCommand::load`].
    type State: Send + Sync;
    /// How a retry of the command is recognised.
    const RETRY: RetryCheck = RetryCheck::AtAppend;

    /// The RPC the command came through; part of the request hash, so it never changes.
    fn rpc(&self) -> &'static str;

    /// Where the command runs.
    fn route(&self) -> Route;

    /// Reads the state the command decides on (again on every attempt).
    fn load(
        &self,
        from: &Loader<'_>,
        caller: &Caller,
    ) -> impl Future<Output = Result<Self::State, AppError>> + Send;

    /// Decides on `state`, purely.
    fn decide(
        &self,
        state: &Self::State,
        caller: &Caller,
    ) -> Result<Decided<Self::Reply>, AppError>;

    /// Writes what the decision keeps outside the log (erasable personal data) before it is
    /// appended. Only for commands whose [`LedgerCommand::RETRY`] is
    /// [`RetryCheck::BeforeDeciding`], so a retry never writes twice.
    fn write_outside_log(
        &self,
        _app: &App,
        _decided: &Decided<Self::Reply>,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        async { Ok(()) }
    }
}

/// Where a command's load step reads state: the application's caches and the log, except
/// that a pipelined command sees its account as the pipeline hands it over.
pub struct Loader<'a> {
    app: &'a App,
    pipelined: Option<(AccountId, Arc<AccountView>)>,
}

impl<'a> Loader<'a> {
    /// Reads through the application.
    pub(super) fn new(app: &'a App, pipelined: Option<(AccountId, Arc<AccountView>)>) -> Self {
        Self { app, pipelined }
    }

    /// The application, for reads beyond aggregate state (personal data).
    pub fn app(&self) -> &App {
        self.app
    }

    /// An account's state: the pipeline's for the account a pipelined command runs on, else
    /// loaded.
    pub async fn account(&self, id: AccountId) -> Result<Arc<AccountView>, AppError> {
        match &self.pipelined {
            Some((account, view)) if *account == id => Ok(Arc::clone(view)),
            _ => self.app.account(id).await,
        }
    }

    /// An organization's state.
    pub async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Arc<OrganizationState>, AppError> {
        self.app.organization(id).await
    }

    /// A user's state.
    pub async fn user(&self, id: UserId) -> Result<Arc<UserState>, AppError> {
        self.app.user(id).await
    }

    /// The organization owning an account, when one does.
    pub async fn owner_organization(
        &self,
        view: &AccountView,
    ) -> Result<Option<Arc<OrganizationState>>, AppError> {
        self.app.owner_organization(view).await
    }

    /// An account, and its owning organization when the caller is a dashboard user (whose role
    /// there decides); staff callers need only the account.
    pub async fn account_for(
        &self,
        id: AccountId,
        caller: &Caller,
    ) -> Result<(Arc<AccountView>, Option<Arc<OrganizationState>>), AppError> {
        let view = self.account(id).await?;
        let org = match caller.user() {
            Some(_) => self.owner_organization(&view).await?,
            None => None,
        };
        Ok((view, org))
    }
}
