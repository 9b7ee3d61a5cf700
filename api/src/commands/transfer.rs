//! Support's manual transfer from a personal account to an organization's account: both
//! accounts change atomically.

use std::sync::Arc;

use ledger_domain::Caller;
use ledger_domain::account::{self, AccountOwner};
use ledger_domain::organization::OrganizationState;

use crate::app::{AccountView, Decided, LedgerCommand, Loader, RetryCheck, Route};
use crate::error::AppError;

/// Moves credits between two accounts.
pub struct TransferCredits(pub account::TransferCredits);

/// What a transfer decides on: both accounts and the target's organization (whose membership
/// the source's owner must hold).
pub struct Accounts {
    source: Arc<AccountView>,
    target: Arc<AccountView>,
    organization: Arc<OrganizationState>,
}

impl LedgerCommand for TransferCredits {
    type Reply = ();
    type State = Accounts;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "TransferCredits"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.0.from.stream(), self.0.to.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Accounts, AppError> {
        let source = from.account(self.0.from).await?;
        let target = from.account(self.0.to).await?;
        let organization = match target.state.account.as_ref().map(|a| a.owner) {
            Some(AccountOwner::Organization { organization_id }) => {
                from.organization(organization_id).await?
            }
            _ => Arc::default(),
        };
        Ok(Accounts {
            source,
            target,
            organization,
        })
    }

    fn decide(&self, state: &Accounts, caller: &Caller) -> Result<Decided<()>, AppError> {
        let decision = account::transfer(
            &state.source.state,
            &state.target.state,
            &state.organization,
            caller,
            &self.0,
        )?;
        Ok(Decided::events(decision))
    }
}
