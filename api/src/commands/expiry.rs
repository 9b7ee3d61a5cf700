//! The expiry of a hold past its TTL, appended by the system's expiry task.

use chrono::{DateTime, Utc};
use ledger_domain::account::{AccountCommand, decide};
use ledger_domain::{AccountId, Caller, CommandId, HoldId};
use uuid::Uuid;

use crate::app::{AccountView, Decided, LedgerCommand, Loader, RetryCheck, Route};
use crate::error::AppError;

/// Namespace of the command ids of expiries (one deterministic id per hold, so two `ledgerd`
/// instances expiring the same hold append it once).
const EXPIRY_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6467_6572_2d65_7870_6972_792d_0001);

/// Expires `hold` on `account` at `at`.
pub struct ExpireHold {
    /// The held account.
    pub account: AccountId,
    /// The hold past its TTL.
    pub hold: HoldId,
    /// When the task found it expired.
    pub at: DateTime<Utc>,
}

impl ExpireHold {
    /// The command id of the hold's expiry: the same for every attempt and every process, and
    /// distinct per account (a hold id is unique only within its account).
    pub fn command_id(&self) -> CommandId {
        CommandId::from_uuid(Uuid::new_v5(&EXPIRY_NAMESPACE, &self.message()))
    }

    /// What the request hash covers: the account and the hold, so the same hold always
    /// hashes alike.
    pub fn message(&self) -> Vec<u8> {
        [
            &self.account.as_uuid().as_bytes()[..],
            &self.hold.as_uuid().as_bytes()[..],
        ]
        .concat()
    }
}

impl LedgerCommand for ExpireHold {
    type Reply = ();
    type State = std::sync::Arc<AccountView>;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "ExpireHold"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.account.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.account(self.account).await
    }

    fn decide(&self, view: &Self::State, caller: &Caller) -> Result<Decided<()>, AppError> {
        let command = AccountCommand::ExpireHold {
            hold_id: self.hold,
            at: self.at,
        };
        Ok(Decided::events(decide(
            &view.state,
            None,
            caller,
            &command,
        )?))
    }
}
