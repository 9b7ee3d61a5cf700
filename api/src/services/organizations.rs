//! `OrganizationsService`: creation, profile, invitations, members and roles.

use ledger_domain::organization::{self, OrganizationCommand};
use ledger_domain::text::{OrganizationDetails, OrganizationName};
use ledger_domain::{
    AccountId, Action, CommandId, Email, InvitationId, OrganizationId, Role, UserId,
};
use tonic::{Request, Response, Status};

use super::{Shared, answer, now};
use crate::app::authorized::created;
use crate::commands::{
    AcceptInvitation, ChangeMembership, CreateOrganization, Departure, InviteMember, OnOrganization,
};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;

/// The organizations service.
pub struct Organizations(pub Shared);

fn org_id(text: &str) -> Result<OrganizationId, AppError> {
    input::id("organization_id", text, OrganizationId::from_uuid)
}

fn invitation_id(text: &str) -> Result<InvitationId, AppError> {
    input::id("invitation_id", text, InvitationId::from_uuid)
}

/// An organization command that only reads and decides, on the organization of `id`.
fn on_org(id: &str, command: OrganizationCommand) -> Result<OnOrganization, AppError> {
    Ok(OnOrganization {
        organization: org_id(id)?,
        command,
    })
}

/// A member going from the organization of `id`.
fn departure(id: &str, departure: Departure) -> Result<ChangeMembership, AppError> {
    Ok(ChangeMembership {
        organization: org_id(id)?,
        departure,
    })
}

fn details(text: Option<&String>) -> Result<Option<OrganizationDetails>, AppError> {
    text.map(|d| OrganizationDetails::parse(d).at("details"))
        .transpose()
}

/// The proto role of a domain role.
pub fn role_pb(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::Member => pb::Role::Member,
    }
}

#[tonic::async_trait]
impl pb::organizations_service_server::OrganizationsService for Organizations {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        let create = |req: &pb::CreateOrganizationRequest, command_id: CommandId| {
            Ok(CreateOrganization(organization::CreateOrganization {
                organization_id: org_id(&req.organization_id)?,
                account_id: AccountId::from_uuid(input::uuid_or_derived(
                    "account_id",
                    &req.account_id,
                    command_id.as_uuid(),
                )?),
                name: OrganizationName::parse(&req.name).at("name")?,
                details: details(req.details.as_ref())?,
                at: now(),
            }))
        };
        self.0
            .run(request, create, |done| pb::CreateOrganizationResponse {
                position: done.position,
                account_id: done.reply.account_id.to_string(),
            })
            .await
    }

    async fn rename_organization(
        &self,
        request: Request<pb::RenameOrganizationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let command = OrganizationCommand::Rename {
                    name: OrganizationName::parse(&req.name).at("name")?,
                    at: now(),
                };
                on_org(&req.organization_id, command)
            })
            .await
    }

    async fn update_organization_details(
        &self,
        request: Request<pb::UpdateOrganizationDetailsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let command = OrganizationCommand::UpdateDetails {
                    details: details(req.details.as_ref())?,
                    at: now(),
                };
                on_org(&req.organization_id, command)
            })
            .await
    }

    async fn invite_member(
        &self,
        request: Request<pb::InviteMemberRequest>,
    ) -> Result<Response<pb::InviteMemberResponse>, Status> {
        let invite = |req: &pb::InviteMemberRequest, _| {
            let organization = org_id(&req.organization_id)?;
            let invitation_id = invitation_id(&req.invitation_id)?;
            let email = Email::parse(&req.email).at("email")?;
            let command = OrganizationCommand::InviteMember {
                invitation_id,
                email: email.clone(),
                role: input::role("role", req.role)?,
                expires_in_s: req.expires_in_s,
                at: now(),
            };
            Ok(InviteMember {
                organization,
                invitation_id,
                email,
                command,
            })
        };
        self.0
            .run(request, invite, |done| pb::InviteMemberResponse {
                position: done.position,
                expires_at: done.reply.expires_at.map(input::timestamp),
            })
            .await
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let command = OrganizationCommand::RevokeInvitation {
                    invitation_id: invitation_id(&req.invitation_id)?,
                    at: now(),
                };
                on_org(&req.organization_id, command)
            })
            .await
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                Ok(AcceptInvitation {
                    organization: org_id(&req.organization_id)?,
                    invitation_id: invitation_id(&req.invitation_id)?,
                    at: now(),
                })
            })
            .await
    }

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let removed = organization::RemoveMember {
                    user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                    at: now(),
                };
                departure(&req.organization_id, Departure::Removed(removed))
            })
            .await
    }

    async fn change_member_role(
        &self,
        request: Request<pb::ChangeMemberRoleRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let command = OrganizationCommand::ChangeRole {
                    user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                    role: input::role("role", req.role)?,
                    at: now(),
                };
                on_org(&req.organization_id, command)
            })
            .await
    }

    async fn leave_organization(
        &self,
        request: Request<pb::LeaveOrganizationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let left = organization::LeaveOrganization { at: now() };
                departure(&req.organization_id, Departure::Left(left))
            })
            .await
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let id = org_id(&req.organization_id)?;
                let state = self
                    .0
                    .app
                    .authorized_org(&cx.caller, id, Action::ReadMembers)
                    .await?;
                let org = created(&state)?;
                let your_role = cx.caller.user().and_then(|u| state.role_of(u));
                Ok(pb::GetOrganizationResponse {
                    organization_id: org.id.to_string(),
                    account_id: org.account_id.to_string(),
                    name: org.name.to_string(),
                    details: org.details.as_ref().map(ToString::to_string),
                    member_count: org.member_count(),
                    member_limit: org.member_limit,
                    your_role: your_role.map_or(pb::Role::Unspecified, role_pb).into(),
                    version: ledger_codec::stored_version(state.version),
                })
            }
            .await,
        )
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let (offset, size) = input::page(req.page_size, &req.page_token)?;
                let id = org_id(&req.organization_id)?;
                let state = self
                    .0
                    .app
                    .authorized_org(&cx.caller, id, Action::ReadMembers)
                    .await?;
                let org = created(&state)?;
                let members = org
                    .members
                    .iter()
                    .skip(offset)
                    .take(size)
                    .map(|(user, role)| pb::Member {
                        user_id: user.to_string(),
                        role: role_pb(*role).into(),
                    })
                    .collect();
                Ok(pb::ListMembersResponse {
                    members,
                    next_page_token: input::next_token(offset, size, org.members.len()),
                })
            }
            .await,
        )
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let budget = super::projected::wait_budget(request.metadata());
        let req = request.into_inner();
        answer(super::directory::invitations(&self.0.app, &cx.caller, &req, budget).await)
    }
}
