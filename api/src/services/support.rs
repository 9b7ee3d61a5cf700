//! `SupportService`: manual transfers personal → organization, member limits.

use ledger_domain::account;
use ledger_domain::organization::OrganizationCommand;
use ledger_domain::text::{TicketReference, TransferReason};
use ledger_domain::{CommandId, Credits, TransferId};
use tonic::{Request, Response, Status};

use super::{Shared, now};
use crate::commands::TransferCredits;
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
}
