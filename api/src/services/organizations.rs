//! `OrganizationsService`: creation, profile, invitations, members and roles.

use std::sync::Arc;

use ledger_domain::account::AccountState;
use ledger_domain::organization::{
    AcceptInvitation, CreateOrganization, LeaveOrganization, OrganizationCommand, RemoveMember,
    accept_invitation, create, leave, remove_member,
};
use ledger_domain::text::{OrganizationDetails, OrganizationName};
use ledger_domain::user::UserState;
use ledger_domain::{
    AccountId, Action, AuthContext, DomainError, Email, InvitationId, OrganizationId, Role, UserId,
    authorize,
};
use tonic::{Request, Response, Status};

use super::command_response;
use super::reads::{allow, organization_context};
use super::{Shared, answer, command_id, now};
use crate::app::{Decided, RetryCheck};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::personal;

/// The organizations service.
pub struct Organizations(pub Shared);

fn org_id(text: &str) -> Result<OrganizationId, AppError> {
    input::id("organization_id", text, OrganizationId::from_uuid)
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
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let cmd = CreateOrganization {
                    organization_id: org_id(&req.organization_id)?,
                    account_id: AccountId::from_uuid(input::uuid_or_derived(
                        "account_id",
                        &req.account_id,
                        command_id,
                    )?),
                    name: OrganizationName::parse(&req.name).at("name")?,
                    details: details(req.details.as_ref())?,
                    at: now(),
                };
                let (cmd, cx) = (&cmd, &cx);
                let reply = serde_json::json!({ "account_id": cmd.account_id });
                let reply = &reply;
                let done = app
                    .execute(
                        cx,
                        "CreateOrganization",
                        &req,
                        command_id,
                        &[],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let state = app.organization(cmd.organization_id).await?;
                                let creator = match cx.caller.user() {
                                    Some(user) => app.user(user).await?,
                                    None => Arc::new(UserState::default()),
                                };
                                Ok(Decided {
                                    decision: create(&state, &creator, &cx.caller, cmd)?,
                                    reply: reply.clone(),
                                })
                            })
                        },
                    )
                    .await?;
                Ok(pb::CreateOrganizationResponse {
                    position: done.position,
                    account_id: done.reply["account_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
            .await,
        )
    }

    async fn rename_organization(
        &self,
        request: Request<pb::RenameOrganizationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let command = OrganizationCommand::Rename {
                    name: OrganizationName::parse(&req.name).at("name")?,
                    at: now(),
                };
                let done = self
                    .0
                    .app
                    .organization_command(&cx, "RenameOrganization", &req, command_id, org, command)
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }

    async fn update_organization_details(
        &self,
        request: Request<pb::UpdateOrganizationDetailsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let command = OrganizationCommand::UpdateDetails {
                    details: details(req.details.as_ref())?,
                    at: now(),
                };
                let done = self
                    .0
                    .app
                    .organization_command(
                        &cx,
                        "UpdateOrganizationDetails",
                        &req,
                        command_id,
                        org,
                        command,
                    )
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }

    async fn invite_member(
        &self,
        request: Request<pb::InviteMemberRequest>,
    ) -> Result<Response<pb::InviteMemberResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let invitation_id =
                    input::id("invitation_id", &req.invitation_id, InvitationId::from_uuid)?;
                let email = Email::parse(&req.email).at("email")?;
                let command = OrganizationCommand::InviteMember {
                    invitation_id,
                    email: email.clone(),
                    role: input::role("role", req.role)?,
                    expires_in_s: req.expires_in_s,
                    at: now(),
                };
                let (command, email, cx) = (&command, &email, &cx);
                let done = app
                    .execute(
                        cx,
                        "InviteMember",
                        &req,
                        command_id,
                        &[org.stream()],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let state = app.organization(org).await?;
                                let decision = ledger_domain::organization::decide(
                                    &state, &cx.caller, command,
                                )?;
                                let expires_at = decision.events().find_map(|e| {
                                    match e {
                                ledger_domain::Event::Organization(
                                    ledger_domain::organization::OrganizationEvent::MemberInvited(
                                        i,
                                    ),
                                ) => Some(i.expires_at),
                                _ => None,
                            }
                                });
                                personal::store_invitation(&app.pool, org, invitation_id, email)
                                    .await?;
                                Ok(Decided {
                                    decision,
                                    reply: serde_json::json!({ "expires_at": expires_at }),
                                })
                            })
                        },
                    )
                    .await?;
                let expires_at = serde_json::from_value::<chrono::DateTime<chrono::Utc>>(
                    done.reply["expires_at"].clone(),
                )
                .ok()
                .map(input::timestamp);
                Ok(pb::InviteMemberResponse {
                    position: done.position,
                    expires_at,
                })
            }
            .await,
        )
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let command = OrganizationCommand::RevokeInvitation {
                    invitation_id: input::id(
                        "invitation_id",
                        &req.invitation_id,
                        InvitationId::from_uuid,
                    )?,
                    at: now(),
                };
                let done = self
                    .0
                    .app
                    .organization_command(&cx, "RevokeInvitation", &req, command_id, org, command)
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let invitation_id =
                    input::id("invitation_id", &req.invitation_id, InvitationId::from_uuid)?;
                let at = now();
                let cx = &cx;
                let done = app
                    .execute(
                        cx,
                        "AcceptInvitation",
                        &req,
                        command_id,
                        &[org.stream()],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let Some(user_id) = cx.caller.user() else {
                                    authorize(
                                        &cx.caller,
                                        Action::AcceptInvitation,
                                        &AuthContext::GLOBAL,
                                    )
                                    .map_err(DomainError::from)?;
                                    return Err(AppError::Internal(
                                        "policy let a non-user accept".into(),
                                    ));
                                };
                                let state = app.organization(org).await?;
                                let user = app.user(user_id).await?;
                                let invitation_email =
                                    personal::invitation_email(&app.pool, org, invitation_id)
                                        .await?
                                        .ok_or(DomainError::InvitationNotFound(invitation_id))?;
                                let user_verified_email =
                                    personal::verified_email(&app.pool, user_id)
                                        .await?
                                        .ok_or(DomainError::EmailNotVerified)?;
                                let cmd = AcceptInvitation {
                                    invitation_id,
                                    invitation_email,
                                    user_verified_email,
                                    at,
                                };
                                Ok(Decided::new(accept_invitation(
                                    &state, &user, &cx.caller, &cmd,
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

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let cmd = RemoveMember {
                    user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                    at: now(),
                };
                let (cmd, cx) = (&cmd, &cx);
                let done = app
                    .execute(
                        cx,
                        "RemoveMember",
                        &req,
                        command_id,
                        &[org.stream()],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let state = app.organization(org).await?;
                                let account = org_account(app, &state).await?;
                                Ok(Decided::new(remove_member(
                                    &state, &account, &cx.caller, cmd,
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

    async fn change_member_role(
        &self,
        request: Request<pb::ChangeMemberRoleRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let command = OrganizationCommand::ChangeRole {
                    user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                    role: input::role("role", req.role)?,
                    at: now(),
                };
                let done = self
                    .0
                    .app
                    .organization_command(&cx, "ChangeMemberRole", &req, command_id, org, command)
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }

    async fn leave_organization(
        &self,
        request: Request<pb::LeaveOrganizationRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let org = org_id(&req.organization_id)?;
                let cmd = LeaveOrganization { at: now() };
                let (cmd, cx) = (&cmd, &cx);
                let done = app
                    .execute(
                        cx,
                        "LeaveOrganization",
                        &req,
                        command_id,
                        &[org.stream()],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let state = app.organization(org).await?;
                                let account = org_account(app, &state).await?;
                                Ok(Decided::new(leave(&state, &account, &cx.caller, cmd)?))
                            })
                        },
                    )
                    .await?;
                Ok(command_response(done))
            }
            .await,
        )
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let state = self
                    .0
                    .app
                    .organization(org_id(&req.organization_id)?)
                    .await?;
                allow(
                    &cx.caller,
                    Action::ReadMembers,
                    &organization_context(&state, &cx.caller)?,
                )?;
                let org = state
                    .organization
                    .as_ref()
                    .ok_or(DomainError::OrganizationNotFound)?;
                let your_role = cx.caller.user().and_then(|u| state.role_of(u));
                Ok(pb::GetOrganizationResponse {
                    organization_id: org.id.to_string(),
                    account_id: org.account_id.to_string(),
                    name: org.name.to_string(),
                    details: org.details.as_ref().map(ToString::to_string),
                    member_count: org.member_count(),
                    member_limit: org.member_limit,
                    your_role: your_role.map_or(pb::Role::Unspecified, role_pb).into(),
                    version: i64::try_from(state.version).unwrap_or(i64::MAX),
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
                let state = self
                    .0
                    .app
                    .organization(org_id(&req.organization_id)?)
                    .await?;
                allow(
                    &cx.caller,
                    Action::ReadMembers,
                    &organization_context(&state, &cx.caller)?,
                )?;
                let org = state
                    .organization
                    .as_ref()
                    .ok_or(DomainError::OrganizationNotFound)?;
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

/// The account of an organization (empty when the organization does not exist: the decide
/// function then refuses with `OrganizationNotFound` before looking at it).
async fn org_account(
    app: &crate::app::App,
    state: &ledger_domain::organization::OrganizationState,
) -> Result<Arc<AccountState>, AppError> {
    match state.organization.as_ref() {
        Some(org) => Ok(Arc::new(app.account(org.account_id).await?.state.clone())),
        None => Ok(Arc::new(AccountState::default())),
    }
}
