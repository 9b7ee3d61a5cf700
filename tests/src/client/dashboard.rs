//! The dashboard acting for one user: organizations, invitations, members, settings and the
//! user's own reads. Its credits and keys are in `credits.rs` and `keys.rs`.

use ledger_api::pb;

use super::call::Call;
use super::ids::{Invitation, InvitationId, Org, OrgId, User, id};

role! {
    /// The dashboard acting as one user (`x-actor-id`); what it may do is the server's call.
    Dashboard reading
}

impl Dashboard {
    /// Creates an organization named `name`, without details.
    pub fn create_organization(&self, name: &str) -> Call<Org> {
        self.create_organization_request(name, None)
    }

    /// Creates an organization named `name` with `details`.
    pub fn create_organization_with_details(&self, name: &str, details: &str) -> Call<Org> {
        self.create_organization_request(name, Some(details.into()))
    }

    fn create_organization_request(&self, name: &str, details: Option<String>) -> Call<Org> {
        let org = OrgId::fresh();
        self.rpc
            .create_organization(pb::CreateOrganizationRequest {
                command_id: id(),
                organization_id: org.to_string(),
                account_id: String::new(),
                name: name.into(),
                details,
            })
            .map(|created| Org {
                id: org,
                account: created.account_id.into(),
            })
    }

    /// Renames `org`.
    pub fn rename_organization(&self, org: &Org, name: &str) -> Call<pb::CommandResponse> {
        self.rpc.rename_organization(pb::RenameOrganizationRequest {
            command_id: id(),
            organization_id: org.id.to_string(),
            name: name.into(),
        })
    }

    /// Sets or clears `org`'s details.
    pub fn update_organization_details(
        &self,
        org: &Org,
        details: Option<&str>,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .update_organization_details(pb::UpdateOrganizationDetailsRequest {
                command_id: id(),
                organization_id: org.id.to_string(),
                details: details.map(str::to_owned),
            })
    }

    /// `org`'s profile.
    pub fn get_organization(&self, org: &Org) -> Call<pb::GetOrganizationResponse> {
        self.rpc.get_organization(pb::GetOrganizationRequest {
            organization_id: org.id.to_string(),
            min_position: self.min_position,
        })
    }

    /// The first page of `org`'s members.
    pub fn list_members(&self, org: &Org) -> Call<pb::ListMembersResponse> {
        self.rpc.list_members(pb::ListMembersRequest {
            organization_id: org.id.to_string(),
            min_position: self.min_position,
            ..Default::default()
        })
    }

    /// The first page of `org`'s pending invitations.
    pub fn list_invitations(&self, org: &Org) -> Call<pb::ListInvitationsResponse> {
        self.rpc.list_invitations(pb::ListInvitationsRequest {
            organization_id: org.id.to_string(),
            min_position: self.min_position,
            ..Default::default()
        })
    }

    /// Invites `email` to `org` with `role`, for the server's default time.
    pub fn invite(&self, org: &Org, email: &str, role: pb::Role) -> Call<Invitation> {
        self.invite_request(org, email, role, None)
    }

    /// Invites `email` to `org` with `role`, for `expires_in_s` seconds.
    pub fn invite_expiring_in(
        &self,
        org: &Org,
        email: &str,
        role: pb::Role,
        expires_in_s: u32,
    ) -> Call<Invitation> {
        self.invite_request(org, email, role, Some(expires_in_s))
    }

    fn invite_request(
        &self,
        org: &Org,
        email: &str,
        role: pb::Role,
        expires_in_s: Option<u32>,
    ) -> Call<Invitation> {
        let (invitation, org) = (InvitationId::fresh(), org.id.clone());
        self.rpc
            .invite_member(pb::InviteMemberRequest {
                command_id: id(),
                organization_id: org.to_string(),
                invitation_id: invitation.to_string(),
                email: email.into(),
                role: role.into(),
                expires_in_s,
            })
            .map(|invited| Invitation {
                id: invitation,
                org,
                position: invited.position,
            })
    }

