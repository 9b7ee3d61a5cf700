//! `OrganizationsService`: creation, profile, invitations, members and roles.

use ledger_domain::organization::{self, OrganizationCommand};
use ledger_domain::text::{OrganizationDetails, OrganizationName};
use ledger_domain::{AccountId, Action, CommandId, Email, InvitationId, Role};
use tonic::{Request, Response, Status};

use super::directory::invitations;
use super::{Query, Shared, now};
use crate::app::Done;
use crate::app::authorized::created;
use crate::commands::{
    AcceptInvitation, ChangeMembership, CreateOrganization, Departure, Invitee, MemberInvited,
    OnOrganization, OrganizationCreated,
};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::personal;
use ledger_projections::Projection;
use ledger_projections::models::directory::queries::joined_at;

/// The organizations service.
pub struct Organizations(pub Shared);

fn invitation_id(text: &str) -> Result<InvitationId, AppError> {
    input::id("invitation_id", text, InvitationId::from_uuid)
}

/// A member going from the organization of `id`.
fn departure(id: &str, departure: Departure) -> Result<ChangeMembership, AppError> {
    Ok(ChangeMembership {
        organization: input::organization_id(id)?,
        departure,
    })
}

fn details(text: Option<&String>) -> Result<Option<OrganizationDetails>, AppError> {
    input::optional_text(
        "details",
        text.map(String::as_str),
        OrganizationDetails::parse,
    )
}

/// The proto role of a domain role.
pub fn role_pb(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::Member => pb::Role::Member,
    }
}

fn create(
    req: &pb::CreateOrganizationRequest,
    command_id: CommandId,
) -> Result<CreateOrganization, AppError> {
    Ok(CreateOrganization(organization::CreateOrganization {
        organization_id: input::organization_id(&req.organization_id)?,
        account_id: AccountId::from_uuid(input::uuid_or_derived(
            "account_id",
            &req.account_id,
            command_id.as_uuid(),
        )?),
        name: OrganizationName::parse(&req.name).at("name")?,
        details: details(req.details.as_ref())?,
        at: now(),
    }))
}

impl From<Done<OrganizationCreated>> for pb::CreateOrganizationResponse {
    fn from(done: Done<OrganizationCreated>) -> Self {
        Self {
            position: done.position,
            account_id: done.reply.account_id.to_string(),
        }
    }
}

fn rename(req: &pb::RenameOrganizationRequest) -> Result<OrganizationCommand, AppError> {
    Ok(OrganizationCommand::Rename {
        name: OrganizationName::parse(&req.name).at("name")?,
        at: now(),
    })
}

fn update_details(
    req: &pb::UpdateOrganizationDetailsRequest,
) -> Result<OrganizationCommand, AppError> {
    Ok(OrganizationCommand::UpdateDetails {
        details: details(req.details.as_ref())?,
        at: now(),
    })
}

fn invite(
    req: &pb::InviteMemberRequest,
    _: CommandId,
) -> Result<OnOrganization<Invitee>, AppError> {
    let organization = input::organization_id(&req.organization_id)?;
    let invitation_id = invitation_id(&req.invitation_id)?;
    let email = Email::parse(&req.email).at("email")?;
    let command = OrganizationCommand::InviteMember {
        invitation_id,
        email: email.clone(),
        role: input::role("role", req.role)?,
        expires_in_s: req.expires_in_s,
        at: now(),
    };
    let outside_log = Invitee {
        invitation_id,
        email,
    };
    Ok(OnOrganization {
        organization,
        command,
        outside_log,
    })
}

impl From<Done<MemberInvited>> for pb::InviteMemberResponse {
    fn from(done: Done<MemberInvited>) -> Self {
        Self {
            position: done.position,
            expires_at: done.reply.expires_at.map(input::timestamp),
        }
    }
}

fn revoke(req: &pb::RevokeInvitationRequest) -> Result<OrganizationCommand, AppError> {
    let invitation_id = invitation_id(&req.invitation_id)?;
    Ok(OrganizationCommand::RevokeInvitation {
        invitation_id,
        at: now(),
    })
}

