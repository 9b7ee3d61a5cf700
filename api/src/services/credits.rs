//! `CreditsService`: purchases and balances.

use ledger_domain::account::{AccountCommand, AccountOwner};
use ledger_domain::text::PaymentReference;
use ledger_domain::{AccountId, Action, Credits};
use tonic::{Request, Response, Status};

use super::ledger::ledger_entries;
use super::projected::wait_budget;
use super::{Shared, answer, now};
use crate::commands::OnAccount;
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;

/// The credits service.
pub struct CreditsApi(pub Shared);

/// An account id field.
pub fn account_id(field: &str, text: &str) -> Result<AccountId, AppError> {
    input::id(field, text, AccountId::from_uuid)
}

#[tonic::async_trait]
impl pb::credits_service_server::CreditsService for CreditsApi {
    async fn purchase_credits(
        &self,
        request: Request<pb::PurchaseCreditsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let command = AccountCommand::PurchaseCredits {
                    amount: Credits::purchase(req.amount.as_str()).at("amount")?,
                    payment_reference: PaymentReference::parse(&req.payment_reference)
                        .at("payment_reference")?,
                    at: now(),
                };
                Ok(OnAccount::new(
                    account_id("account_id", &req.account_id)?,
                    command,
                ))
            })
            .await
    }

    async fn get_account_balance(
        &self,
        request: Request<pb::GetAccountBalanceRequest>,
    ) -> Result<Response<pb::GetAccountBalanceResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let id = account_id("account_id", &req.account_id)?;
                let view = app
                    .authorized_account(&cx.caller, id, Action::ReadBalance)
                    .await?
                    .view;
                let account = view
                    .state
                    .account
                    .as_ref()
                    .ok_or(ledger_domain::DomainError::AccountNotFound)?;
                let (kind, owner_id) = match account.owner {
                    AccountOwner::User { user_id } => {
                        (pb::AccountKind::Personal, user_id.to_string())
                    }
                    AccountOwner::Organization { organization_id } => {
                        (pb::AccountKind::Organization, organization_id.to_string())
                    }
                };
                Ok(pb::GetAccountBalanceResponse {
                    account_id: account.id.to_string(),
                    kind: kind.into(),
                    owner_id,
                    balance: account.balance.normalize().to_string(),
                    held: account.held.normalize().to_string(),
                    available: account.available().normalize().to_string(),
                    total_purchased: account.totals.purchased.normalize().to_string(),
                    total_transferred_in: account.totals.transferred_in.normalize().to_string(),
                    total_transferred_out: account.totals.transferred_out.normalize().to_string(),
                    total_used: account.totals.used.normalize().to_string(),
                    open_holds: u32::try_from(account.holds.len()).unwrap_or(u32::MAX),
                    version: ledger_codec::stored_version(view.state.version),
                })
            }
            .await,
        )
    }

    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let budget = wait_budget(request.metadata());
        let req = request.into_inner();
        answer(ledger_entries(&self.0.app, &cx.caller, &req, budget).await)
    }
}