    /// Accepts `invitation` (addressed to this user).
    pub fn accept(&self, invitation: &Invitation) -> Call<pb::CommandResponse> {
        self.rpc.accept_invitation(pb::AcceptInvitationRequest {
            command_id: id(),
            organization_id: invitation.org.to_string(),
            invitation_id: invitation.id.to_string(),
        })
    }

    /// Revokes `invitation`.
    pub fn revoke(&self, invitation: &Invitation) -> Call<pb::CommandResponse> {
        self.rpc.revoke_invitation(pb::RevokeInvitationRequest {
            command_id: id(),
            organization_id: invitation.org.to_string(),
            invitation_id: invitation.id.to_string(),
        })
    }

    /// Removes `member` from `org`.
    pub fn remove_member(&self, org: &Org, member: &User) -> Call<pb::CommandResponse> {
        self.rpc.remove_member(pb::RemoveMemberRequest {
            command_id: id(),
            organization_id: org.id.to_string(),
            user_id: member.id.to_string(),
        })
    }

    /// Gives `member` the role `role` in `org`.
    pub fn change_role(
        &self,
        org: &Org,
        member: &User,
        role: pb::Role,
    ) -> Call<pb::CommandResponse> {
        self.rpc.change_member_role(pb::ChangeMemberRoleRequest {
            command_id: id(),
            organization_id: org.id.to_string(),
            user_id: member.id.to_string(),
            role: role.into(),
        })
    }

    /// Leaves `org`.
    pub fn leave(&self, org: &Org) -> Call<pb::CommandResponse> {
        self.rpc.leave_organization(pb::LeaveOrganizationRequest {
            command_id: id(),
            organization_id: org.id.to_string(),
        })
    }

    /// Sets `org`'s billing settings.
    pub fn set_billing(
        &self,
        org: &Org,
        settings: pb::BillingSettings,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .set_billing_settings(pb::SetBillingSettingsRequest {
                command_id: id(),
                organization_id: org.id.to_string(),
                settings: Some(settings),
            })
    }

    /// `org`'s billing settings.
    pub fn billing(&self, org: &Org) -> Call<pb::BillingSettings> {
        self.rpc
            .get_billing_settings(pb::GetBillingSettingsRequest {
                organization_id: org.id.to_string(),
                min_position: self.min_position,
            })
    }

    /// Sets `org`'s privacy settings.
    pub fn set_privacy(
        &self,
        org: &Org,
        retention_days: u32,
        prompt_logging: bool,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .set_privacy_settings(pb::SetPrivacySettingsRequest {
                command_id: id(),
                organization_id: org.id.to_string(),
                retention_days,
                prompt_logging,
            })
    }

    /// `org`'s privacy settings.
    pub fn privacy(&self, org: &Org) -> Call<pb::PrivacySettings> {
        self.rpc
            .get_privacy_settings(privacy_request(org, self.min_position))
    }

    /// `user`'s account (the switcher's header).
    pub fn user_account(&self, user: &User) -> Call<pb::GetUserAccountResponse> {
        self.rpc.get_user_account(pb::GetUserAccountRequest {
            user_id: user.id.to_string(),
            min_position: self.min_position,
        })
    }

    /// The first page of `user`'s organizations (the account switcher).
    pub fn user_organizations(&self, user: &User) -> Call<pb::ListUserOrganizationsResponse> {
        self.rpc
            .list_user_organizations(pb::ListUserOrganizationsRequest {
                user_id: user.id.to_string(),
                min_position: self.min_position,
                ..Default::default()
            })
    }
}

/// A read of `org`'s privacy settings, which the gateway makes too.
pub(super) fn privacy_request(org: &Org, min_position: i64) -> pb::GetPrivacySettingsRequest {
    pb::GetPrivacySettingsRequest {
        organization_id: org.id.to_string(),
        min_position,
    }
}
