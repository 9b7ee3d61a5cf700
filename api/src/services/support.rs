//! `SupportService`: manual transfers personal → organization and their reversals,
//! adjustments, member limits.

use ledger_domain::account::{self, AccountCommand, AdjustmentDirection};
use ledger_domain::organization::OrganizationCommand;
use ledger_domain::text::{TicketReference, TransferReason};
use ledger_domain::{AdjustmentId, CommandId, Credits, TransferId};
use tonic::{Request, Response, Status};

use super::{Shared, now, on_account};
use crate::commands::{OnAccount, ReverseTransfer, TransferCredits};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;

/// The support service.
pub struct Support(pub Shared);

fn transfer(
    req: &pb::TransferCreditsRequest,
    command_id: CommandId,
) -> Result<TransferCredits, AppError> {
    Ok(TransferCredits(account::TransferCredits {
        transfer_id: TransferId::from_uuid(input::uuid_or_derived(
            "transfer_id",
            &req.transfer_id,
            command_id.as_uuid(),
        )?),
        from: input::account_id("from_account_id", &req.from_account_id)?,
        to: input::account_id("to_account_id", &req.to_account_id)?,
        amount: Credits::transfer(req.amount.as_str()).at("amount")?,
        reason: TransferReason::parse(&req.reason).at("reason")?,
        ticket: TicketReference::parse(&req.ticket).at("ticket")?,
        at: now(),
    }))
}

fn adjust(req: &pb::AdjustCreditsRequest, command_id: CommandId) -> Result<OnAccount, AppError> {
    let adjustment_id = AdjustmentId::from_uuid(input::uuid_or_derived(
        "adjustment_id",
        &req.adjustment_id,
        command_id.as_uuid(),
    )?);
    let direction = match pb::AdjustmentDirection::try_from(req.direction) {
        Ok(pb::AdjustmentDirection::Credit) => AdjustmentDirection::Credit,
        Ok(pb::AdjustmentDirection::Debit) => AdjustmentDirection::Debit,
        _ => return Err(AppError::invalid("direction", "must be CREDIT or DEBIT")),
    };
    on_account(req, |req| {
        Ok(AccountCommand::AdjustCredits {
            adjustment_id,
            direction,
            amount: Credits::transfer(req.amount.as_str()).at("amount")?,
            reason: TransferReason::parse(&req.reason).at("reason")?,
            ticket: TicketReference::parse(&req.ticket).at("ticket")?,
            recovery: req.recovery,
            at: now(),
        })
    })
}

fn reverse(req: &pb::ReverseTransferRequest, _: CommandId) -> Result<ReverseTransfer, AppError> {
    Ok(ReverseTransfer(account::ReverseTransfer {
        transfer_id: input::id("transfer_id", &req.transfer_id, TransferId::from_uuid)?,
        account: input::account_id("account_id", &req.account_id)?,
        reason: TransferReason::parse(&req.reason).at("reason")?,
        ticket: TicketReference::parse(&req.ticket).at("ticket")?,
        at: now(),
    }))
}

fn set_member_limit(req: &pb::SetMemberLimitRequest) -> Result<OrganizationCommand, AppError> {
    Ok(OrganizationCommand::SetMemberLimit {
        member_limit: req.member_limit,
        at: now(),
    })
}

#[tonic::async_trait]
impl pb::support_service_server::SupportService for Support {
    async fn transfer_credits(
        &self,
        request: Request<pb::TransferCreditsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, transfer).await
    }

    async fn set_member_limit(
        &self,
        request: Request<pb::SetMemberLimitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.organization_command(request, set_member_limit).await
    }

    async fn adjust_credits(
        &self,
        request: Request<pb::AdjustCreditsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, adjust).await
    }

    async fn reverse_transfer(
        &self,
        request: Request<pb::ReverseTransferRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, reverse).await
    }
}
