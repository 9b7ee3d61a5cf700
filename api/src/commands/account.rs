//! Commands on one account (credits, keys, holds, usage), pipelined on the account.

use std::sync::Arc;

use ledger_domain::account::{AccountCommand, decide};
use ledger_domain::organization::OrganizationState;
use ledger_domain::{AccountId, Caller};

use crate::app::{AccountView, Decided, LedgerCommand, Loader, Route};
use crate::error::AppError;

/// An account command on `account`.
pub struct OnAccount {
    /// The account the command changes.
    pub account: AccountId,
    /// What to do.
    pub command: AccountCommand,
}

impl OnAccount {
    /// `command` on `account`.
    pub fn new(account: AccountId, command: AccountCommand) -> Self {
        Self { account, command }
    }
}

impl LedgerCommand for OnAccount {
    type Reply = ();
    /// The account, and its organization for a dashboard user (whose role decides).
    type State = (Arc<AccountView>, Option<Arc<OrganizationState>>);

    fn rpc(&self) -> &'static str {
        match self.command {
            AccountCommand::PurchaseCredits { .. } => "PurchaseCredits",
            AccountCommand::CreateKey { .. } => "CreateKey",
            AccountCommand::RenameKey { .. } => "RenameKey",
            AccountCommand::ChangeKeyLimit { .. } => "ChangeKeyLimit",
            AccountCommand::DisableKey { .. } => "DisableKey",
            AccountCommand::EnableKey { .. } => "EnableKey",
            AccountCommand::DeleteKey { .. } => "DeleteKey",
            AccountCommand::RotateKey { .. } => "RotateKey",
            AccountCommand::ChangeKeyExpiry { .. } => "ChangeKeyExpiry",
            AccountCommand::PlaceHold { .. } => "PlaceHold",
            AccountCommand::SettleHold { .. } => "SettleHold",
            AccountCommand::VoidHold { .. } => "VoidHold",
            AccountCommand::ExpireHold { .. } => "ExpireHold",
            AccountCommand::RecordUsage { .. } => "RecordUsage",
            AccountCommand::SetBudget { .. } => "SetOrganizationBudget",
            AccountCommand::SetMemberSpendCap { .. } => "SetMemberSpendCap",
            AccountCommand::SetDefaultKeyLimit { .. } => "SetDefaultKeyLimit",
            AccountCommand::AdjustCredits { .. } => "AdjustCredits",
            AccountCommand::RefundPurchase { .. } => "RefundPurchase",
            AccountCommand::SetLowBalanceThreshold { .. } => "SetLowBalanceThreshold",
        }
    }

    fn route(&self) -> Route {
        Route::Account(self.account)
    }

    async fn load(&self, from: &Loader<'_>, caller: &Caller) -> Result<Self::State, AppError> {
        from.account_for(self.account, caller).await
    }

    fn decide(&self, state: &Self::State, caller: &Caller) -> Result<Decided<()>, AppError> {
        let (view, org) = state;
        let decision = decide(&view.state, org.as_deref(), caller, &self.command)?;
        Ok(Decided::events(decision))
    }
}
