//! `CreditsService`: purchases, their refunds and receipts, balances.

use ledger_domain::account::{AccountCommand, AccountOwner};
use ledger_domain::text::PaymentReference;
use ledger_domain::{Action, Credits, DomainError, authorize};
use tonic::{Request, Response, Status};

use super::ledger::ledger_entries;
use super::receipt::purchase_receipt;
use super::{Query, Shared, now};
use crate::error::{AppError, AtField};
use crate::pb;

/// The credits service.
pub struct CreditsApi(pub Shared);

fn purchase(req: &pb::PurchaseCreditsRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::PurchaseCredits {
        amount: Credits::purchase(req.amount.as_str()).at("amount")?,
        payment_reference: PaymentReference::parse(&req.payment_reference)
            .at("payment_reference")?,
        at: now(),
    })
}

fn refund(req: &pb::RefundPurchaseRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::RefundPurchase {
        payment_reference: PaymentReference::parse(&req.payment_reference)
            .at("payment_reference")?,
        at: now(),
    })
}

async fn balance(
    q: Query<pb::GetAccountBalanceRequest>,
) -> Result<pb::GetAccountBalanceResponse, AppError> {
    let (_, account) = q.account(Action::ReadBalance).await?;
    let billing_shown = authorize(&q.cx.caller, Action::ReadBilling, &account.context).is_ok();
    let state = &account.view.state;
    let account = state.account.as_ref().ok_or(DomainError::AccountNotFound)?;
    let (kind, owner_id) = match account.owner {
        AccountOwner::User { user_id } => (pb::AccountKind::Personal, user_id.to_string()),
        AccountOwner::Organization { organization_id } => {
            (pb::AccountKind::Organization, organization_id.to_string())
        }
    };
    let full = pb::GetAccountBalanceResponse {
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
        total_adjusted: account.totals.adjusted.normalize().to_string(),
        open_holds: u32::try_from(account.holds.len()).unwrap_or(u32::MAX),
        version: ledger_codec::stored_version(state.version),
        billing_hidden: false,
    };
    Ok(if billing_shown {
        full
    } else {
        member_balance(full)
    })
}

/// What a member who may not read billing information sees of a balance: the available
/// balance (whether work can run), not the balance, holds and totals (docs/domain.md,
/// "Billing information").
fn member_balance(full: pb::GetAccountBalanceResponse) -> pb::GetAccountBalanceResponse {
    pb::GetAccountBalanceResponse {
        account_id: full.account_id,
        kind: full.kind,
        owner_id: full.owner_id,
        available: full.available,
        version: full.version,
        billing_hidden: true,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl pb::credits_service_server::CreditsService for CreditsApi {
    async fn purchase_credits(
        &self,
        request: Request<pb::PurchaseCreditsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, purchase).await
    }

    async fn get_account_balance(
        &self,
        request: Request<pb::GetAccountBalanceRequest>,
    ) -> Result<Response<pb::GetAccountBalanceResponse>, Status> {
        self.0.query(request, balance).await
    }

    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        self.0.query(request, ledger_entries).await
    }

    async fn refund_purchase(
        &self,
        request: Request<pb::RefundPurchaseRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, refund).await
    }

    async fn get_purchase_receipt(
        &self,
        request: Request<pb::GetPurchaseReceiptRequest>,
    ) -> Result<Response<pb::GetPurchaseReceiptResponse>, Status> {
        self.0.query(request, purchase_receipt).await
    }
}
