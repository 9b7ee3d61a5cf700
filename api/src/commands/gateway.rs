//! `AuthorizeAndHold`: a hold on the account of an authenticated key, answered with what the
//! gateway needs to route the request. Pipelined on the account like `PlaceHold`, and decided
//! by the same domain rule, so its refusals are PlaceHold's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::account::{AccountCommand, decide};
use ledger_domain::{AccountId, Caller, Credits, DomainError, HoldId, KeyId, UserId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::app::{AccountView, Decided, LedgerCommand, Loader, Route};
use crate::error::AppError;

/// A hold for the key `key` of `account`, which a secret was found to name.
pub struct AuthorizeAndHold {
    /// The key's account.
    pub account: AccountId,
    /// The key the secret names.
    pub key: KeyId,
    /// Which of the key's secrets was presented (0: the creation's; one more per rotation).
    pub secret_generation: u32,
    /// The new hold.
    pub hold_id: HoldId,
    /// What to hold.
    pub estimate: Credits,
    /// How long the hold lives.
    pub ttl_s: u32,
    /// The owning organization's prompt-logging flag, read before deciding (advisory, like
    /// `AuthenticateKey`'s answer): the reply carries it as first decided.
    pub prompt_logging: bool,
    /// When the hold was asked for.
    pub at: DateTime<Utc>,
}

/// What a placed hold answers (and a retry gets again): the key's account and the figures
/// the hold leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldForKey {
    /// The key's account.
    pub account: AccountId,
    /// The key.
    pub key: KeyId,
    /// The key's creator, to whom usage is attributed.
    pub created_by: UserId,
    /// The key's remaining limit once the hold is placed; `None` without a limit.
    pub remaining_limit: Option<Decimal>,
    /// The account's available balance once the hold is placed.
    pub available_balance: Decimal,
    /// Whether the owning organization allows prompts to be logged.
    pub prompt_logging: bool,
}

impl AuthorizeAndHold {
    fn place_hold(&self) -> AccountCommand {
        AccountCommand::PlaceHold {
            hold_id: self.hold_id,
            key_id: self.key,
            estimate: self.estimate,
            ttl_s: self.ttl_s,
            at: self.at,
        }
    }
}

impl LedgerCommand for AuthorizeAndHold {
    type Reply = HeldForKey;
    type State = Arc<AccountView>;

    fn rpc(&self) -> &'static str {
        "AuthorizeAndHold"
    }

    fn route(&self) -> Route {
        Route::Account(self.account)
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.account(self.account).await
    }

    fn decide(&self, view: &Self::State, caller: &Caller) -> Result<Decided<HeldForKey>, AppError> {
        let account = view
            .state
            .account
            .as_ref()
            .ok_or(DomainError::AccountNotFound)?;
        // The secret is checked on the state the hold is decided on: a secret whose grace
        // period ended since the handler looked is refused here.
        let key = account.authenticate(self.key, self.secret_generation, self.at)?;
        // Only the gateway may place holds, so no organization state is needed for a role.
        let decision = decide(&view.state, None, caller, &self.place_hold())?;
        let held = self.estimate.amount();
        Ok(Decided {
            decision,
            reply: HeldForKey {
                account: self.account,
                key: self.key,
                created_by: key.created_by,
                remaining_limit: account
                    .remaining_limit(key, self.at)
                    .map(|remaining| remaining - held),
                available_balance: account.available() - held,
                prompt_logging: self.prompt_logging,
            },
        })
    }
}
