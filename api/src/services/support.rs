//! `SupportService`: manual transfers personal → organization, member limits.

use std::sync::Arc;

use ledger_domain::account::{AccountOwner, TransferCredits, transfer};
use ledger_domain::organization::{OrganizationCommand, OrganizationState};
use ledger_domain::text::{TicketReference, TransferReason};
use ledger_domain::{Credits, OrganizationId, TransferId};
use tonic::{Request, Response, Status};

use super::command_response;
use super::credits::account_id;
use super::{Shared, answer, command_id, now};
use crate::app::{Decided, RetryCheck};
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
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let cmd = TransferCredits {
                    transfer_id: TransferId::from_uuid(input::uuid_or_derived(
                        "transfer_id",
                        &req.transfer_id,
                        command_id,
                    )?),
                    from: account_id("from_account_id", &req.from_account_id)?,
                    to: account_id("to_account_id", &req.to_account_id)?,
                    amount: Credits::transfer(req.amount.as_str()).at("amount")?,
                    reason: TransferReason::parse(&req.reason).at("reason")?,
                    ticket: TicketReference::parse(&req.ticket).at("ticket")?,
                    at: now(),
                };
                let (cmd, cx) = (&cmd, &cx);
                let done = app
                    .execute(
                        cx,
                        "TransferCredits",
                        &req,
                        command_id,
                        &[cmd.from.stream(), cmd.to.stream()],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let source = app.account(cmd.from).await?;
                                let target = app.account(cmd.to).await?;
                                let org = match target.state.account.as_ref().map(|a| a.owner) {
                                    Some(AccountOwner::Organization { organization_id }) => {
                                        app.organization(organization_id).await?
                                    }
                                    _ => Arc::new(OrganizationState::default()),
                                };
                                Ok(Decided::new(transfer(
                                    &source.state,
                                    &target.state,
                                    &org,
                                    &cx.caller,
                                    cmd,
                                )?))
                            })
                        },
                    )
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }

    async fn set_member_limit(
        &self,
        request: Request<pb::SetMemberLimitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = input::id(
                    "organization_id",
                    &req.organization_id,
                    OrganizationId::from_uuid,
                )?;
                let command = OrganizationCommand::SetMemberLimit {
                    member_limit: req.member_limit,
                    at: now(),
                };
                let done = self
                    .0
                    .app
                    .organization_command(&cx, "SetMemberLimit", &req, command_id, org, command)
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }
}
