//! `SupportService`: manual transfers personal → organization, member limits.

use ledger_domain::account;
use ledger_domain::organization::OrganizationCommand;
use ledger_domain::text::{TicketReference, TransferReason};
use ledger_domain::{Credits, OrganizationId, TransferId};
use tonic::{Request, Response, Status};

use super::credits::account_id;
use super::{Shared, now};
use crate::commands::{OnOrganization, TransferCredits};
use crate::error::AtField;
use crate::input;
use crate::pb;

/// The support service.
pub struct Support(pub Shared);

#[tonic::async_trait]
impl pb::support_service_server::SupportService for Support {
    async fn transfer_credits(
        &self,
        request: Request<pb::TransferCreditsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, command_id| {
                Ok(TransferCredits(account::TransferCredits {
                    transfer_id: TransferId::from_uuid(input::uuid_or_derived(
                        "transfer_id",
                        &req.transfer_id,
                        command_id.as_uuid(),
                    )?),
                    from: account_id("from_account_id", &req.from_account_id)?,
                    to: account_id("to_account_id", &req.to_account_id)?,
                    amount: Credits::transfer(req.amount.as_str()).at("amount")?,
                    reason: TransferReason::parse(&req.reason).at("reason")?,
                    ticket: TicketReference::parse(&req.ticket).at("ticket")?,
                    at: now(),
                }))
            })
            .await
    }

    async fn set_member_limit(
        &self,
        request: Request<pb::SetMemberLimitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                Ok(OnOrganization {
                    organization: input::id(
                        "organization_id",
                        &req.organization_id,
                        OrganizationId::from_uuid,
                    )?,
                    command: OrganizationCommand::SetMemberLimit {
                        member_limit: req.member_limit,
                        at: now(),
                    },
                })
            })
            .await
    }
}
