//! Support's manual transfer from a personal account to an organization's account, and its
//! reversal: both accounts change atomically.

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

/// Gives a transfer's credits back to its source.
pub struct ReverseTransfer(pub account::ReverseTransfer);

/// What a reversal decides on: the organization account the transfer went to, and the
/// transfer's source (read from the former's state; `None` when the transfer is unknown there).
pub struct Reversal {
    target: Arc<AccountView>,
    source: Option<Arc<AccountView>>,
}

impl LedgerCommand for ReverseTransfer {
    type Reply = ();
    type State = Reversal;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "ReverseTransfer"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.0.account.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Reversal, AppError> {
        let target = from.account(self.0.account).await?;
        let source_id = target
            .state
            .account
            .as_ref()
            .and_then(|a| a.transfers_in.get(&self.0.transfer_id))
            .map(|t| t.from);
        let source = match source_id {
            Some(id) => Some(from.account(id).await?),
            None => None,
        };
        Ok(Reversal { target, source })
    }

    fn decide(&self, state: &Reversal, caller: &Caller) -> Result<Decided<()>, AppError> {
        let empty = account::AccountState::default();
        let source = state.source.as_ref().map_or(&empty, |s| &s.state);
        let decision = account::reverse_transfer(&state.target.state, source, caller, &self.0)?;
        Ok(Decided::events(decision))
    }
}
