//! The organization aggregate (stream `org-{uuid}`): profile, members and roles,
//! invitations, member limit, privacy and billing settings.

mod command;
mod decide;
mod event;
mod evolve;
mod membership;

pub use command::{
    AcceptInvitation, BillingSettingsInput, CreateOrganization, LeaveOrganization,
    OrganizationCommand, RemoveMember,
};
pub use decide::{auth_context, decide};
pub use event::{
    BillingSettingsSet, InvitationAccepted, InvitationRevoked, MemberInvited, MemberLeft,
    MemberLimitSet, MemberRemoved, MemberRoleChanged, OrganizationCreated,
    OrganizationDetailsUpdated, OrganizationEvent, OrganizationRenamed, PrivacySettingsSet,
};
pub use membership::{accept_invitation, create, leave, remove_member};

use crate::error::DomainError;
use crate::ids::{AccountId, InvitationId, OrganizationId, UserId};
use crate::role::Role;
use crate::text::{OrganizationDetails, OrganizationName, PaymentMethodReference};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Members an organization may have unless support raises it.
pub const DEFAULT_MEMBER_LIMIT: u32 = 10;
/// Largest member limit support may set.
pub const MAX_MEMBER_LIMIT: u32 = 10_000;
/// Most pending invitations (expired ones are pruned when a new one is sent).
pub const MAX_PENDING_INVITATIONS: usize = 1_000;
/// Default invitation lifetime: 7 days.
pub const DEFAULT_INVITATION_TTL_S: u32 = 7 * 86_400;
/// Shortest invitation lifetime: 1 hour.
pub const MIN_INVITATION_TTL_S: u32 = 3_600;
/// Longest invitation lifetime: 30 days.
pub const MAX_INVITATION_TTL_S: u32 = 30 * 86_400;
/// Default activity retention.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Longest activity retention: 10 years.
pub const MAX_RETENTION_DAYS: u32 = 3_650;
/// Most billing contacts.
pub const MAX_BILLING_CONTACTS: usize = 10;

/// A pending invitation (keyed by id; the invited email is in the erasable table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    /// The role it grants.
    pub role: Role,
    /// When it stops being acceptable.
    pub expires_at: DateTime<Utc>,
}

/// Privacy settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// Days the activity feed keeps rows.
    pub retention_days: u32,
    /// Whether prompts may be logged (read by the gateway).
    pub prompt_logging: bool,
}

/// The non-personal part of billing settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingSettings {
    /// Version of the billing profile (contacts, invoicing) in the erasable table; 0 = none.
    pub profile_version: u32,
    /// The payment provider's payment-method reference.
    pub payment_method_reference: Option<PaymentMethodReference>,
}

/// A created organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The organization.
    pub id: OrganizationId,
    /// Its account (the shared credit pool).
    pub account_id: AccountId,
    /// Its name.
    pub name: OrganizationName,
    /// Its details.
    pub details: Option<OrganizationDetails>,
    /// Members and their roles; never without an admin.
    pub members: BTreeMap<UserId, Role>,
    /// Pending invitations.
    pub invitations: BTreeMap<InvitationId, PendingInvitation>,
    /// Most members allowed.
    pub member_limit: u32,
    /// Privacy settings.
    pub privacy: PrivacySettings,
    /// Billing settings.
    pub billing: BillingSettings,
}

impl Organization {
    /// Number of admins.
    pub fn admin_count(&self) -> usize {
        self.members.values().filter(|r| **r == Role::Admin).count()
    }

    /// Number of members (admins included).
    pub fn member_count(&self) -> u32 {
        u32::try_from(self.members.len()).unwrap_or(u32::MAX)
    }
}

/// The state of an organization stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationState {
    /// Events folded so far.
    pub version: u64,
    /// `None` until created.
    pub organization: Option<Organization>,
}

impl OrganizationState {
    /// The role of `user`, `None` if not a member (or no organization).
    pub fn role_of(&self, user: UserId) -> Option<Role> {
        self.organization
            .as_ref()
            .and_then(|o| o.members.get(&user).copied())
    }

    /// The organization, if it is `organization_id` and owns `account_id`: a decision about
    /// an organization account needs the state of its owner, not another.
    pub(crate) fn owner_of(
        &self,
        organization_id: OrganizationId,
        account_id: AccountId,
    ) -> Result<&Organization, DomainError> {
        self.organization
            .as_ref()
            .filter(|o| o.id == organization_id && o.account_id == account_id)
            .ok_or(DomainError::OrganizationStateRequired)
    }
}