fn accept(req: &pb::AcceptInvitationRequest, _: CommandId) -> Result<AcceptInvitation, AppError> {
    Ok(AcceptInvitation {
        organization: input::organization_id(&req.organization_id)?,
        invitation_id: invitation_id(&req.invitation_id)?,
        at: now(),
    })
}

fn remove(req: &pb::RemoveMemberRequest, _: CommandId) -> Result<ChangeMembership, AppError> {
    let removed = organization::RemoveMember {
        user_id: input::user_id(&req.user_id)?,
        at: now(),
    };
    departure(&req.organization_id, Departure::Removed(removed))
}

fn change_role(req: &pb::ChangeMemberRoleRequest) -> Result<OrganizationCommand, AppError> {
    Ok(OrganizationCommand::ChangeRole {
        user_id: input::user_id(&req.user_id)?,
        role: input::role("role", req.role)?,
        at: now(),
    })
}

fn leave(req: &pb::LeaveOrganizationRequest, _: CommandId) -> Result<ChangeMembership, AppError> {
    let left = organization::LeaveOrganization { at: now() };
    departure(&req.organization_id, Departure::Left(left))
}

async fn get_organization(
    q: Query<pb::GetOrganizationRequest>,
) -> Result<pb::GetOrganizationResponse, AppError> {
    let state = q.organization(Action::ReadMembers).await?;
    let org = created(&state)?;
    let your_role = q.cx.caller.user().and_then(|u| state.role_of(u));
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

/// `ListMembers`: members and roles from the log, each with their address from the erasable
/// table (empty once erased, and for staff callers) and the time they joined from the directory (once it has reached
/// `min_position`).
async fn list_members(
    q: Query<pb::ListMembersRequest>,
) -> Result<pb::ListMembersResponse, AppError> {
    let page = input::page(q.req.page_size, &q.req.page_token)?;
    let state = q.organization(Action::ReadMembers).await?;
    let org = created(&state)?;
    let (members, next_page_token) = input::page_of(org.members.iter(), page, |m| m);
    let users: Vec<uuid::Uuid> = members.iter().map(|(user, _)| user.as_uuid()).collect();
    // Addresses go to dashboard callers only (the organization's own members), as
    // `ListInvitations` and the exports show them: support and auditors see ids.
    let emails = match q.cx.caller.user() {
        Some(_) => personal::emails(&q.app.log, &users).await?,
        None => Default::default(),
    };
    q.caught_up(Projection::Directory, q.req.min_position)
        .await?;
    let joined = joined_at(q.app.read_models.pool(), org.id.as_uuid(), &users).await?;
    let members = members
        .into_iter()
        .map(|(user, role)| pb::Member {
            user_id: user.to_string(),
            role: role_pb(*role).into(),
            email: emails.get(&user.as_uuid()).cloned().unwrap_or_default(),
            joined_at: joined.get(&user.as_uuid()).copied().map(input::timestamp),
        })
        .collect();
    Ok(pb::ListMembersResponse {
        members,
        next_page_token,
    })
}

#[tonic::async_trait]
impl pb::organizations_service_server::OrganizationsService for Organizations {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        self.0.command(request, create).await
    }

    async fn rename_organization(
        &self,
        request: Request<pb::RenameOrganizationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.organization_command(request, rename).await
    }

    async fn update_organization_details(
        &self,
        request: Request<pb::UpdateOrganizationDetailsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.organization_command(request, update_details).await
    }

    async fn invite_member(
        &self,
        request: Request<pb::InviteMemberRequest>,
    ) -> Result<Response<pb::InviteMemberResponse>, Status> {
        self.0.command(request, invite).await
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.organization_command(request, revoke).await
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, accept).await
    }

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, remove).await
    }

    async fn change_member_role(
        &self,
        request: Request<pb::ChangeMemberRoleRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.organization_command(request, change_role).await
    }

    async fn leave_organization(
        &self,
        request: Request<pb::LeaveOrganizationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, leave).await
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        self.0.query(request, get_organization).await
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        self.0.query(request, list_members).await
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        self.0.query(request, invitations).await
    }
}
