//! Commands of the identity service: registering a user (with their personal account),
//! verifying their address, and recording who erases their personal data. Addresses go to the
//! erasable table, never into the log.

use std::sync::Arc;

use ledger_domain::user::{self, UserState};
use ledger_domain::{AccountId, Caller};
use serde::{Deserialize, Serialize};

use crate::app::{App, Decided, LedgerCommand, Loader, RetryCheck, Route};
use crate::error::AppError;
use crate::personal;

/// Registers a user and opens their personal account.
pub struct RegisterUser(pub user::RegisterUser);

/// What a retry of [`RegisterUser`] gets again.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserRegistered {
    /// The user's personal account.
    pub personal_account_id: AccountId,
}

impl LedgerCommand for RegisterUser {
    type Reply = UserRegistered;
    type State = Arc<UserState>;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "RegisterUser"
    }

    fn route(&self) -> Route {
        Route::Streams(Vec::new())
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.user(self.0.user_id).await
    }

    fn decide(
        &self,
        state: &Self::State,
        caller: &Caller,
    ) -> Result<Decided<UserRegistered>, AppError> {
        Ok(Decided {
            decision: user::register(state, caller, &self.0)?,
            reply: UserRegistered {
                personal_account_id: self.0.personal_account_id,
            },
        })
    }

    async fn write_outside_log(
        &self,
        app: &App,
        _decided: &Decided<UserRegistered>,
    ) -> Result<(), AppError> {
        personal::register_email(&app.log, self.0.user_id, &self.0.email).await
    }
}

/// Marks a user's address verified.
pub struct VerifyEmail(pub user::VerifyEmail);

impl LedgerCommand for VerifyEmail {
    type Reply = ();
    type State = Arc<UserState>;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "VerifyEmail"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.0.user_id.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.user(self.0.user_id).await
    }

    fn decide(&self, state: &Self::State, caller: &Caller) -> Result<Decided<()>, AppError> {
        Ok(Decided::events(user::verify_email(state, caller, &self.0)?))
    }

    async fn write_outside_log(&self, app: &App, _decided: &Decided<()>) -> Result<(), AppError> {
        personal::verify_email(&app.log, self.0.user_id, &self.0.email).await
    }
}

/// Records who erases a user's personal data (the handler erases it once this is appended).
pub struct EraseUser(pub user::EraseUser);

impl LedgerCommand for EraseUser {
    type Reply = ();
    type State = Arc<UserState>;

    fn rpc(&self) -> &'static str {
        "EraseUser"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.0.user_id.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.user(self.0.user_id).await
    }

    fn decide(&self, state: &Self::State, caller: &Caller) -> Result<Decided<()>, AppError> {
        Ok(Decided::events(user::erase(state, caller, &self.0)?))
    }
}
