//! Events of the organization stream. Ids only: invited emails, billing contacts and
//! invoicing details stay in the erasable table.

use crate::decision::UniqueClaim;
use crate::ids::{AccountId, InvitationId, OrganizationId, StaffId, UserId};
use crate::role::Role;
use crate::text::{OrganizationDetails, OrganizationName, PaymentMethodReference};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `organization.created` v1: the creator becomes the first admin; the account opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationCreated {
    /// The organization.
    pub organization_id: OrganizationId,
    /// Its account.
    pub account_id: AccountId,
    /// The creator, first admin.
    pub created_by: UserId,
    /// Its name.
    pub name: OrganizationName,
    /// Its details.
    pub details: Option<OrganizationDetails>,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.renamed` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRenamed {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The new name.
    pub name: OrganizationName,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.details_updated` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationDetailsUpdated {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The new details (`null`: cleared).
    pub details: Option<OrganizationDetails>,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.member_invited` v1 (the email is stored outside the log, by invitation id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInvited {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The role it grants.
    pub role: Role,
    /// The admin.
    pub invited_by: UserId,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.invitation_accepted` v1: the user joins with the invitation's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationAccepted {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The new member.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.invitation_revoked` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRevoked {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.member_removed` v1 (their keys are disabled in the account stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRemoved {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The removed member.
    pub user_id: UserId,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.member_role_changed` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRoleChanged {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The member.
    pub user_id: UserId,
    /// The new role.
    pub role: Role,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.member_left` v1 (their keys are disabled in the account stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLeft {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The member who left.
    pub user_id: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.member_limit_set` v1 (support).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLimitSet {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The new limit.
    pub member_limit: u32,
    /// The staff member.
    pub staff_id: StaffId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.privacy_settings_set` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettingsSet {
    /// The organization.
    pub organization_id: OrganizationId,
    /// Days the activity feed keeps rows.
    pub retention_days: u32,
    /// Prompt-logging opt-in.
    pub prompt_logging: bool,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organization.billing_settings_set` v1: non-personal fields only. Contacts and invoicing
/// details are stored by the app in the erasable table under `billing_profile_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingSettingsSet {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The billing profile version this change created.
    pub billing_profile_version: u32,
    /// The payment provider's payment-method reference (never card data).
    pub payment_method_reference: Option<PaymentMethodReference>,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

crate::event::event_enum! {
    /// Events of the organization stream.
    OrganizationEvent {
        /// See [`OrganizationCreated`].
        Created(OrganizationCreated) = "organization.created" v 1,
        /// See [`OrganizationRenamed`].
        Renamed(OrganizationRenamed) = "organization.renamed" v 1,
        /// See [`OrganizationDetailsUpdated`].
        DetailsUpdated(OrganizationDetailsUpdated) = "organization.details_updated" v 1,
        /// See [`MemberInvited`].
        MemberInvited(MemberInvited) = "organization.member_invited" v 1,
        /// See [`InvitationAccepted`].
        InvitationAccepted(InvitationAccepted) = "organization.invitation_accepted" v 1,
        /// See [`InvitationRevoked`].
        InvitationRevoked(InvitationRevoked) = "organization.invitation_revoked" v 1,
        /// See [`MemberRemoved`].
        MemberRemoved(MemberRemoved) = "organization.member_removed" v 1,
        /// See [`MemberRoleChanged`].
        MemberRoleChanged(MemberRoleChanged) = "organization.member_role_changed" v 1,
        /// See [`MemberLeft`].
        MemberLeft(MemberLeft) = "organization.member_left" v 1,
        /// See [`MemberLimitSet`].
        MemberLimitSet(MemberLimitSet) = "organization.member_limit_set" v 1,
        /// See [`PrivacySettingsSet`].
        PrivacySettingsSet(PrivacySettingsSet) = "organization.privacy_settings_set" v 1,
        /// See [`BillingSettingsSet`].
        BillingSettingsSet(BillingSettingsSet) = "organization.billing_settings_set" v 1,
    }
}

impl OrganizationEvent {
    /// The facts the event records once only: an invitation id per organization, never
    /// reused even after the state forgot the invitation.
    pub fn unique_claims(&self) -> Vec<UniqueClaim> {
        match self {
            Self::MemberInvited(e) => vec![UniqueClaim::Invitation {
                organization_id: e.organization_id,
                invitation_id: e.invitation_id,
            }],
            _ => Vec::new(),
        }
    }

    /// The organization the event belongs to.
    pub fn organization_id(&self) -> OrganizationId {
        match self {
            Self::Created(e) => e.organization_id,
            Self::Renamed(e) => e.organization_id,
            Self::DetailsUpdated(e) => e.organization_id,
            Self::MemberInvited(e) => e.organization_id,
            Self::InvitationAccepted(e) => e.organization_id,
            Self::InvitationRevoked(e) => e.organization_id,
            Self::MemberRemoved(e) => e.organization_id,
            Self::MemberRoleChanged(e) => e.organization_id,
            Self::MemberLeft(e) => e.organization_id,
            Self::MemberLimitSet(e) => e.organization_id,
            Self::PrivacySettingsSet(e) => e.organization_id,
            Self::BillingSettingsSet(e) => e.organization_id,
        }
    }
}
